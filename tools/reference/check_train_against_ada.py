#!/usr/bin/env -S /usr/bin/python3
"""Compare the training side of tools/reference (stylegan2.Discriminator, the
training-mode synthesis, train.Trainer) with the real stylegan2-ada-pytorch.

    /usr/bin/python3 tools/reference/check_train_against_ada.py --ada /tmp/ada [--fixtures tests/fixtures]

1. Discriminator, several configs (resnet/orig, labels, clamps, one channel,
   random non-symmetric filters, mbstd group 2 with 2 channels): state_dict
   names/shapes/order, same-seed initialisation, logits, and the gradients of
   sum(logits * u) wrt the image and every parameter.
2. Generator in training mode (non-fused modconv, random noise under the same
   seed): image and parameter gradients.
3. Training steps: the reference's StyleGAN2Loss driven by a loop written here
   from training_loop.py's description (phases, lazy-reg Adam, nan_to_num,
   EMA) against train.Trainer, same seed, same reals; after each step every
   G / D / G_ema tensor, Adam moment and pl_mean is compared.
With --fixtures, tests/fixtures/train_*.safetensors are recomputed with the
reference (their draws came from torch's RNG with the seed stored in them).
The reference is imported from --ada; nothing of it is copied here.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import stylegan2  # noqa: E402
import train  # noqa: E402

TOL = 1e-5

D_CONFIGS = [
    # name, D config, batch, random filters
    ("16px resnet c0 noclamp", dict(img_resolution=16, channel_base=256, channel_max=32), 4, False),
    ("32px resnet c0 clamp256 mbstd4 N8", dict(img_resolution=32, channel_base=512, channel_max=32,
                                                conv_clamp=256), 8, False),
    ("16px resnet c3 clamp0.5", dict(img_resolution=16, c_dim=3, channel_base=256, channel_max=24,
                                     conv_clamp=0.5, mapping_layers=2), 4, False),
    ("16px orig 1ch randfilt mbstd2x2", dict(img_resolution=16, img_channels=1, channel_base=128, channel_max=16,
                                             architecture="orig", conv_clamp=2, mbstd_group_size=2,
                                             mbstd_num_channels=2), 6, True),
]


def ada_D(cfg):
    from training.networks import Discriminator as AdaD
    return AdaD(c_dim=cfg["c_dim"], img_resolution=cfg["img_resolution"], img_channels=cfg["img_channels"],
                architecture=cfg["architecture"], channel_base=cfg["channel_base"], channel_max=cfg["channel_max"],
                num_fp16_res=0, conv_clamp=cfg["conv_clamp"], cmap_dim=cfg["cmap_dim"] or None,
                mapping_kwargs=dict(num_layers=cfg["mapping_layers"]),
                epilogue_kwargs=dict(mbstd_group_size=cfg["mbstd_group_size"],
                                     mbstd_num_channels=cfg["mbstd_num_channels"]))


def ada_G(cfg):
    from training.networks import Generator as AdaG
    return AdaG(z_dim=cfg["z_dim"], c_dim=cfg["c_dim"], w_dim=cfg["w_dim"], img_resolution=cfg["img_resolution"],
                img_channels=cfg["img_channels"], mapping_kwargs={"num_layers": cfg["mapping_layers"]},
                synthesis_kwargs={"channel_base": cfg["channel_base"], "channel_max": cfg["channel_max"],
                                  "num_fp16_res": 0, "conv_clamp": cfg["conv_clamp"]})


def maxdiff(a, b):
    return float((a - b).abs().max()) if a.numel() else 0.0


def rel(a, b):
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30)) if a.numel() else 0.0


def layout(m):
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items()]


def grads_of(module, inputs, out_fn):
    """Run out_fn, backprop sum(out * u) (u fixed), return (out, {name: grad}, [input grads])."""
    module.requires_grad_(True)
    for p in module.parameters():
        p.grad = None
    inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = out_fn(*inputs)
    u = torch.randn(out.shape, generator=torch.Generator().manual_seed(5))
    (out * u).sum().backward()
    g = {k: p.grad.clone() for k, p in module.named_parameters() if p.grad is not None}
    module.requires_grad_(False)
    return out.detach(), g, [x.grad for x in inputs]


def check_D(failures):
    for name, cfg, n, rf in D_CONFIGS:
        cfg = stylegan2.check_d_config(cfg)
        torch.manual_seed(3)
        ref = ada_D(cfg)
        torch.manual_seed(3)
        ours = stylegan2.Discriminator(cfg)
        ok_layout = layout(ref) == layout(ours)
        init = max(maxdiff(a, b) for a, b in zip(ref.state_dict().values(), ours.state_dict().values()))
        gen = torch.Generator().manual_seed(9)
        state = stylegan2.random_test_state(layout(ref), gen, random_filters=rf)
        ref.load_state_dict(state)
        ours.load_arrays(state)
        res = cfg["img_resolution"]
        img = torch.randn([n, cfg["img_channels"], res, res], generator=gen)
        c = None
        if cfg["c_dim"] > 0:
            c = torch.nn.functional.one_hot(torch.arange(n) % cfg["c_dim"], cfg["c_dim"]).float()
        lr, gr, (xr,) = grads_of(ref, [img], lambda x: ref(x, c))
        lo, go, (xo,) = grads_of(ours, [img], lambda x: ours(x, c))
        dl, dx = maxdiff(lr, lo), rel(xo, xr)
        dp = max(rel(go[k], gr[k]) for k in gr)
        print("== D %s: %d tensors, layout %s, init diff %g, logits diff %.3g (range %.3g..%.3g), "
              "d/dx rel %.3g, d/dparams worst rel %.3g"
              % (name, len(state), "identical" if ok_layout else "DIFFERS", init, dl, float(lr.min()),
                 float(lr.max()), dx, dp))
        if not ok_layout or init != 0 or dl > TOL or dx > TOL or dp > TOL:
            failures.append("D %s" % name)


def check_G_training_mode(failures):
    cfg = dict(arch="stylegan2", z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3, mapping_layers=2,
               channel_base=128, channel_max=16, conv_clamp=0.5)
    ref = ada_G(cfg).train()
    ours = stylegan2.Generator(cfg).train()
    gen = torch.Generator().manual_seed(4)
    state = stylegan2.random_test_state(layout(ref), gen)
    ref.load_state_dict(state)
    ours.load_arrays(state)
    ws = torch.randn([3, ours.num_ws, 16], generator=gen)
    torch.manual_seed(17)
    ir, gr, (wr,) = grads_of(ref, [ws], lambda w: ref.synthesis(w))
    torch.manual_seed(17)
    io, go, (wo,) = grads_of(ours, [ws], lambda w: ours.synthesis(w, noise_mode="random", fused=False))
    assert sorted(go) == sorted(gr) and len(gr) > 0
    d = max(maxdiff(ir, io), rel(wo, wr), max(rel(go[k], gr[k]) for k in gr))
    print("== G training mode (non-fused, random noise, clamp 0.5): img diff %.3g, worst grad rel %.3g"
          % (maxdiff(ir, io), d))
    if d > TOL:
        failures.append("G training mode")


class AdaLoop:
    """The reference's training-loop body around its own StyleGAN2Loss (no augmentation)."""

    def __init__(self, opts, seed):
        from training.loss import StyleGAN2Loss
        torch.manual_seed(seed)
        self.o = opts
        self.G = ada_G(opts["G"]).train().requires_grad_(False)
        self.D = ada_D(opts["D"]).train().requires_grad_(False)
        self.G_ema = ada_G(opts["G"]).eval().requires_grad_(False)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.loss = StyleGAN2Loss(device=torch.device("cpu"), G_mapping=self.G.mapping,
                                  G_synthesis=self.G.synthesis, D=self.D, r1_gamma=opts["gamma"])
        self.phases = []
        for name, net, k in (("G", self.G, opts["G_reg_interval"]), ("D", self.D, opts["D_reg_interval"])):
            c = k / (k + 1)
            opt = torch.optim.Adam(net.parameters(), lr=opts["lr"] * c, betas=[b ** c for b in opts["betas"]],
                                   eps=opts["eps"])
            self.phases += [(name + "main", net, opt, 1), (name + "reg", net, opt, k)]
        self.cur_nimg = self.batch_idx = 0

    def step(self, real_img):
        o = self.o
        B, bg, zd = o["batch"], o["batch_gpu"], self.G.z_dim
        reals = real_img.split(bg)
        real_c = torch.zeros([B, self.G.c_dim]).split(bg)
        all_z = [z.split(bg) for z in torch.randn([len(self.phases) * B, zd]).split(B)]
        all_c = [c.split(bg) for c in torch.zeros([len(self.phases) * B, self.G.c_dim]).split(B)]
        for (name, net, opt, interval), zs, cs in zip(self.phases, all_z, all_c):
            if self.batch_idx % interval != 0:
                continue
            opt.zero_grad(set_to_none=True)
            net.requires_grad_(True)
            for x, xc, z, c in zip(reals, real_c, zs, cs):
                self.loss.accumulate_gradients(phase=name, real_img=x, real_c=xc, gen_z=z, gen_c=c, sync=True,
                                               gain=interval)
            net.requires_grad_(False)
            for p in net.parameters():
                if p.grad is not None:
                    torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
            opt.step()
        ema_nimg = o["ema_kimg"] * 1000
        if o["ema_rampup"] is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * o["ema_rampup"])
        beta = 0.5 ** (B / max(ema_nimg, 1e-8))
        for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
            pe.copy_(p.lerp(pe, beta))
        for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
            be.copy_(b)
        self.cur_nimg += B
        self.batch_idx += 1


def compare_trainers(ada, T, label, failures):
    worst = {}
    for what, a, b in (("G", ada.G, T.G), ("D", ada.D, T.D), ("G_ema", ada.G_ema, T.G_ema)):
        sa, sb = a.state_dict(), b.state_dict()
        assert list(sa) == list(sb)
        worst[what] = max(maxdiff(sa[k], sb[k]) for k in sa)
    for what, net_a, net_b, opt_b in (("adamG", ada.G, T.G, T.G_opt), ("adamD", ada.D, T.D, T.D_opt)):
        opt_a = next(p[2] for p in ada.phases if p[1] is net_a)
        d = 0.0
        for pa, pb in zip(net_a.parameters(), net_b.parameters()):
            sa, sb = opt_a.state[pa], opt_b.state[pb]
            if not sa or not sb:
                d = max(d, 0.0 if not sa and not sb else float("inf"))
                continue
            d = max(d, maxdiff(sa["exp_avg"], sb["exp_avg"]), maxdiff(sa["exp_avg_sq"], sb["exp_avg_sq"]),
                    abs(float(sa["step"]) - float(sb["step"])))
        worst[what] = d
    worst["pl_mean"] = abs(float(ada.loss.pl_mean) - float(T.pl_mean))
    w = max(worst.values())
    print("   %s: max abs diff %s -> %s" % (label, {k: float("%.3g" % v) for k, v in worst.items()},
                                          "ok" if w <= TOL else "FAIL"))
    if w > TOL:
        failures.append("training %s" % label)


def check_training(failures):
    cases = [
        ("16px c0 batch 4", train.training_config("small", 16, batch=4), 3),
        ("16px c0 batch 8 in 2 rounds of 4", dict(train.training_config("small", 16, batch=8), batch_gpu=4), 2),
    ]
    for name, opts, steps in cases:
        g = dict(opts["G"], z_dim=32, w_dim=32, channel_base=256, channel_max=32)
        opts = dict(opts, G=g, D=stylegan2.d_config_for(g, mbstd_group_size=4), gamma=0.5)
        print("== training steps, %s (G %s)" % (name, json.dumps(g)))
        ada = AdaLoop(opts, seed=21)
        T = train.Trainer(opts, seed=21)
        compare_trainers(ada, T, "initial state (same seed)", failures)
        reals = torch.rand([opts["batch"], 3, 16, 16], generator=torch.Generator().manual_seed(8)) * 2 - 1
        for s in range(steps):
            torch.manual_seed(100 + s)
            ada.step(reals)
            torch.manual_seed(100 + s)
            stats = T.step(reals, train.Draws())
            compare_trainers(ada, T, "after step %d (batch_idx %d) %s" % (s, s, {k: round(v, 4) for k, v in
                                                                              stats.items()}), failures)


def check_fixtures(fixdir, failures):
    """Replay each train_* fixture's torch seed through the reference and compare its outputs."""
    from training.loss import StyleGAN2Loss
    print("== fixtures in %s, recomputed with the reference" % fixdir)
    t, meta = safetensors_io.read(os.path.join(fixdir, "train_d.safetensors"))
    T = {k: torch.from_numpy(v) for k, v in t.items()}
    cfg = json.loads(meta["config"])
    D = ada_D(cfg)
    D.load_state_dict({k[2:]: v for k, v in T.items() if k.startswith("D.")})
    D.requires_grad_(True)
    x = T["img"].clone().requires_grad_(True)
    logits = D(x, None)
    (logits * T["dlogits"]).sum().backward()
    w = max([maxdiff(logits, T["logits"]), rel(x.grad, T["grad.img"])] +
            [rel(p.grad, T["grad.D." + k]) for k, p in D.named_parameters()])
    D.requires_grad_(False)
    print("   train_d: logits and all gradients, worst (rel) diff %.3g" % w)
    if w > TOL:
        failures.append("fixture train_d")

    t, meta = safetensors_io.read(os.path.join(fixdir, "train_step.safetensors"))
    T = {k: torch.from_numpy(v) for k, v in t.items()}
    opts = json.loads(meta["opts"])
    ada = AdaLoop(opts, seed=0)
    for prefix, net in (("G.", ada.G), ("D.", ada.D), ("G_ema.", ada.G_ema)):
        net.load_state_dict({k[len(prefix):]: v for k, v in T.items() if k.startswith(prefix)})
    ada.loss.pl_mean.copy_(T["pl_mean"])
    for which, net in (("G", ada.G), ("D", ada.D)):
        opt = next(p[2] for p in ada.phases if p[1] is net)
        for k, p in net.named_parameters():
            # The fixture omits the old exp_avg: with beta1 = 0 it is multiplied by 0.
            opt.state[p] = dict(step=T["adam%s.step" % which].clone(), exp_avg=torch.zeros_like(p),
                                exp_avg_sq=T["adam%s.%s.exp_avg_sq" % (which, k)].clone())
    ada.cur_nimg, ada.batch_idx = int(meta["cur_nimg"]), int(meta["batch_idx"])
    torch.manual_seed(int(meta["draw_seed"]))
    ada.step(T["real_img"])
    res = {"pl_mean": ada.loss.pl_mean}
    for prefix, net in (("G.", ada.G), ("D.", ada.D), ("G_ema.", ada.G_ema)):
        res.update({"after." + prefix + k: v for k, v in net.state_dict().items()})
    for which, net in (("G", ada.G), ("D", ada.D)):
        opt = next(p[2] for p in ada.phases if p[1] is net)
        for k, p in net.named_parameters():
            res["after.adam%s.%s.exp_avg" % (which, k)] = opt.state[p]["exp_avg"]
            res["after.adam%s.%s.exp_avg_sq" % (which, k)] = opt.state[p]["exp_avg_sq"]
    res["after.pl_mean"] = res.pop("pl_mean")
    w = max(maxdiff(v, T[k]) for k, v in res.items())
    print("   train_step: %d tensors after the step, worst abs diff %.3g" % (len(res), w))
    if w > TOL:
        failures.append("fixture train_step")

    # R1 and PL through the reference's StyleGAN2Loss with gain 1.
    t, meta = safetensors_io.read(os.path.join(fixdir, "train_r1.safetensors"))
    T = {k: torch.from_numpy(v) for k, v in t.items()}
    D = ada_D(json.loads(meta["config"]))
    D.load_state_dict({k[2:]: v for k, v in T.items() if k.startswith("D.")})
    loss = StyleGAN2Loss(device=torch.device("cpu"), G_mapping=None, G_synthesis=None, D=D,
                         r1_gamma=float(T["gamma"]))
    D.requires_grad_(True)
    loss.accumulate_gradients("Dreg", T["img"], torch.zeros([4, 0]), None, None, sync=True, gain=1)
    w = max(rel(p.grad, T["grad.D." + k]) for k, p in D.named_parameters())
    print("   train_r1: parameter gradients of the R1 loss, worst rel diff %.3g" % w)
    if w > TOL:
        failures.append("fixture train_r1")

    t, meta = safetensors_io.read(os.path.join(fixdir, "train_pl.safetensors"))
    T = {k: torch.from_numpy(v) for k, v in t.items()}
    G = ada_G(json.loads(meta["config"])).train()
    G.load_state_dict({k[2:]: v for k, v in T.items() if k.startswith("G.")})
    loss = StyleGAN2Loss(device=torch.device("cpu"), G_mapping=G.mapping, G_synthesis=G.synthesis, D=None)
    loss.pl_mean.copy_(T["pl_mean_before"])
    G.requires_grad_(True)
    torch.manual_seed(int(meta["draw_seed"]))
    z = torch.cat([T["z"], T["z"]])       # Greg uses the first batch/2 rows
    loss.accumulate_gradients("Greg", None, None, z, torch.zeros([4, 0]), sync=True, gain=1)
    w = max([rel(p.grad, T["grad.G." + k]) for k, p in G.named_parameters()] +
            [maxdiff(loss.pl_mean, T["pl_mean_after"]), maxdiff(G.mapping.w_avg, T["w_avg_after"])])
    print("   train_pl: pl_mean, w_avg and parameter gradients of the PL loss, worst (rel) diff %.3g" % w)
    if w > TOL:
        failures.append("fixture train_pl")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--ada", required=True)
    ap.add_argument("--fixtures", default=None)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.ada))
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    print("torch %s, reference from %s" % (torch.__version__, os.path.abspath(args.ada)))
    failures = []
    check_D(failures)
    check_G_training_mode(failures)
    check_training(failures)
    if args.fixtures:
        check_fixtures(args.fixtures, failures)
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)
    print("ALL OK (tolerance %g)" % TOL)


if __name__ == "__main__":
    main()
