#!/usr/bin/env -S /usr/bin/python3
"""Write the training fixtures (backward passes, R1, path length, one full
training step) into tests/fixtures/; the tensor names are documented in
tools/reference/README.md.

    /usr/bin/python3 tools/reference/make_train_fixtures.py [--out tests/fixtures]

Files (float32 safetensors; integers stored as float32):
  train_ops.safetensors   per-op forward + backward, "<case>.<role>"
  train_d.safetensors     D logits and gradients wrt the image and every parameter
  train_r1.safetensors    R1 penalty, its input gradient and parameter gradients
  train_pl.safetensors    path-length penalty (with its random draws) and G parameter gradients
  train_step.safetensors  one training step with Gmain, Greg, Dmain, Dreg all due

Every random value a training computation used is stored ("draw.<name>"), so
the C side replays the step without reproducing torch's RNG. The draws were
made by torch's global RNG seeded with __metadata__["draw_seed"], which lets
check_train_against_ada.py --fixtures replay them through the reference.
Single-threaded torch, everything seeded: reruns give identical bytes.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402
import stylegan2  # noqa: E402
import train  # noqa: E402

# Small networks: 16 px, 3 blocks in G (4, 8, 16), 2 D blocks + epilogue.
G_CFG = dict(arch="stylegan2", z_dim=32, w_dim=32, c_dim=0, img_resolution=16, img_channels=3, mapping_layers=2,
             channel_base=128, channel_max=16, conv_clamp=256)


def d_cfg(g, **kw):
    return stylegan2.d_config_for(g, **kw)


def arr(t):
    return np.array(torch.as_tensor(t).detach().to(torch.float32).numpy(), order="C")  # keeps 0-d scalars 0-d


def random_state(module, seed, **kw):
    gen = torch.Generator().manual_seed(seed)
    module.load_arrays(stylegan2.random_test_state([(k, tuple(v.shape)) for k, v in module.state_dict().items()],
                                                   gen, **kw))
    return module


def put_state(out, prefix, module):
    for k, v in module.state_dict().items():
        out[prefix + k] = arr(v)


def param_grads(out, prefix, module):
    for k, p in module.named_parameters():
        out[prefix + k] = arr(p.grad if p.grad is not None else torch.zeros_like(p))


def count_clamped(module, clamp_of):
    """Forward hook counting outputs at +-clamp, per layer; returns (hooks, counts)."""
    counts, hooks = {}, []
    for name, m in module.named_modules():
        c = clamp_of(m)
        if c is not None:
            def hook(m, inp, y, name=name, c=c):
                counts[name] = counts.get(name, 0) + int((y.detach().abs() >= c * (1 - 1e-6)).sum())
            hooks.append(m.register_forward_hook(hook))
    return hooks, counts


# ---------------------------------------------------------------------------
# (d) per-op backward

def op_case(out, meta, case, desc, fn, inputs, const=None, seed=0):
    """y = fn(**inputs, **const); dy ~ N(0,1); grads of sum(y*dy) wrt every input."""
    const = const or {}
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**leaves, **const)
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed + 1000))
    grads = torch.autograd.grad([(y * dy).sum()], list(leaves.values()))
    for k, v in list(inputs.items()) + list(const.items()):
        out["%s.%s" % (case, k)] = arr(v)
    out[case + ".y"] = arr(y)
    out[case + ".dy"] = arr(dy)
    for k, g in zip(leaves, grads):
        out["%s.grad.%s" % (case, k)] = arr(g)
    meta[case] = desc


def make_ops(path):
    gen = torch.Generator().manual_seed(4321)
    r = lambda *s: torch.randn(list(s), generator=gen)  # noqa: E731
    f4 = stylegan2.setup_filter()
    out, meta = {}, {}

    def fc(x, weight, bias, lr_mul, activation):
        layer = stylegan2.FullyConnected(weight.shape[1], weight.shape[0], activation=activation,
                                         lr_mul=float(lr_mul))
        w = weight * layer.weight_gain
        b = bias * float(lr_mul)
        return torch.addmm(b.unsqueeze(0), x, w.t()) if activation == "linear" else \
            stylegan2.bias_act(x.matmul(w.t()), b, act="lrelu")
    op_case(out, meta, "fc_lrelu", "mapping FC: lrelu(x @ (W*lr/sqrt(32)).T + b*lr)*sqrt2, lr_mul 0.01",
            lambda x, weight, bias, lr_mul: fc(x, weight, bias, lr_mul, "lrelu"),
            dict(x=r(4, 32), weight=r(16, 32) / 0.01, bias=r(16)), dict(lr_mul=torch.tensor(0.01)), 1)
    op_case(out, meta, "fc_linear", "affine / D out: x @ (W/sqrt(24)).T + b, lr_mul 1",
            lambda x, weight, bias, lr_mul: fc(x, weight, bias, lr_mul, "linear"),
            dict(x=r(3, 24), weight=r(8, 24), bias=r(8)), dict(lr_mul=torch.tensor(1.0)), 2)

    op_case(out, meta, "bias_act_lrelu", "clamp(lrelu(x + b)*gain, +-clamp); gain = sqrt2*sqrt(0.5) = 1 "
            "like D conv1, clamp 1.5*sqrt(0.5)",
            lambda x, b, gain, clamp: stylegan2.bias_act(x, b, "lrelu", float(gain), float(clamp)),
            dict(x=r(2, 5, 6, 7) * 2, b=r(5)), dict(gain=torch.tensor(np.sqrt(2) * np.sqrt(0.5)),
                                                    clamp=torch.tensor(1.5 * np.sqrt(0.5))), 3)
    op_case(out, meta, "bias_act_lrelu_sqrt2", "clamp(lrelu(x + b)*sqrt2, +-1.5) (G conv layers)",
            lambda x, b, gain, clamp: stylegan2.bias_act(x, b, "lrelu", float(gain), float(clamp)),
            dict(x=r(2, 5, 6, 7) * 2, b=r(5)), dict(gain=torch.tensor(np.sqrt(2)), clamp=torch.tensor(1.5)), 4)
    op_case(out, meta, "bias_act_linear", "clamp(x + b, +-0.8) (ToRGB)",
            lambda x, b, clamp: stylegan2.bias_act(x, b, "linear", None, float(clamp)),
            dict(x=r(2, 3, 4, 4), b=r(3)), dict(clamp=torch.tensor(0.8)), 5)

    mc = stylegan2.modulated_conv2d
    op_case(out, meta, "modconv", "training-path (non-fused) modulated conv 3x3, demod, padding 1: "
            "y = conv(x*styles, weight)*d + noise",
            lambda x, weight, styles, noise: mc(x, weight, styles, padding=1, fused=False, noise=noise),
            dict(x=r(2, 6, 5, 5), weight=r(4, 6, 3, 3), styles=1 + 0.3 * r(2, 6), noise=0.3 * r(2, 1, 5, 5)), None, 6)
    op_case(out, meta, "modconv_up", "non-fused modulated conv 3x3 with x2 up (conv0): conv_transpose "
            "stride 2 + FIR pad (1,1,1,1) gain 4, demod, noise",
            lambda x, weight, styles, noise, filter: mc(x, weight, styles, up=2, padding=1, f=filter, fused=False,
                                                        noise=noise),
            dict(x=r(2, 6, 5, 5), weight=r(4, 6, 3, 3), styles=1 + 0.3 * r(2, 6), noise=0.3 * r(2, 1, 10, 10)),
            dict(filter=f4), 7)
    op_case(out, meta, "torgb", "non-fused ToRGB: conv1x1(x*styles, weight), no demod (styles already x 1/sqrt(I))",
            lambda x, weight, styles: mc(x, weight, styles, demodulate=False, fused=False),
            dict(x=r(2, 6, 5, 5), weight=r(3, 6, 1, 1), styles=r(2, 6) / np.sqrt(6)), None, 8)

    op_case(out, meta, "upsample2d", "upfirdn2d up 2, pad (2,1,2,1), gain 4",
            lambda x, filter: stylegan2.upsample2d(x, filter), dict(x=r(2, 3, 5, 5)), dict(filter=f4), 9)
    op_case(out, meta, "downsample2d", "upfirdn2d down 2, pad (1,1,1,1)",
            lambda x, filter: stylegan2.downsample2d(x, filter), dict(x=r(2, 3, 8, 8)), dict(filter=f4), 10)
    fr = torch.rand([3, 2], generator=gen) + 0.1
    op_case(out, meta, "upfirdn2d_generic", "random [fh=3, fw=2] filter, up 2, down 1, pad (x0 2, x1 1, y0 1, "
            "y1 -1), gain 1.5, true convolution",
            lambda x, filter, up, down, pad, gain: stylegan2.upfirdn2d(x, filter, int(up), int(down),
                                                                       [int(v) for v in pad], float(gain)),
            dict(x=r(1, 2, 7, 5)), dict(filter=fr / fr.sum(), up=torch.tensor(2.0), down=torch.tensor(1.0),
                                        pad=torch.tensor([2.0, 1, 1, -1]), gain=torch.tensor(1.5)), 11)

    op_case(out, meta, "conv_down", "D conv1 3x3 down 2: FIR pad (2,2,2,2), stride-2 correlation with "
            "weight*1/sqrt(I*9) (no bias/act)",
            lambda x, weight, filter: stylegan2.conv2d_down2(x, weight / np.sqrt(4 * 9), filter, 1),
            dict(x=r(2, 4, 8, 8), weight=r(5, 4, 3, 3)), dict(filter=f4), 12)
    op_case(out, meta, "conv_skip", "D skip 1x1 down 2: FIR down 2 pad (1,1,1,1), then conv with weight/sqrt(I)",
            lambda x, weight, filter: stylegan2.conv2d_down2(x, weight / np.sqrt(4), filter, 0),
            dict(x=r(2, 4, 8, 8), weight=r(5, 4, 1, 1)), dict(filter=f4), 13)
    op_case(out, meta, "conv3x3", "D conv0 / epilogue conv: 3x3 correlation, padding 1, weight*1/sqrt(I*9)",
            lambda x, weight: torch.nn.functional.conv2d(x, weight / np.sqrt(4 * 9), padding=1),
            dict(x=r(2, 4, 6, 6), weight=r(5, 4, 3, 3)), None, 14)

    op_case(out, meta, "mbstd", "minibatch stddev, N 8, group 4 (strided groups), 1 channel",
            lambda x, group_size, num_channels: stylegan2.minibatch_std(x, int(group_size), int(num_channels)),
            dict(x=r(8, 6, 4, 4)), dict(group_size=torch.tensor(4.0), num_channels=torch.tensor(1.0)), 15)
    op_case(out, meta, "mbstd_g2c2", "minibatch stddev, N 6, group 2, 2 channels",
            lambda x, group_size, num_channels: stylegan2.minibatch_std(x, int(group_size), int(num_channels)),
            dict(x=r(6, 6, 4, 4)), dict(group_size=torch.tensor(2.0), num_channels=torch.tensor(2.0)), 16)
    op_case(out, meta, "norm2", "x * rsqrt(mean(x^2, dim 1) + 1e-8)",
            lambda x: stylegan2.normalize_2nd_moment(x), dict(x=r(3, 16)), None, 17)
    sp = torch.tensor([-40.0, -25, -20.5, -5, -1, -1e-3, 0, 1e-3, 0.5, 3, 19.9, 20, 20.1, 35])
    op_case(out, meta, "softplus", "torch softplus (beta 1, threshold 20: x > 20 returns x); the G loss is "
            "softplus(-logits), D softplus(logits) + softplus(-real)",
            lambda x: torch.nn.functional.softplus(x), dict(x=sp), None, 18)
    safetensors_io.write(path, out, meta)
    return len(meta)


# ---------------------------------------------------------------------------
# (a) D, (b) R1

def make_d(path):
    cfg = d_cfg(G_CFG, conv_clamp=0.5)           # small clamp so that it fires (counted below)
    D = random_state(stylegan2.Discriminator(cfg), 21)
    gen = torch.Generator().manual_seed(22)
    img = torch.randn([8, 3, 16, 16], generator=gen).requires_grad_(True)
    hooks, counts = count_clamped(D, lambda m: m.conv_clamp if isinstance(m, stylegan2.Conv2dLayer) and
                                  m.conv_clamp is not None else None)
    D.requires_grad_(True)
    logits = D(img)
    for h in hooks:
        h.remove()
    dlogits = torch.randn(logits.shape, generator=gen)
    (logits * dlogits).sum().backward()
    out = {}
    put_state(out, "D.", D)
    out.update(img=arr(img), logits=arr(logits), dlogits=arr(dlogits))
    out["grad.img"] = arr(img.grad)
    param_grads(out, "grad.D.", D)
    safetensors_io.write(path, out, {"config": json.dumps(cfg), "clamped": json.dumps(counts),
                                     "what": "logits = D(img); grads of sum(logits * dlogits)"})
    return counts


def make_r1(path):
    cfg = d_cfg(G_CFG)
    D = random_state(stylegan2.Discriminator(cfg), 31)
    T = train.Trainer(dict(train.training_config("small", 16, batch=4), G=G_CFG, D=cfg), G=stylegan2.Generator(G_CFG),
                      D=D)
    gen = torch.Generator().manual_seed(32)
    img = torch.rand([4, 3, 16, 16], generator=gen) * 2 - 1
    gamma = 0.5
    D.requires_grad_(True)
    penalty, logits = T.r1_penalty(img, None)
    x = img.detach().requires_grad_(True)
    r1_grads = torch.autograd.grad(D(x).sum(), [x])[0]
    loss = (logits * 0 + penalty * (gamma / 2)).mean()
    loss.backward()
    out = {}
    put_state(out, "D.", D)
    out.update(img=arr(img), gamma=arr(gamma), logits=arr(logits), r1_grads=arr(r1_grads),
               r1_penalty=arr(penalty), loss=arr(loss))
    param_grads(out, "grad.D.", D)
    safetensors_io.write(path, out, {"config": json.dumps(cfg), "what": "loss = mean(gamma/2 * |dsum(D(img))/dimg|^2)"
                                     " (no x16 gain); grads of loss wrt D parameters, exact double backward"})


# ---------------------------------------------------------------------------
# (c) path length

def make_pl(path, seed=41):
    g = dict(G_CFG, conv_clamp=1.0)               # small clamp so that it fires in the double backward
    G = random_state(stylegan2.Generator(g), 42)
    opts = dict(train.training_config("small", 16, batch=4), G=g, D=d_cfg(g))
    T = train.Trainer(opts, G=G, D=stylegan2.Discriminator(opts["D"]))
    T.pl_mean.fill_(0.75)
    pl_mean_before, w_avg_before = float(T.pl_mean), G.mapping.w_avg.clone()
    state = {k: v.clone() for k, v in G.state_dict().items()}
    G.requires_grad_(True)
    hooks, counts = count_clamped(G, lambda m: m.conv_clamp if isinstance(m, stylegan2.SynthesisLayer) and
                                  m.conv_clamp is not None else None)
    torch.manual_seed(seed)
    draws = train.Draws(record=True)
    z = torch.randn([2, g["z_dim"]], generator=torch.Generator().manual_seed(seed))
    penalty, img = T.pl_penalty(z, torch.zeros([2, 0]), draws)
    for h in hooks:
        h.remove()
    loss = (img[:, 0, 0, 0] * 0 + penalty * opts["pl_weight"]).mean()
    loss.backward()
    d = draws.recorded
    assert float(d["Greg.mix_rand"]) < 0.9 and int(d["Greg.mix_cutoff"]) < G.num_ws, "pick a seed that mixes"
    # Recompute the intermediates for the fixture (same graph, same values).
    G2 = stylegan2.Generator(g)
    G2.load_arrays(state)
    T2 = train.Trainer(opts, G=G2, D=stylegan2.Discriminator(opts["D"]))
    T2.pl_mean.fill_(pl_mean_before)
    G2.requires_grad_(True)
    img2, ws = T2.run_G(z, torch.zeros([2, 0]), train.Draws(replay=d), "Greg")
    y = d["Greg.pl_noise"] / np.sqrt(16 * 16)
    pl_grads = torch.autograd.grad([(img2 * y).sum()], [ws])[0]
    lengths = pl_grads.square().sum(2).mean(1).sqrt()
    assert torch.equal(img2, img)
    out = {}
    for k, v in state.items():
        out["G." + k] = arr(v)
    out["z"] = arr(z)
    for k, v in d.items():
        out["draw." + k] = arr(v)
    out.update(ws=arr(ws), img=arr(img), y=arr(y), pl_grads=arr(pl_grads), pl_lengths=arr(lengths),
               pl_mean_before=arr(pl_mean_before), pl_mean_after=arr(T.pl_mean), pl_penalty=arr(penalty),
               loss=arr(loss), w_avg_before=arr(w_avg_before), w_avg_after=arr(G.mapping.w_avg))
    param_grads(out, "grad.G.", G)
    safetensors_io.write(path, out, {
        "config": json.dumps(g), "draw_seed": str(seed), "pl_weight": "2", "pl_decay": "0.01",
        "clamped": json.dumps(counts),
        "what": "run_G(z) as in Greg (w_avg update, mixing, random noise, non-fused); y = pl_noise/16; "
                "loss = mean(img[:,0,0,0]*0 + 2*(pl_lengths - pl_mean_after)^2) (no x4 gain); grads wrt G params"})
    return counts


# ---------------------------------------------------------------------------
# (e) one training step

def make_step(path, draw_seed=51):
    opts = dict(train.training_config("small", 16, batch=4), G=G_CFG, D=d_cfg(G_CFG), gamma=0.5)
    G = random_state(stylegan2.Generator(G_CFG), 52)
    D = random_state(stylegan2.Discriminator(opts["D"]), 53)
    T = train.Trainer(opts, G=G, D=D)
    reals = torch.rand([4, 3, 16, 16], generator=torch.Generator().manual_seed(54)) * 2 - 1
    # One warm-up step (its draws are not kept) gives Adam moments, pl_mean, w_avg and G_ema history.
    torch.manual_seed(50)
    T.step(reals.flip(3), train.Draws())
    T.batch_idx, T.cur_nimg = 16, 1000             # all four phases due; EMA beta 0.5^(4/50)
    out, meta = {}, {}
    put_state(out, "G.", T.G)
    put_state(out, "D.", T.D)
    put_state(out, "G_ema.", T.G_ema)
    for which in ("G", "D"):
        for k, v in T.adam_state(which).items():
            if not k.endswith(".exp_avg"):          # beta1 = 0: the old exp_avg does not matter
                out["adam%s.%s" % (which, k)] = arr(v)
    out["pl_mean"] = arr(T.pl_mean)
    out["real_img"] = arr(reals)
    phase_stats = {}

    def hook(phase, net, stats):
        param_grads(out, "phase.%s.grad." % phase, net)
        seen = set().union(*phase_stats.values()) if phase_stats else set()
        phase_stats[phase] = {k: v for k, v in stats.items() if k not in seen}
    T.phase_hook = hook
    beta = T.ema_beta()
    torch.manual_seed(draw_seed)
    draws = train.Draws(record=True)
    stats = T.step(reals, draws)
    for k, v in draws.recorded.items():
        out["draw." + k] = arr(v)
    mixing = {p: (float(draws.recorded[p + ".mix_rand"]), int(draws.recorded[p + ".mix_cutoff"]))
              for p in ("Gmain", "Greg", "Dmain")}
    print("train_step: (mix_rand, mix_cutoff) per phase %s (mixing when rand < 0.9)" % mixing)
    put_state(out, "after.G.", T.G)
    put_state(out, "after.D.", T.D)
    put_state(out, "after.G_ema.", T.G_ema)
    for which in ("G", "D"):
        for k, v in T.adam_state(which).items():
            out["after.adam%s.%s" % (which, k)] = arr(v)
    out["after.pl_mean"] = arr(T.pl_mean)
    meta = {"opts": json.dumps(opts), "cur_nimg": "1000", "batch_idx": "16", "draw_seed": str(draw_seed),
            "ema_beta": repr(beta), "stats": json.dumps(stats), "phase_stats": json.dumps(phase_stats)}
    safetensors_io.write(path, out, meta)
    return stats, beta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    p = lambda name: os.path.join(args.out, name)  # noqa: E731
    print("train_ops: %d cases" % make_ops(p("train_ops.safetensors")))
    print("train_d: clamped outputs per layer %s" % make_d(p("train_d.safetensors")))
    make_r1(p("train_r1.safetensors"))
    print("train_pl: clamped outputs per layer %s" % make_pl(p("train_pl.safetensors")))
    stats, beta = make_step(p("train_step.safetensors"))
    print("train_step: %s, ema beta %.6f" % (stats, beta))
    total = 0
    for name in sorted(os.listdir(args.out)):
        if name.startswith("train_"):
            size = os.path.getsize(p(name))
            total += size
            print("%-28s %8d bytes" % (name, size))
    print("%-28s %8d bytes" % ("total", total))


if __name__ == "__main__":
    main()
