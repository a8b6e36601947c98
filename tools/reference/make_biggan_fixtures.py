#!/usr/bin/env -S /usr/bin/python3
"""Write the BigGAN parity fixtures into tests/fixtures/ (float32 safetensors).

    /usr/bin/python3 tools/reference/make_biggan_fixtures.py [--out tests/fixtures]

  biggan_g32.safetensors   generator file: 32 px, G_ch 4, dim_z 20 (4 slots of 5), shared 8,
                           5 classes, attention at 16; weights perturbed so that no bias, gain,
                           gamma or running statistic is trivially 0 or 1
  biggan_g32_out           z, classes (as floats), eval_images, train_images, after_train.<buffer>
                           (every u0, sv0, stored_mean, stored_var after the training-mode pass),
                           train_dy and grad.<param>, grad_z, grad_y_emb of sum(train_images * train_dy),
                           standing.z [64, 20] / standing.classes [64] (16 passes of 4, rows 4i..4i+3
                           = pass i), standing.<buffer> (every u0, sv0, stored_mean, stored_var after
                           biggan.accumulate_standing_stats, run on the state after the training-mode
                           pass) and standing_images (eval mode, same z / classes, standing statistics),
                           trunc.z [3, 20] / trunc.images: `dne generate --class 2 --seeds 0,1,42
                           --trunc 0.5` with the standing statistics
  biggan_d32.safetensors   discriminator file: 32 px, D_ch 4, 5 classes, attention at 16
  biggan_d32_out           images, classes, logits (training mode), after_train.<buffer>,
                           dlogits, grad.<param>, grad_images
  biggan_g128 / _out       128 px, G_ch 2, dim_z 24 (6 x 4), 3 classes, batch 2, attention at 16:
                           z, classes, eval_images, train_images, after_train.*
  biggan_d128 / _out       128 px, D_ch 2, 3 classes, batch 2, attention at 8: images, classes, logits,
                           after_train.*
                           (G_attn / D_attn "64" is impossible at width 2: the 64 px blocks have 4 (G)
                           and 2 (D) channels, so theta / phi would get ch // 8 = 0 channels;
                           BigGAN-PyTorch builds such a layer and then fails in its forward)
  biggan_ops               every new op: "<case>.x<i>", ".y", ".dy", ".dx<i>" (torch in fp64)
  biggan_sn                spectral norm alone: weight [6, 10], u0, W_sn, u, sigma, dw_sn, dweight
  biggan_step              one training iteration at 32 px (batch 4, 2 D steps x 2 micro-batches,
                           2 G micro-batches, ortho 1e-3 on both, EMA decay 0.9 from iteration 0):
                           G.*, D.* before; draws d<k>.z / d<k>.classes / d<k>.reals / d<k>.real_classes,
                           g<k>.z / g<k>.classes; after: G.*, D.*, G_ema.*, gradD.*, gradG.*, losses

The weights are stored in fp32 and every result is computed from them in fp64
(the networks are cast to double after saving), so the fixtures hold the exact
answers and the C tests measure dne's fp32 error. Everything is seeded and
torch runs single-threaded: reruns give identical bytes.

Seeds: each network is built after torch.manual_seed(s) (s = 100 g32, 200 d32,
300 g128, 400 d128; orthogonal init and u0 ~ N(0, 1) as the reference) and
everything else comes, in this order, from one torch.Generator seeded s + 1:
the perturbation (stored_var U(0.5, 1.5); stored_mean, every bias, attention
gamma N(0, 0.3^2); output-BN gain 1 + N(0, 0.3^2); state_dict order), then z /
images, then the upstream gradient, then the standing passes (z [16, 4, 20] as
one randn, classes torch.randint(0, 5, (16, 4))). sv0 stays 1 in the weight
files: no forward reads it. make_biggan_op_fixtures.py writes biggan_ops alone.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import biggan  # noqa: E402
import safetensors_io  # noqa: E402

G32 = dict(arch="biggan", resolution=32, G_ch=4, dim_z=20, shared_dim=8, n_classes=5, hier=True, G_attn="16",
           bottom_width=4, BN_eps=1e-5, SN_eps=1e-6)
D32 = dict(arch="biggan", resolution=32, D_ch=4, D_attn="16", n_classes=5, SN_eps=1e-6, D_wide=True)
G128 = dict(G32, resolution=128, G_ch=2, dim_z=24, n_classes=3, G_attn="16")
D128 = dict(D32, resolution=128, D_ch=2, D_attn="8", n_classes=3)


def np32(t):
    return t.detach().numpy().astype(np.float32)


def perturb(net, gen):
    with torch.no_grad():
        for k, v in net.state_dict().items():
            if k.endswith("stored_var"):
                v.copy_(0.5 + torch.rand(v.shape, generator=gen))
            elif k.endswith(("stored_mean", ".bias", "gamma")):
                v.copy_(0.3 * torch.randn(v.shape, generator=gen))
            elif k.endswith(".gain"):
                v.copy_(1.0 + 0.3 * torch.randn(v.shape, generator=gen))


def buffers(net, prefix):
    return {prefix + k: np32(v) for k, v in net.state_dict().items() if k.endswith(("u0", "sv0", "stored_mean", "stored_var"))}


TRUNC_SEEDS, TRUNC, TRUNC_CLASS = (0, 1, 42), 0.5, 2


def truncated_z(seed, dim, threshold):
    """dne generate's z: RandomState(seed) normal draws, each redrawn from the
    stream while beyond +-threshold (the BigGAN paper's truncation)."""
    rs = np.random.RandomState(seed)
    z = np.empty(dim)
    for j in range(dim):
        v = rs.standard_normal()
        while abs(v) > threshold:
            v = rs.standard_normal()
        z[j] = v
    return z.astype(np.float32)


def truncated_samples(G):
    """`dne generate --class 2 --seeds 0,1,42 --trunc 0.5` in evaluation mode."""
    z = np.stack([truncated_z(s, G.cfg["dim_z"], TRUNC) for s in TRUNC_SEEDS])
    y = torch.full((len(TRUNC_SEEDS),), TRUNC_CLASS)
    with torch.no_grad():
        img = G(torch.from_numpy(z).double(), G.shared(y))
    return {"trunc.z": z, "trunc.images": np32(img)}


def make_generator(cfg, seed, batch, out, name, grads):
    torch.manual_seed(seed)
    G = biggan.Generator(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb(G, gen)
    biggan.save(G, os.path.join(out, f"{name}.safetensors"))
    G.double()  # the stored fp32 weights, computed with in fp64: the fixtures hold exact results
    k = cfg["n_classes"]
    z = torch.randn(batch, G.cfg["dim_z"], generator=gen).double()
    y = torch.arange(batch) % k
    t = {"z": np32(z), "classes": np32(y.float())}
    G.eval()
    with torch.no_grad():
        t["eval_images"] = np32(G(z, G.shared(y)))
    G.train()
    z_req = z.clone().requires_grad_(True)
    y_emb = G.shared(y)
    y_emb.retain_grad()
    img = G(z_req, y_emb)
    t["train_images"] = np32(img)
    t.update(buffers(G, "after_train."))
    if grads:
        dy = torch.randn(img.shape, generator=gen).double()
        (img * dy).sum().backward()
        t["train_dy"] = np32(dy)
        t.update({"grad." + n: np32(p.grad) for n, p in G.named_parameters() if p.grad is not None})
        t["grad_z"], t["grad_y_emb"] = np32(z_req.grad), np32(y_emb.grad)
        sz = torch.randn(16, batch, G.cfg["dim_z"], generator=gen).double()
        sy = torch.randint(0, k, (16, batch), generator=gen)
        biggan.accumulate_standing_stats(G, list(sz), list(sy))
        t["standing.z"], t["standing.classes"] = np32(sz.reshape(-1, G.cfg["dim_z"])), np32(sy.reshape(-1).float())
        t.update(buffers(G, "standing."))
        G.eval()
        with torch.no_grad():
            t["standing_images"] = np32(G(z, G.shared(y)))
        t.update(truncated_samples(G))
    safetensors_io.write(os.path.join(out, f"{name}_out.safetensors"), t)


def make_discriminator(cfg, seed, batch, out, name, grads):
    torch.manual_seed(seed)
    D = biggan.Discriminator(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb(D, gen)
    biggan.save(D, os.path.join(out, f"{name}.safetensors"))
    D.double()
    r, k = cfg["resolution"], cfg["n_classes"]
    x = (torch.rand(batch, 3, r, r, generator=gen) * 2 - 1).double()
    y = (torch.arange(batch) * 2 + 1) % k
    t = {"images": np32(x), "classes": np32(y.float())}
    D.train()
    xr = x.clone().requires_grad_(True)
    logits = D(xr, y)
    t["logits"] = np32(logits)
    t.update(buffers(D, "after_train."))
    if grads:
        dl = torch.randn(logits.shape, generator=gen).double()
        (logits * dl).sum().backward()
        t["dlogits"] = np32(dl)
        t.update({"grad." + n: np32(p.grad) for n, p in D.named_parameters()})
        t["grad_images"] = np32(xr.grad)
    safetensors_io.write(os.path.join(out, f"{name}_out.safetensors"), t)


def make_sn(out):
    gen = torch.Generator().manual_seed(7)
    layer = biggan.SNLinear(10, 6, bias=False, eps=1e-6)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(6, 10, generator=gen))
        layer.u0.copy_(torch.randn(1, 6, generator=gen))
    t = {"weight": np32(layer.weight), "u0": np32(layer.u0)}
    layer.double().train()
    w_sn = layer.normalized_weight()
    dw = torch.randn(w_sn.shape, generator=gen).double()
    (w_sn * dw).sum().backward()
    t.update(w_sn=np32(w_sn), u=np32(layer.u0), sigma=np32(layer.sv0), dw_sn=np32(dw), dweight=np32(layer.weight.grad))
    safetensors_io.write(os.path.join(out, "biggan_sn.safetensors"), t)


def make_ops(out):
    """biggan_ops: each new op with inputs x (fp32), outputs and input
    gradients for an upstream gradient dy, computed by torch in fp64."""
    gen = torch.Generator().manual_seed(21)
    t = {}

    def rnd(*shape):
        return torch.randn(*shape, generator=gen).float()

    def case(name, fn, *inputs):
        xs = [x.double().requires_grad_(True) for x in inputs]
        y = fn(*xs)
        dy = rnd(*y.shape).double()
        (y * dy).sum().backward()
        t[f"{name}.y"], t[f"{name}.dy"] = np32(y), np32(dy)
        for i, (x, xd) in enumerate(zip(inputs, xs)):
            t[f"{name}.x{i}"], t[f"{name}.dx{i}"] = np32(x), np32(xd.grad)

    for ta in (0, 1):
        for tb in (0, 1):
            a, b = rnd(3, 5) if not ta else rnd(5, 3), rnd(5, 4) if not tb else rnd(4, 5)
            case(f"matmul{ta}{tb}", lambda a, b, ta=ta, tb=tb: (a.t() if ta else a) @ (b.t() if tb else b), a, b)
            a3, b3 = (rnd(2, 3, 5) if not ta else rnd(2, 5, 3)), (rnd(2, 5, 4) if not tb else rnd(2, 4, 5))
            case(f"bmm{ta}{tb}", lambda a, b, ta=ta, tb=tb: torch.bmm(a.transpose(1, 2) if ta else a,
                                                                      b.transpose(1, 2) if tb else b), a3, b3)
    case("softmax", lambda x: F.softmax(x, -1), 3 * rnd(2, 3, 7))
    case("tanh", torch.tanh, 2 * rnd(2, 3, 4, 4))
    case("max_pool2d", lambda x: F.max_pool2d(x, 2), rnd(2, 3, 6, 4))
    case("avg_pool2d", lambda x: F.avg_pool2d(x, 2), rnd(2, 3, 6, 4))
    case("upsample_nearest2d", lambda x: F.interpolate(x, scale_factor=2), rnd(2, 3, 3, 2))
    case("normalize_rows", lambda x: F.normalize(x, eps=1e-6), rnd(3, 8))
    x = 2 + 3 * rnd(4, 5, 3, 3)
    case("batch_norm_cond", lambda x, g, b: F.batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
         * (1 + g.view(4, 5, 1, 1)) + b.view(4, 5, 1, 1), x, 0.3 * rnd(4, 5), rnd(4, 5))
    case("batch_norm_plain", lambda x, g, b: F.batch_norm(x, None, None, g, b, True, 0.1, 1e-5), x,
         1 + 0.3 * rnd(5), rnd(5))
    xd = x.double()
    t["batch_stats.mean"] = np32(xd.mean([0, 2, 3]))
    t["batch_stats.var"] = np32(xd.var([0, 2, 3], unbiased=False))
    stats_mean, stats_var = 0.5 * rnd(5), 0.5 + torch.rand(5, generator=gen)
    t["batch_norm_eval.mean"], t["batch_norm_eval.var"] = np32(stats_mean), np32(stats_var)
    t["batch_norm_eval.y"] = np32(F.batch_norm(xd, stats_mean.double(), stats_var.double(), None, None, False, 0.1, 1e-5))
    safetensors_io.write(os.path.join(out, "biggan_ops.safetensors"), t)


STEP_OPTS = dict(batch=4, d_steps=2, d_accumulations=2, g_accumulations=2, g_lr=1e-4, d_lr=4e-4, betas=(0.0, 0.999),
                 adam_eps=1e-6, g_ortho=1e-3, d_ortho=1e-3, ema_decay=0.9, ema_start=0)


def make_step(out):
    torch.manual_seed(11)
    G, D, G_ema = biggan.Generator(G32), biggan.Discriminator(D32), biggan.Generator(G32)
    gen = torch.Generator().manual_seed(12)
    perturb(G, gen)
    perturb(D, gen)
    G_ema.load_state_dict(G.state_dict())
    t = {"G." + k: np32(v) for k, v in G.state_dict().items()}
    t.update({"D." + k: np32(v) for k, v in D.state_dict().items()})
    G.double(), D.double(), G_ema.double()
    o, b, k = STEP_OPTS, STEP_OPTS["batch"], G32["n_classes"]
    draws = {"d_fakes": [], "reals": [], "g_fakes": []}
    for i in range(o["d_steps"] * o["d_accumulations"]):
        z, y = torch.randn(b, G.cfg["dim_z"], generator=gen).double(), torch.randint(0, k, (b,), generator=gen)
        x = (torch.rand(b, 3, 32, 32, generator=gen) * 2 - 1).double()
        yr = torch.randint(0, k, (b,), generator=gen)
        draws["d_fakes"].append((z, y))
        draws["reals"].append((x, yr))
        t.update({f"d{i}.z": np32(z), f"d{i}.classes": np32(y.float()), f"d{i}.reals": np32(x),
                  f"d{i}.real_classes": np32(yr.float())})
    for i in range(o["g_accumulations"]):
        z, y = torch.randn(b, G.cfg["dim_z"], generator=gen).double(), torch.randint(0, k, (b,), generator=gen)
        draws["g_fakes"].append((z, y))
        t.update({f"g{i}.z": np32(z), f"g{i}.classes": np32(y.float())})
    optG = torch.optim.Adam(G.parameters(), lr=o["g_lr"], betas=o["betas"], eps=o["adam_eps"])
    optD = torch.optim.Adam(D.parameters(), lr=o["d_lr"], betas=o["betas"], eps=o["adam_eps"])
    losses = biggan.train_step(G, D, G_ema, optG, optD, o, draws, itr=1)
    t.update({"after.G." + k: np32(v) for k, v in G.state_dict().items()})
    t.update({"after.D." + k: np32(v) for k, v in D.state_dict().items()})
    t.update({"after.G_ema." + k: np32(v) for k, v in G_ema.state_dict().items()})
    t.update({"gradD." + n: np32(p.grad) for n, p in D.named_parameters()})
    t.update({"gradG." + n: np32(p.grad) for n, p in G.named_parameters()})
    t.update({"loss." + n: np.array(v, dtype=np.float32) for n, v in losses.items()})
    meta = {"options": json.dumps(o), "G_config": json.dumps(G.cfg), "D_config": json.dumps(D.cfg)}
    safetensors_io.write(os.path.join(out, "biggan_step.safetensors"), t, meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    make_generator(G32, 100, 4, args.out, "biggan_g32", grads=True)
    make_discriminator(D32, 200, 4, args.out, "biggan_d32", grads=True)
    make_generator(G128, 300, 2, args.out, "biggan_g128", grads=False)
    make_discriminator(D128, 400, 2, args.out, "biggan_d128", grads=False)
    make_sn(args.out)
    make_step(args.out)
    make_ops(args.out)
    for name in sorted(os.listdir(args.out)):
        if name.startswith("biggan_"):
            print(f"{name:32s} {os.path.getsize(os.path.join(args.out, name)):8d} bytes")


if __name__ == "__main__":
    main()
