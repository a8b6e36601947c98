#!/usr/bin/env -S /usr/bin/python3
"""Write the StyleGAN2 parity fixtures into tests/fixtures/.

    /usr/bin/python3 tools/reference/make_fixtures.py [--out tests/fixtures]

Files (all float32 safetensors):
  sg2_64.safetensors,  sg2_64_out.safetensors    64 px, no clamp
  sg2_128.safetensors, sg2_128_out.safetensors   128 px, conv_clamp 256, clamps triggered on purpose
  sg2_32c.safetensors, sg2_32c_out.safetensors   32 px conditional (c_dim 5)
  ops.safetensors                                per-op cases "<case>.<role>"

Model weights come from stylegan2.random_test_state (every bias, noise
strength, affine bias, w_avg, const and noise_const non-zero). Outputs follow
generate.py: z = RandomState(seed).randn(1, z_dim) cast to float32, one seed
per forward pass (batch 1), noise_mode const.

Everything is seeded and torch runs single-threaded, so rerunning with the
same torch/numpy reproduces byte-identical files.
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

SEEDS = (0, 42)
CLASSES = (1, 3)          # one-hot labels for the conditional model, one per seed

MODELS = [
    # name, config, weight seed, extra output cases (psi, cutoff)
    ("sg2_64", dict(z_dim=128, w_dim=64, c_dim=0, img_resolution=64, img_channels=3, mapping_layers=4,
                    channel_base=1024, channel_max=32, conv_clamp=None), 64, [(0.7, 4)]),
    ("sg2_128", dict(z_dim=64, w_dim=64, c_dim=0, img_resolution=128, img_channels=3, mapping_layers=2,
                     channel_base=2048, channel_max=32, conv_clamp=256), 128, []),
    ("sg2_32c", dict(z_dim=32, w_dim=32, c_dim=5, img_resolution=32, img_channels=3, mapping_layers=2,
                     channel_base=512, channel_max=32, conv_clamp=256), 32, []),
    # The smallest network: one block (no up-sampling, no image skip sum), one
    # mapping layer, a single grey channel.
    ("sg2_4", dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=4, img_channels=1, mapping_layers=1,
                   channel_base=64, channel_max=16, conv_clamp=None), 4, []),
]


def tag(psi, cutoff=None):
    s = "psi%03d" % round(psi * 100)
    return s if cutoff is None else s + "_cutoff%d" % cutoff


def force_clamping(state, gen):
    """Make the ±256 clamp of sg2_128 trigger, while keeping most of the image sane.

    Scaling whole layers' biases by ~400 saturates everything downstream (the
    modulated convs are linear in their input, so huge activations in b16 make
    every later block and the image huge). Instead only a few channels are
    pushed to the clamp boundary, and the layers that read those channels get
    tiny weights for them:
      * b16.conv0 and b16.conv1, channels 0-3: bias ≈ +256/√2 (lrelu·√2 reaches
        256 when the conv output is above ~0, so about half of the pixels clamp
        at +256); channels 4-5: bias ≈ -256/(0.2·√2) (negative side, some clamp
        at -256).
      * b16.conv1 and b32.conv0 / b16.torgb read channels 0-5 with weights × 1e-3.
      * b128.torgb bias: R = +255, B = -255 (R clamps at +256 wherever its
        torgb output exceeds +1, B at -256 below -1; G untouched).
    """
    big = list(range(6))
    for layer in ("synthesis.b16.conv0", "synthesis.b16.conv1"):
        b = state[layer + ".bias"]
        b[0:4] = 256 / np.sqrt(2) + 0.5 * torch.randn([4], generator=gen)
        b[4:6] = -256 / (0.2 * np.sqrt(2)) + 2.0 * torch.randn([2], generator=gen)
    for reader in ("synthesis.b16.conv1.weight", "synthesis.b32.conv0.weight", "synthesis.b16.torgb.weight"):
        state[reader][:, big] *= 1e-3
    b = state["synthesis.b128.torgb.bias"]
    b[0], b[2] = 255.0, -255.0


class ClampCounter:
    """Counts, per layer, how many outputs the conv_clamp changed (pre-clamp |y| > clamp)."""

    def __init__(self, G):
        self.counts = {}
        self.current = None
        self.hooks = []
        for name, m in G.named_modules():
            if isinstance(m, (stylegan2.SynthesisLayer, stylegan2.ToRGB)):
                self.hooks.append(m.register_forward_pre_hook(
                    lambda mod, inp, name=name: setattr(self, "current", name)))
        self.orig = stylegan2.bias_act

        def counting_bias_act(x, b=None, act="linear", gain=None, clamp=None):
            if clamp is not None:
                y = self.orig(x, b, act, gain, None)
                n, tot = self.counts.get(self.current, (0, 0))
                self.counts[self.current] = (n + int((y.abs() > clamp).sum()), tot + y.numel())
            return self.orig(x, b, act, gain, clamp)
        stylegan2.bias_act = counting_bias_act

    def close(self):
        stylegan2.bias_act = self.orig
        for h in self.hooks:
            h.remove()


def make_model(outdir, name, cfg, seed, extra_cases, sizes):
    cfg = dict(cfg, arch="stylegan2")
    torch.manual_seed(seed)                  # construction draws from the global RNG
    G = stylegan2.Generator(cfg)
    gen = torch.Generator().manual_seed(seed)
    layout = [(k, tuple(v.shape)) for k, v in G.state_dict().items()]
    state = stylegan2.random_test_state(layout, gen)
    if name == "sg2_128":
        force_clamping(state, gen)
    G.load_arrays(state)
    path = os.path.join(outdir, name + ".safetensors")
    G.save(path)
    sizes.append(path)

    z = np.concatenate([np.random.RandomState(s).randn(1, cfg["z_dim"]) for s in SEEDS]).astype(np.float32)
    out = {"seeds": np.array(SEEDS, dtype=np.float32), "z": z}
    c = None
    if cfg["c_dim"] > 0:
        c = np.zeros([len(SEEDS), cfg["c_dim"]], dtype=np.float32)
        c[np.arange(len(SEEDS)), CLASSES] = 1
        out["c"] = c
    cases = [(1.0, None), (0.7, None)] + list(extra_cases)
    counter = ClampCounter(G) if name == "sg2_128" else None
    with torch.no_grad():
        for psi, cutoff in cases:
            ws_all, img_all = [], []
            for i in range(len(SEEDS)):         # batch 1 per seed, like generate.py
                zi = torch.from_numpy(z[i:i + 1])
                ci = torch.from_numpy(c[i:i + 1]) if c is not None else None
                ws = G.mapping(zi, ci, psi=psi, cutoff=cutoff)
                ws_all.append(ws)
                img_all.append(G.synthesis(ws, noise_mode="const"))
            img = torch.cat(img_all)
            out["ws_" + tag(psi, cutoff)] = torch.cat(ws_all).numpy()
            out["img_" + tag(psi, cutoff)] = img.numpy()
            print("  %-8s %-18s img range %9.3f .. %8.3f, |img| < 1 for %5.1f%%" %
                  (name, tag(psi, cutoff), float(img.min()), float(img.max()),
                   100 * float((img.abs() < 1).float().mean())))
    if counter is not None:
        counter.close()
        print("  %s: outputs changed by the ±%g clamp, per layer (all cases and seeds):" % (name, cfg["conv_clamp"]))
        for layer, (n, tot) in counter.counts.items():
            if n:
                print("    %-22s %7d of %8d" % (layer, n, tot))
        print("    (all other layers: 0)")
    meta = {
        "model": name + ".safetensors",
        "seeds": json.dumps(list(SEEDS)),
        "cases": json.dumps([{"psi": p, "cutoff": co, "ws": "ws_" + tag(p, co), "img": "img_" + tag(p, co)}
                             for p, co in cases]),
        "noise_mode": "const",
        "z": "np.random.RandomState(seed).randn(1, z_dim).astype(float32), one row per seed",
        "batch": "each seed is run on its own (batch 1)",
    }
    if c is not None:
        meta["classes"] = json.dumps(list(CLASSES))
    path = os.path.join(outdir, name + "_out.safetensors")
    safetensors_io.write(path, out, meta)
    sizes.append(path)


def make_ops(outdir, sizes):
    torch.manual_seed(1234)
    t = {}
    f4 = stylegan2.setup_filter()

    def put(case, **arrays):
        for role, v in arrays.items():
            t["%s.%s" % (case, role)] = np.asarray(torch.as_tensor(v, dtype=torch.float32).numpy())

    # linear: equalized-lr FC with the mapping's lr_mul.
    fc = stylegan2.FullyConnected(32, 16, lr_mul=0.01)
    x = torch.randn(4, 32)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(16, 32))
        fc.bias.copy_(torch.randn(16))
        put("linear", x=x, weight=fc.weight, bias=fc.bias, lr_mul=torch.tensor(0.01), y=fc(x))

    x = torch.randn(3, 16) * 3
    put("norm2", x=x, y=stylegan2.normalize_2nd_moment(x))

    # bias_act: as in a SynthesisLayer, noise*strength is added before bias, lrelu, gain, clamp.
    x = torch.randn(2, 5, 6, 7) * 2
    b = torch.randn(5) * 0.5
    noise = torch.randn(6, 7)
    strength = torch.tensor(0.3)
    clamp = torch.tensor(1.5)
    y_lrelu = stylegan2.bias_act(x + noise * strength, b, act="lrelu", clamp=float(clamp))
    put("bias_act", x=x, b=b, noise=noise, noise_strength=strength, clamp=clamp, y_lrelu=y_lrelu,
        y_linear=stylegan2.bias_act(x, b, act="linear"))

    x, w, s = torch.randn(2, 6, 5, 5), torch.randn(4, 6, 3, 3), torch.randn(2, 6)
    put("modconv", x=x, weight=w, styles=s,
        y_demod=stylegan2.modulated_conv2d(x, w, s, demodulate=True, padding=1),
        y_nodemod=stylegan2.modulated_conv2d(x, w, s, demodulate=False, padding=1))

    x, w, s = torch.randn(2, 6, 5, 5), torch.randn(4, 6, 3, 3), torch.randn(2, 6)
    put("modconv_up", x=x, weight=w, styles=s, filter=f4,
        y=stylegan2.modulated_conv2d(x, w, s, demodulate=True, up=2, padding=1, f=f4))

    x, w, s = torch.randn(1, 3, 4, 6), torch.randn(5, 3, 3, 3), torch.randn(1, 3)
    put("modconv_up_odd", x=x, weight=w, styles=s, filter=f4,
        y=stylegan2.modulated_conv2d(x, w, s, demodulate=True, up=2, padding=1, f=f4))

    x, w = torch.randn(2, 6, 5, 5), torch.randn(3, 6, 1, 1)
    s = (torch.randn(2, 6) + 1) * (1 / np.sqrt(6))     # ToRGB styles already carry the 1/sqrt(I) gain
    put("torgb", x=x, weight=w, styles=s, y=stylegan2.modulated_conv2d(x, w, s, demodulate=False))

    x = torch.randn(2, 3, 5, 5)
    put("upsample2d", x=x, filter=f4, y=stylegan2.upsample2d(x, f4))

    x = torch.randn(2, 3, 8, 8)
    put("downsample2d", x=x, filter=f4, y=stylegan2.downsample2d(x, f4))

    # Generic upfirdn2d with a non-symmetric, non-square filter, so that filter
    # orientation (true convolution) and per-axis padding/cropping matter.
    x = torch.randn(1, 2, 7, 5)
    f = torch.rand(3, 2) + 0.1
    pad = (2, 1, 1, -1)           # x0, x1, y0, y1
    put("upfirdn2d_generic", x=x, filter=f, up=torch.tensor(2.0), down=torch.tensor(1.0),
        pad=torch.tensor(pad, dtype=torch.float32), gain=torch.tensor(1.5),
        y=stylegan2.upfirdn2d(x, f, up=2, down=1, pad=pad, gain=1.5, flip_filter=False))

    ws, w_avg = torch.randn(2, 5, 8), torch.randn(8)
    put("truncate", ws=ws, w_avg=w_avg, psi=torch.tensor(0.7), cutoff=torch.tensor(3.0),
        y=stylegan2.truncate(ws, w_avg, 0.7, 3))

    meta = {
        "linear": "y = x @ (weight*lr_mul/sqrt(in)).T + bias*lr_mul (torch.addmm)",
        "norm2": "y = x * rsqrt(mean(x^2, dim 1) + 1e-8)",
        "bias_act": "y_lrelu = clamp(lrelu(x + noise*noise_strength + b, 0.2)*sqrt(2), +-clamp); y_linear = x + b",
        "modconv": "fused modulated conv, 3x3, padding 1, correlation (torch conv2d); y_demod with eps 1e-8",
        "modconv_up": "conv0 path: conv_transpose2d(stride 2, padding 0, kernel as-is) then "
                      "upfirdn2d(filter, pad 1,1,1,1, gain 4); demodulated",
        "modconv_up_odd": "as modconv_up, non-square input",
        "torgb": "1x1 modulated conv, no demodulation (styles already scaled by 1/sqrt(I))",
        "upsample2d": "upfirdn2d(up 2, pad (2,1,2,1), gain 4)",
        "downsample2d": "upfirdn2d(down 2, pad (1,1,1,1), gain 1)",
        "upfirdn2d_generic": "up 2, down 1, pad (x0,x1,y0,y1) = (2,1,1,-1), gain 1.5, true convolution "
                             "(flip_filter False); filter [fh=3, fw=2]",
        "truncate": "y = w_avg.lerp(ws, psi) on layers < cutoff (torch.lerp: end - (end-start)*(1-psi) "
                    "for psi >= 0.5)",
    }
    path = os.path.join(outdir, "ops.safetensors")
    safetensors_io.write(path, t, meta)
    sizes.append(path)


def main():
    ap = argparse.ArgumentParser(description="Write StyleGAN2 parity fixtures.")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    sizes = []
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    for name, cfg, seed, extra in MODELS:
        make_model(args.out, name, cfg, seed, extra, sizes)
    make_ops(args.out, sizes)
    total = 0
    for p in sizes:
        n = os.path.getsize(p)
        total += n
        print("  %-28s %9d bytes" % (os.path.basename(p), n))
    print("  %-28s %9d bytes" % ("total", total))


if __name__ == "__main__":
    main()
