#!/usr/bin/env -S /usr/bin/python3
"""Checks tools/reference/biggan.py against the real BigGAN-PyTorch code.

    mkdir -p /tmp/biggan-ref
    git --git-dir=/work/.mirror/ajbrock+BigGAN-PyTorch/repo archive HEAD | tar -x -C /tmp/biggan-ref
    /usr/bin/python3 tools/reference/check_biggan_against_ref.py --ref /tmp/biggan-ref \
        [--fixtures tests/fixtures] [--dne build/dne]

For each config in CASES it builds the reference's BigGAN.Generator /
Discriminator (imported from --ref; their parameter-count prints are
swallowed) and biggan.py's, and reports the largest absolute differences of:
  * the state_dict layout (names, shapes, dtypes, order: must be identical)
    and the initial weights after the same torch.manual_seed;
  * on random weights (biggan.py's copied into the reference): G in eval mode
    (and that eval mode changes no buffer), G in training mode, every buffer
    after that training-mode forward, and for a random upstream gradient the
    gradients of every G parameter, of z and of y_emb = G.shared(classes);
    D's logits in training mode, its buffers after, the gradients of every D
    parameter and of the images, D in eval mode;
  * standing statistics: biggan.standing_stats against the reference's own
    utils.accumulate_standing_stats on a G built with mybn=True (the same
    weights, the same z / class draws): stored statistics (sum / counter),
    u0 / sv0 after the passes, eval-mode images with them; in fp32 and fp64;
  * one training iteration: biggan.train_step against the reference's
    train_fns.GAN_training_function (G_D, utils.ema, utils.ortho, the
    networks' own Adam), z / y replayed through z_.sample_ / y_.sample_.
With --fixtures it recomputes every biggan_* network fixture (not
biggan_ops.safetensors: plain torch ops) with the reference's classes and
functions, in fp64 from the stored fp32 weights as make_biggan_fixtures.py
does, and reports the largest differences to the stored tensors. With --dne it
converts the reference's own G, saved with torch.save, by
biggan_pth_to_safetensors.py and compares `dne generate`'s PNGs with the
reference's images.

Importing the reference's utils.py / train_fns.py needs torchvision and
datasets.py (h5py, tqdm, torchvision): a stub module always stands in for
datasets, and for torchvision when it is missing (nothing of theirs is used). Exit status 0 when every
difference is below 1e-5 (relative for parameter gradients) and layouts match.
"""

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import biggan  # noqa: E402
import make_biggan_fixtures as mbf  # noqa: E402
import safetensors_io  # noqa: E402

CASES = [
    dict(name="32 px", resolution=32, G_ch=4, D_ch=4, dim_z=20, shared_dim=8, n_classes=5, G_attn="16",
         D_attn="16", batch=4),
    dict(name="64 px", resolution=64, G_ch=2, D_ch=2, dim_z=20, shared_dim=8, n_classes=3, G_attn="32",
         D_attn="8", batch=4),
    dict(name="128 px", resolution=128, G_ch=4, D_ch=4, dim_z=24, shared_dim=8, n_classes=3, G_attn="64",
         D_attn="32", batch=4),
    dict(name="256 px, dim_z 30 -> 28", resolution=256, G_ch=2, D_ch=2, dim_z=30, shared_dim=8, n_classes=3,
         G_attn="64", D_attn="16", batch=2),
    dict(name="32 px, hier off, shared_dim 0, BN/SN eps 1e-4, D_wide off", resolution=32, G_ch=4, D_ch=4, dim_z=12,
         shared_dim=0, n_classes=4, hier=False, BN_eps=1e-4, SN_eps=1e-4, D_wide=False, G_attn="8_32", D_attn="0",
         batch=4),
]
STEP_CASE = dict(CASES[0], name="32 px training iteration")
TOL = 1e-5
quiet = contextlib.redirect_stdout


# ------------------------------------------------------------------ the reference

def import_reference(ref):
    """BigGAN, layers, utils, train_fns from the checkout (stubs for torchvision / datasets)."""
    sys.path.insert(0, ref)

    def stub(name):
        m = types.ModuleType(name)
        m.__getattr__ = lambda attr: type(attr, (), {})
        sys.modules[name] = m
        return m
    if importlib.util.find_spec("torchvision") is None:
        tv = stub("torchvision")
        tv.transforms = stub("torchvision.transforms")
        tv.datasets = stub("torchvision.datasets")
        stub("torchvision.datasets.utils")
    stub("datasets")  # the data loaders (h5py, tqdm, torchvision): unused here
    with quiet(io.StringIO()):
        import BigGAN
        import layers
        import train_fns
        import utils
    return types.SimpleNamespace(BigGAN=BigGAN, layers=layers, utils=utils, train_fns=train_fns)


def g_config(c):
    return dict(arch="biggan", resolution=c["resolution"], G_ch=c["G_ch"], dim_z=c["dim_z"],
                shared_dim=c["shared_dim"], n_classes=c["n_classes"], hier=c.get("hier", True), G_attn=c["G_attn"],
                bottom_width=4, BN_eps=c.get("BN_eps", 1e-5), SN_eps=c.get("SN_eps", 1e-6))


def d_config(c):
    return dict(arch="biggan", resolution=c["resolution"], D_ch=c["D_ch"], D_attn=c["D_attn"],
                n_classes=c["n_classes"], SN_eps=c.get("SN_eps", 1e-6), D_wide=c.get("D_wide", True))


def ref_G(R, cfg, mybn=False, skip_init=False, opts=None, no_optim=False):
    o = opts or {}
    with quiet(io.StringIO()):
        return R.BigGAN.Generator(
            G_ch=cfg["G_ch"], dim_z=cfg["dim_z"], bottom_width=cfg.get("bottom_width", 4),
            resolution=cfg["resolution"], G_attn=cfg["G_attn"], n_classes=cfg["n_classes"], G_shared=True,
            shared_dim=cfg["shared_dim"], hier=cfg.get("hier", True), cross_replica=False, mybn=mybn,
            BN_eps=cfg.get("BN_eps", 1e-5), SN_eps=cfg.get("SN_eps", 1e-6), G_param="SN", norm_style="bn",
            num_G_SVs=1, num_G_SV_itrs=1, G_init="ortho", skip_init=skip_init, no_optim=no_optim,
            G_lr=o.get("g_lr", 5e-5), G_B1=o.get("betas", (0.0, 0.999))[0], G_B2=o.get("betas", (0.0, 0.999))[1],
            adam_eps=o.get("adam_eps", 1e-8))


def ref_D(R, cfg, skip_init=False, opts=None):
    o = opts or {}
    with quiet(io.StringIO()):
        return R.BigGAN.Discriminator(
            D_ch=cfg["D_ch"], D_wide=cfg.get("D_wide", True), resolution=cfg["resolution"], D_attn=cfg["D_attn"],
            n_classes=cfg["n_classes"], num_D_SVs=1, num_D_SV_itrs=1, SN_eps=cfg.get("SN_eps", 1e-6),
            D_init="ortho", skip_init=skip_init, D_param="SN", D_lr=o.get("d_lr", 2e-4),
            D_B1=o.get("betas", (0.0, 0.999))[0], D_B2=o.get("betas", (0.0, 0.999))[1],
            adam_eps=o.get("adam_eps", 1e-8))


def mybn_state(default_state, mybn_keys):
    """A default-layout state_dict in the mybn=True layout (X.stored_* ->
    X.bn.stored_*, accumulation counters 0)."""
    out = {}
    for k in mybn_keys:
        if k.endswith(".bn.accumulation_counter"):
            out[k] = torch.zeros(1)
        else:
            out[k] = default_state[k.replace(".bn.stored_", ".stored_")]
    return out


def replay(t, values):
    """Make t.sample_() / t.normal_() / t.random_() copy the next of `values` into t."""
    it = iter(values)

    def draw(*_args, **_kwargs):
        t.copy_(next(it))
        return t
    t.sample_ = t.normal_ = t.random_ = draw
    return t


def ref_standing(R, Gm, zs, classes):
    """utils.accumulate_standing_stats on the mybn G, replaying the draws.
    Returns the default-layout view: {name: tensor} with stored = sum / counter."""
    z = replay(torch.zeros_like(zs[0]), zs)
    y = replay(torch.zeros_like(classes[0]), classes)
    R.utils.accumulate_standing_stats(Gm, z, y, Gm.n_classes, num_accumulations=len(zs))
    out = {}
    sd = Gm.state_dict()
    for k, v in sd.items():
        if k.endswith(".bn.accumulation_counter"):
            continue
        if k.endswith((".bn.stored_mean", ".bn.stored_var")):
            v = v / sd[k.rsplit(".", 1)[0] + ".accumulation_counter"]
            k = k.replace(".bn.stored_", ".stored_")
        out[k] = v
    return out


def ref_train_step(R, G, D, G_ema, opts, draws, itr):
    """One train_fns.GAN_training_function iteration with the draws replayed."""
    b = opts["batch"]
    fakes = draws["d_fakes"] + draws["g_fakes"]
    z_ = replay(torch.zeros_like(fakes[0][0]), [z for z, _ in fakes])
    y_ = replay(torch.zeros_like(fakes[0][1]), [y for _, y in fakes])
    x = torch.cat([x for x, _ in draws["reals"]])
    y = torch.cat([y for _, y in draws["reals"]])
    with quiet(io.StringIO()):
        ema = R.utils.ema(G, G_ema, opts["ema_decay"], opts["ema_start"])
    GD = R.BigGAN.G_D(G, D)
    config = dict(batch_size=b, toggle_grads=True, num_D_steps=opts["d_steps"],
                  num_D_accumulations=opts["d_accumulations"], num_G_accumulations=opts["g_accumulations"],
                  split_D=False, D_ortho=opts["d_ortho"], G_ortho=opts["g_ortho"], ema=True)
    G.train(), D.train()
    with quiet(io.StringIO()):
        out = R.train_fns.GAN_training_function(G, D, GD, z_, y_, ema, {"itr": itr}, config)(x, y)
    return dict(d_loss_real=out["D_loss_real"], d_loss_fake=out["D_loss_fake"], g_loss=out["G_loss"])


# ------------------------------------------------------------------ helpers

def md(a, b):
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item() if a.numel() else 0.0


def layout(net):
    return [(k, tuple(v.shape), v.dtype) for k, v in net.state_dict().items()]


def same_layout(a, b, what):
    la, lb = layout(a), layout(b)
    if la != lb:
        for x, y in zip(la, lb):
            if x != y:
                raise SystemExit(f"{what}: state_dict differs first at {x} vs {y} ({len(la)} vs {len(lb)} tensors)")
        raise SystemExit(f"{what}: {len(la)} vs {len(lb)} tensors")
    return len(la)


def perturb(net, gen):
    """Weights where nothing is trivially 0 or 1 (biases, gains, attention
    gamma, running statistics, u0)."""
    with torch.no_grad():
        for k, v in net.state_dict().items():
            if k.endswith("stored_var"):
                v.copy_(0.5 + torch.rand(v.shape, generator=gen))
            elif k.endswith(("stored_mean", ".bias", "gamma", ".u0")):
                v.copy_(0.3 * torch.randn(v.shape, generator=gen))
            elif k.endswith((".gain", ".sv0")):
                v.copy_(1.0 + 0.3 * torch.randn(v.shape, generator=gen))


def grad_diffs(named_a, named_b):
    """(max abs difference, max difference relative to each gradient's max abs value)."""
    worst_abs = worst_rel = 0.0
    for (na, pa), (nb, pb) in zip(named_a, named_b):
        assert na == nb
        if pa.grad is None and pb.grad is None:
            continue
        d = md(pa.grad, pb.grad)
        worst_abs = max(worst_abs, d)
        worst_rel = max(worst_rel, d / (pb.grad.abs().max().item() + 1e-30))
    return worst_abs, worst_rel


def changed_kinds(before, after):
    kinds = {}
    for k in before:
        kind = k.rsplit(".", 1)[1]
        ch = not torch.equal(before[k], after[k])
        n, c = kinds.get(kind, (0, 0))
        kinds[kind] = (n + 1, c + ch)
    return ", ".join(f"{kind} {c}/{n}" for kind, (n, c) in kinds.items() if c) or "none"


class Report:
    def __init__(self):
        self.worst = 0.0
        self.failed = []

    def line(self, what, value, rel=False, tol=TOL):
        print(f"    {what:44s} {value:.3g}{' (rel)' if rel else ''}")
        self.worst = max(self.worst, value)
        if not value <= tol:
            self.failed.append(what)


# ------------------------------------------------------------------ the checks

def compare_case(R, c, rep):
    gcfg, dcfg = g_config(c), d_config(c)
    torch.manual_seed(1234)
    Gr = ref_G(R, gcfg)
    torch.manual_seed(1234)
    Go = biggan.Generator(gcfg)
    torch.manual_seed(4321)
    Dr = ref_D(R, dcfg)
    torch.manual_seed(4321)
    Do = biggan.Discriminator(dcfg)
    n_g, n_d = same_layout(Gr, Go, "G"), same_layout(Dr, Do, "D")
    print(f"== {c['name']}: G {n_g} tensors (dim_z {Gr.dim_z} = {Gr.num_slots} x {Gr.z_chunk_size or Gr.dim_z}, "
          f"shared_dim {Gr.shared_dim}), D {n_d} tensors; names, shapes, dtypes, order identical")
    rep.line("same-seed initial state G / D", max(md(a, b) for a, b in zip(
        list(Gr.state_dict().values()) + list(Dr.state_dict().values()),
        list(Go.state_dict().values()) + list(Do.state_dict().values()))))
    gen = torch.Generator().manual_seed(1)
    perturb(Go, gen)
    perturb(Do, gen)
    Gr.load_state_dict(Go.state_dict())
    Dr.load_state_dict(Do.state_dict())
    state0 = {k: v.clone() for k, v in Go.state_dict().items()}
    n, k, r = c["batch"], c["n_classes"], c["resolution"]
    z = torch.randn(n, Go.cfg["dim_z"], generator=gen)
    y = torch.arange(n) % k

    Gr.eval(), Go.eval()
    with torch.no_grad():
        rep.line("G eval images", md(Gr(z, Gr.shared(y)), Go(z, Go.shared(y))))
    rep.line("G eval: buffers changed (both)", float(changed_kinds(state0, Go.state_dict()) != "none"
                                                     or changed_kinds(state0, Gr.state_dict()) != "none"))
    Gr.train(), Go.train()
    zr, zo = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
    yr_emb, yo_emb = Gr.shared(y), Go.shared(y)
    yr_emb.retain_grad(), yo_emb.retain_grad()
    out_r, out_o = Gr(zr, yr_emb), Go(zo, yo_emb)
    rep.line("G train images", md(out_r, out_o))
    rep.line("G buffers after the train forward", max(md(a, b) for a, b in zip(Gr.state_dict().values(),
                                                                                 Go.state_dict().values())))
    print(f"    (changed by the train forward: {changed_kinds(state0, Go.state_dict())})")
    dy = torch.randn(out_o.shape, generator=gen)
    (out_r * dy).sum().backward()
    (out_o * dy).sum().backward()
    ga, gr = grad_diffs(Gr.named_parameters(), Go.named_parameters())
    rep.line("G parameter gradients", ga)
    rep.line("G parameter gradients", gr, rel=True)
    rep.line("G grad z", md(zr.grad, zo.grad))
    rep.line("G grad y_emb", md(yr_emb.grad, yo_emb.grad))

    dstate0 = {kk: v.clone() for kk, v in Do.state_dict().items()}
    x = torch.randn(n, 3, r, r, generator=gen)
    xr, xo = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    yd = (torch.arange(n) * 2 + 1) % k
    Dr.train(), Do.train()
    lr, lo = Dr(xr, yd), Do(xo, yd)
    rep.line("D train logits", md(lr, lo))
    rep.line("D buffers after the train forward", max(md(a, b) for a, b in zip(Dr.state_dict().values(),
                                                                                 Do.state_dict().values())))
    print(f"    (changed by the train forward: {changed_kinds(dstate0, Do.state_dict())})")
    dl = torch.randn(lo.shape, generator=gen)
    (lr * dl).sum().backward()
    (lo * dl).sum().backward()
    ga, gr = grad_diffs(Dr.named_parameters(), Do.named_parameters())
    rep.line("D parameter gradients", ga)
    rep.line("D parameter gradients", gr, rel=True)
    rep.line("D grad images", md(xr.grad, xo.grad))
    Dr.eval(), Do.eval()
    with torch.no_grad():
        rep.line("D eval logits", md(Dr(x, yd), Do(x, yd)))

    for dtype in (torch.float32, torch.float64):
        Gm = ref_G(R, gcfg, mybn=True, skip_init=True, no_optim=True)
        Gm.load_state_dict(mybn_state(state0, Gm.state_dict().keys()))
        Gs = biggan.Generator(gcfg)
        Gs.load_state_dict(state0)
        Gm.to(dtype), Gs.to(dtype)
        sz, sy = biggan.standing_stats(Gs, 16, n, seed=77)
        ref_buf = ref_standing(R, Gm, list(sz.split(n)), list(sy.split(n)))
        name = "fp32" if dtype == torch.float32 else "fp64"
        rep.line(f"standing stats ({name}): buffers", max(md(ref_buf[kk], v) for kk, v in Gs.state_dict().items()))
        Gs.eval()
        with torch.no_grad():
            zd = z.to(dtype)
            rep.line(f"standing stats ({name}): eval images", md(Gm(zd, Gm.shared(y)), Gs(zd, Gs.shared(y))),
                     tol=1e-4 if dtype == torch.float32 else TOL)


def random_step_draws(cfg, opts, gen, dtype):
    b, k, r = opts["batch"], cfg["n_classes"], cfg["resolution"]
    dz = biggan.g_config_defaults(cfg)["dim_z"]
    draws = {"d_fakes": [], "reals": [], "g_fakes": []}
    for _ in range(opts["d_steps"] * opts["d_accumulations"]):
        draws["d_fakes"].append((torch.randn(b, dz, generator=gen).to(dtype), torch.randint(0, k, (b,), generator=gen)))
        draws["reals"].append(((torch.rand(b, 3, r, r, generator=gen) * 2 - 1).to(dtype),
                               torch.randint(0, k, (b,), generator=gen)))
    for _ in range(opts["g_accumulations"]):
        draws["g_fakes"].append((torch.randn(b, dz, generator=gen).to(dtype), torch.randint(0, k, (b,), generator=gen)))
    return draws


def both_steps(R, gcfg, dcfg, gstate, dstate, opts, draws, dtype, itr):
    """(reference nets, ours) after one iteration each from the same state."""
    nets = {}
    for who in ("ref", "ours"):
        if who == "ref":
            G = ref_G(R, gcfg, skip_init=True, opts=opts)
            G_ema = ref_G(R, gcfg, skip_init=True, no_optim=True)
            D = ref_D(R, dcfg, skip_init=True, opts=opts)
        else:
            G, G_ema, D = biggan.Generator(gcfg), biggan.Generator(gcfg), biggan.Discriminator(dcfg)
        G.load_state_dict(gstate), G_ema.load_state_dict(gstate), D.load_state_dict(dstate)
        G.to(dtype), G_ema.to(dtype), D.to(dtype)
        if who == "ref":
            losses = ref_train_step(R, G, D, G_ema, opts, draws, itr)
        else:
            optG = torch.optim.Adam(G.parameters(), lr=opts["g_lr"], betas=opts["betas"], eps=opts["adam_eps"])
            optD = torch.optim.Adam(D.parameters(), lr=opts["d_lr"], betas=opts["betas"], eps=opts["adam_eps"])
            losses = biggan.train_step(G, D, G_ema, optG, optD, opts, draws, itr)
        nets[who] = (G, D, G_ema, losses)
    return nets["ref"], nets["ours"]


def compare_step(R, rep):
    c = STEP_CASE
    gcfg, dcfg = g_config(c), d_config(c)
    opts = dict(mbf.STEP_OPTS)
    print(f"== {c['name']}: biggan.train_step vs train_fns.GAN_training_function (fp32), options {json.dumps(opts)}")
    G, D = biggan.Generator(gcfg), biggan.Discriminator(dcfg)
    gen = torch.Generator().manual_seed(5)
    perturb(G, gen)
    perturb(D, gen)
    draws = random_step_draws(gcfg, opts, gen, torch.float32)
    (Gr, Dr, Er, lr), (Go, Do, Eo, lo) = both_steps(R, gcfg, dcfg, G.state_dict(), D.state_dict(), opts, draws,
                                                  torch.float32, itr=1)
    rep.line("losses", max(abs(lr[kk] - lo[kk]) for kk in lo))
    for what, a, b in (("G", Gr, Go), ("D", Dr, Do), ("G_ema", Er, Eo)):
        rep.line(f"{what} state after the iteration",
                 max(md(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values())))
    rep.line("D gradients (last D step)", grad_diffs(Dr.named_parameters(), Do.named_parameters())[0])
    rep.line("G gradients (incl. ortho)", grad_diffs(Gr.named_parameters(), Go.named_parameters())[0])


# ------------------------------------------------------------------ fixtures

def read(d, name):
    return safetensors_io.read(os.path.join(d, name + ".safetensors"))


def tt(a):
    return torch.from_numpy(np.array(a, copy=True))


def np32(t):
    return t.detach().numpy().astype(np.float32) if torch.is_tensor(t) else np.float32(t)


def fixture_diffs(want, got):
    """Largest difference over the names in got, and names missing."""
    worst, worst_name = 0.0, ""
    for k, v in got.items():
        d = md(want[k], np32(v))
        if d >= worst:
            worst, worst_name = d, k
    return worst, worst_name


def recompute_generator(R, d, name, rep):
    weights, meta = read(d, name)
    out, _ = read(d, name + "_out")
    cfg = json.loads(meta["config"])
    G = ref_G(R, cfg, skip_init=True, no_optim=True)
    G.load_state_dict({k: tt(v) for k, v in weights.items()})
    G.double()
    z, y = tt(out["z"]).double(), tt(out["classes"]).long()
    got = {}
    G.eval()
    with torch.no_grad():
        got["eval_images"] = G(z, G.shared(y))
    G.train()
    zr = z.clone().requires_grad_(True)
    y_emb = G.shared(y)
    y_emb.retain_grad()
    img = G(zr, y_emb)
    got["train_images"] = img
    got.update({"after_train." + k: v for k, v in G.state_dict().items() if "after_train." + k in out})
    if "train_dy" in out:
        (img * tt(out["train_dy"]).double()).sum().backward()
        got.update({"grad." + n: p.grad for n, p in G.named_parameters()})
        got["grad_z"], got["grad_y_emb"] = zr.grad, y_emb.grad
    missing = [k for k in out if k not in got and not k.startswith(("standing", "trunc", "z", "classes", "train_dy"))]
    w, wn = fixture_diffs(out, got)
    rep.line(f"{name}_out: {len(got)} tensors (worst {wn})", w)
    if "standing.z" in out:
        b = len(y)
        Gm = ref_G(R, cfg, mybn=True, skip_init=True, no_optim=True)
        Gm.load_state_dict(mybn_state({k: v.float() for k, v in G.state_dict().items()}, Gm.state_dict().keys()))
        Gm.double()
        for k, v in G.state_dict().items():  # exact fp64 state after the train pass, not its fp32 rounding
            Gm.state_dict()[k.replace(".stored_", ".bn.stored_")].copy_(v)
        sz, sy = tt(out["standing.z"]).double(), tt(out["standing.classes"]).long()
        buf = ref_standing(R, Gm, list(sz.split(b)), list(sy.split(b)))
        got = {"standing." + k: v for k, v in buf.items() if "standing." + k in out}
        with torch.no_grad():
            got["standing_images"] = Gm(z, Gm.shared(y))
            got["trunc.images"] = Gm(tt(out["trunc.z"]).double(),
                                     Gm.shared(torch.full((len(out["trunc.z"]),), mbf.TRUNC_CLASS)))
        tz = np.stack([mbf.truncated_z(s, cfg["dim_z"], mbf.TRUNC) for s in mbf.TRUNC_SEEDS])
        got["trunc.z"] = torch.from_numpy(tz)
        w, wn = fixture_diffs(out, got)
        rep.line(f"{name}_out standing / trunc: {len(got)} tensors (worst {wn})", w)
        missing = [k for k in missing if k not in got]
    if missing:
        rep.failed.append(f"{name}_out: not recomputed: {missing}")


def recompute_discriminator(R, d, name, rep):
    weights, meta = read(d, name)
    out, _ = read(d, name + "_out")
    cfg = json.loads(meta["config"])
    D = ref_D(R, cfg, skip_init=True)
    D.load_state_dict({k: tt(v) for k, v in weights.items()})
    D.double().train()
    x = tt(out["images"]).double().requires_grad_(True)
    y = tt(out["classes"]).long()
    logits = D(x, y)
    got = {"logits": logits}
    got.update({"after_train." + k: v for k, v in D.state_dict().items() if "after_train." + k in out})
    if "dlogits" in out:
        (logits * tt(out["dlogits"]).double()).sum().backward()
        got.update({"grad." + n: p.grad for n, p in D.named_parameters()})
        got["grad_images"] = x.grad
    w, wn = fixture_diffs(out, got)
    rep.line(f"{name}_out: {len(got)} tensors (worst {wn})", w)


def recompute_sn(R, d, rep):
    t, _ = read(d, "biggan_sn")
    layer = R.layers.SNLinear(10, 6, bias=False, eps=1e-6)
    with torch.no_grad():
        layer.weight.copy_(tt(t["weight"]))
        layer.u0.copy_(tt(t["u0"]))
    layer.double().train()
    w_sn = layer.W_()
    (w_sn * tt(t["dw_sn"]).double()).sum().backward()
    got = dict(w_sn=w_sn, u=layer.u0, sigma=layer.sv0, dweight=layer.weight.grad)
    w, wn = fixture_diffs(t, got)
    rep.line(f"biggan_sn: {len(got)} tensors (worst {wn})", w)


def recompute_step(R, d, rep):
    t, meta = read(d, "biggan_step")
    opts = json.loads(meta["options"])
    opts["betas"] = tuple(opts["betas"])
    gcfg, dcfg = json.loads(meta["G_config"]), json.loads(meta["D_config"])
    gstate = {k[2:]: tt(v) for k, v in t.items() if k.startswith("G.")}
    dstate = {k[2:]: tt(v) for k, v in t.items() if k.startswith("D.")}
    draws = {"d_fakes": [], "reals": [], "g_fakes": []}
    for i in range(opts["d_steps"] * opts["d_accumulations"]):
        draws["d_fakes"].append((tt(t[f"d{i}.z"]).double(), tt(t[f"d{i}.classes"]).long()))
        draws["reals"].append((tt(t[f"d{i}.reals"]).double(), tt(t[f"d{i}.real_classes"]).long()))
    for i in range(opts["g_accumulations"]):
        draws["g_fakes"].append((tt(t[f"g{i}.z"]).double(), tt(t[f"g{i}.classes"]).long()))
    G = ref_G(R, gcfg, skip_init=True, opts=opts)
    G_ema = ref_G(R, gcfg, skip_init=True, no_optim=True)
    D = ref_D(R, dcfg, skip_init=True, opts=opts)
    G.load_state_dict(gstate), G_ema.load_state_dict(gstate), D.load_state_dict(dstate)
    G.double(), G_ema.double(), D.double()
    losses = ref_train_step(R, G, D, G_ema, opts, draws, itr=1)
    got = {"after.G." + k: v for k, v in G.state_dict().items()}
    got.update({"after.D." + k: v for k, v in D.state_dict().items()})
    got.update({"after.G_ema." + k: v for k, v in G_ema.state_dict().items()})
    got.update({"gradD." + n: p.grad for n, p in D.named_parameters()})
    got.update({"gradG." + n: p.grad for n, p in G.named_parameters()})
    got.update({"loss." + n: torch.tensor(v) for n, v in losses.items()})
    w, wn = fixture_diffs(t, got)
    rep.line(f"biggan_step: {len(got)} tensors (worst {wn})", w)


def recompute_fixtures(R, d, rep):
    print(f"== fixtures in {d}, recomputed with the reference's classes (fp64 from the stored fp32 weights)")
    for name in ("biggan_g32", "biggan_g128"):
        recompute_generator(R, d, name, rep)
    for name in ("biggan_d32", "biggan_d128"):
        recompute_discriminator(R, d, name, rep)
    recompute_sn(R, d, rep)
    recompute_step(R, d, rep)


# ------------------------------------------------------------------ dne generate

def check_conversion(R, dne, rep):
    """The reference's own G saved with torch.save, converted by
    biggan_pth_to_safetensors.py and rendered by `dne generate`: the PNG
    levels against the reference's evaluation-mode images of the same z."""
    import subprocess
    import tempfile

    from PIL import Image
    c = CASES[0]
    cfg = g_config(c)
    G = ref_G(R, cfg)
    perturb(G, torch.Generator().manual_seed(3))
    G.eval()
    seeds, cls = (0, 1, 2), 3
    z = np.stack([np.random.RandomState(s).randn(G.dim_z) for s in seeds]).astype(np.float32)
    with torch.no_grad():
        img = G(torch.from_numpy(z), G.shared(torch.full((len(seeds),), cls)))
    want = (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(G.state_dict(), f"{tmp}/G_ema.pth")
        subprocess.run([sys.executable, os.path.join(HERE, "biggan_pth_to_safetensors.py"), f"{tmp}/G_ema.pth",
                        f"{tmp}/g.safetensors", "--resolution", str(c["resolution"]), "--G_ch", str(c["G_ch"]),
                        "--dim_z", str(c["dim_z"]), "--shared_dim", str(c["shared_dim"]), "--n_classes",
                        str(c["n_classes"]), "--G_attn", c["G_attn"]], check=True, capture_output=True)
        run = subprocess.run([dne, "generate", "--network", f"{tmp}/g.safetensors", "--class", str(cls), "--seeds",
                              ",".join(map(str, seeds)), "--outdir", f"{tmp}/out"], capture_output=True, text=True)
        if run.returncode != 0:
            print("== BigGAN-PyTorch state_dict -> dne file -> dne generate")
            print(f"    {dne} generate failed ({run.returncode}): {run.stderr.strip()[:300]}")
            rep.failed.append("dne generate")
            return
        worst = max(int(np.abs(np.asarray(Image.open(f"{tmp}/out/seed{s:04d}.png")).transpose(2, 0, 1).astype(int)
                                - want[i]).max()) for i, s in enumerate(seeds))
    print("== BigGAN-PyTorch state_dict -> dne file -> dne generate")
    rep.line("PNG levels", worst, tol=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True, help="a BigGAN-PyTorch checkout")
    ap.add_argument("--fixtures", help="also recompute the biggan_* fixtures in this directory with the reference")
    ap.add_argument("--dne", help="a built dne: also check the .pth conversion end to end")
    args = ap.parse_args()
    torch.set_num_threads(1)
    R = import_reference(args.ref)
    print(f"torch {torch.__version__}, reference from {args.ref}")
    rep = Report()
    for c in CASES:
        compare_case(R, c, rep)
    compare_step(R, rep)
    if args.fixtures:
        recompute_fixtures(R, args.fixtures, rep)
    if args.dne:
        check_conversion(R, args.dne, rep)
    if rep.failed:
        print("FAILED: " + "; ".join(rep.failed))
        sys.exit(1)
    print(f"ALL OK (tolerance {TOL:g}; worst {rep.worst:.3g})")


if __name__ == "__main__":
    main()
