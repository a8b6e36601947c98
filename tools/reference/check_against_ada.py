#!/usr/bin/env -S /usr/bin/python3
"""Compare tools/reference/stylegan2.py with the real stylegan2-ada-pytorch code.

    /usr/bin/python3 tools/reference/check_against_ada.py --ada /tmp/ada

For several configs it builds the reference Generator (num_fp16_res=0, so fp32
everywhere; CPU, so its slow pure-PyTorch ops) and ours, and checks:
  1. state_dict names, shapes and order are identical;
  2. with the same torch seed both constructors draw identical initial weights;
  3. after loading one random state (every bias, noise strength, w_avg etc.
     non-zero) into both, ws and images agree within 1e-5 (max abs) for
     psi 1 and 0.7, cutoff None and 2, noise_mode const (plus none, and random
     with the same torch seed).
With --fixtures DIR it also re-computes every stored output of
tests/fixtures (sg2_*_out.safetensors and ops.safetensors) with the reference's
own functions and compares.
Exit status 0 only if everything passes. Nothing from the reference is copied;
it is imported from the directory given by --ada.
"""

import argparse
import json
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import stylegan2  # noqa: E402

TOL = 1e-5

CONFIGS = [
    # name, our config, random (non-symmetric) resample filters?
    ("32px c0 noclamp", dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=32, img_channels=3,
                             mapping_layers=2, channel_base=512, channel_max=32, conv_clamp=None), False),
    ("64px c0 clamp256 (snapshot-like)", dict(z_dim=128, w_dim=128, c_dim=0, img_resolution=64, img_channels=3,
                                             mapping_layers=4, channel_base=1024, channel_max=128,
                                             conv_clamp=256), False),
    ("32px c5 clamp0.5", dict(z_dim=16, w_dim=24, c_dim=5, img_resolution=32, img_channels=3,
                              mapping_layers=3, channel_base=256, channel_max=24, conv_clamp=0.5), False),
    ("16px c3 1ch randfilt", dict(z_dim=8, w_dim=16, c_dim=3, img_resolution=16, img_channels=1,
                                  mapping_layers=1, channel_base=128, channel_max=16, conv_clamp=2), True),
]


def ada_generator(cfg):
    from training.networks import Generator as AdaGenerator
    return AdaGenerator(z_dim=cfg["z_dim"], c_dim=cfg["c_dim"], w_dim=cfg["w_dim"],
                        img_resolution=cfg["img_resolution"], img_channels=cfg["img_channels"],
                        mapping_kwargs={"num_layers": cfg["mapping_layers"]},
                        synthesis_kwargs={"channel_base": cfg["channel_base"], "channel_max": cfg["channel_max"],
                                          "num_fp16_res": 0, "conv_clamp": cfg["conv_clamp"]}).eval()


def maxdiff(a, b):
    return float((a - b).abs().max())


def check_config(name, cfg, random_filters, failures):
    cfg = dict(cfg, arch="stylegan2")
    print("== %s: %s" % (name, {k: v for k, v in cfg.items() if k != "arch"}))

    # 1 + 2: structure and initialisation.
    torch.manual_seed(123)
    ref = ada_generator(cfg)
    torch.manual_seed(123)
    ours = stylegan2.Generator(cfg)
    sd_ref, sd_ours = ref.state_dict(), ours.state_dict()
    layout_ref = [(k, tuple(v.shape)) for k, v in sd_ref.items()]
    layout_ours = [(k, tuple(v.shape)) for k, v in sd_ours.items()]
    if layout_ref != layout_ours:
        failures.append("%s: state_dict layout differs" % name)
        for a, b in zip(layout_ref, layout_ours):
            if a != b:
                print("   first difference: ada %s vs ours %s" % (a, b))
                break
    else:
        print("   state_dict: %d tensors, names/shapes/order identical" % len(layout_ref))
    init_diff = max(maxdiff(sd_ref[k], sd_ours[k]) for k in sd_ref)
    print("   same-seed initial weights max diff: %g" % init_diff)
    if init_diff != 0:
        failures.append("%s: initialisation differs" % name)

    # 3: outputs on a random, fully non-trivial state.
    gen = torch.Generator().manual_seed(7)
    state = stylegan2.random_test_state(layout_ref, gen, random_filters=random_filters)
    ref.load_state_dict(state)
    ours.load_arrays(state)
    n = 3
    z = torch.randn([n, cfg["z_dim"]], generator=gen)
    c = None
    if cfg["c_dim"] > 0:
        c = torch.nn.functional.one_hot(torch.arange(n) % cfg["c_dim"], cfg["c_dim"]).float()
    worst = 0.0
    with torch.no_grad():
        for psi in (1.0, 0.7):
            for cutoff in (None, 2):
                ws_ref = ref.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
                ws_ours = ours.mapping(z, c, psi=psi, cutoff=cutoff)
                img_ref = ref.synthesis(ws_ref, noise_mode="const", force_fp32=True)
                img_ours = ours.synthesis(ws_ours, noise_mode="const")
                dw, di = maxdiff(ws_ref, ws_ours), maxdiff(img_ref, img_ours)
                worst = max(worst, dw, di)
                print("   psi %.1f cutoff %-4s const: ws diff %.3g, img diff %.3g (img range %.3g..%.3g)"
                      % (psi, cutoff, dw, di, float(img_ref.min()), float(img_ref.max())))
                if dw >= TOL or di >= TOL:
                    failures.append("%s psi %s cutoff %s: ws %g img %g" % (name, psi, cutoff, dw, di))
        ws = ref.mapping(z, c, truncation_psi=0.7)
        for mode in ("none", "random"):
            torch.manual_seed(99)
            img_ref = ref.synthesis(ws, noise_mode=mode, force_fp32=True)
            torch.manual_seed(99)
            img_ours = ours.synthesis(ws, noise_mode=mode)
            di = maxdiff(img_ref, img_ours)
            worst = max(worst, di)
            print("   psi 0.7 noise %-6s: img diff %.3g" % (mode, di))
            if di >= TOL:
                failures.append("%s noise %s: img %g" % (name, mode, di))
    print("   worst diff %.3g -> %s" % (worst, "ok" if worst < TOL else "FAIL"))


def check_fixtures(fixdir, failures):
    """Recompute the committed fixtures with the reference code itself."""
    from torch_utils.ops import bias_act, upfirdn2d
    from training import networks

    print("== fixtures in %s, recomputed with the reference" % fixdir)
    for name in ("sg2_64", "sg2_128", "sg2_32c"):
        model, meta = safetensors_io.read(os.path.join(fixdir, name + ".safetensors"))
        out, ometa = safetensors_io.read(os.path.join(fixdir, name + "_out.safetensors"))
        cfg = json.loads(meta["config"])
        ref = ada_generator(cfg)
        ref.load_state_dict({k: torch.from_numpy(v) for k, v in model.items()})
        worst = 0.0
        with torch.no_grad():
            for case in json.loads(ometa["cases"]):
                for i in range(out["z"].shape[0]):
                    z = torch.from_numpy(out["z"][i:i + 1])
                    c = torch.from_numpy(out["c"][i:i + 1]) if "c" in out else None
                    ws = ref.mapping(z, c, truncation_psi=case["psi"], truncation_cutoff=case["cutoff"])
                    img = ref.synthesis(ws, noise_mode="const", force_fp32=True)
                    dw = maxdiff(ws, torch.from_numpy(out[case["ws"]][i:i + 1]))
                    di = maxdiff(img, torch.from_numpy(out[case["img"]][i:i + 1]))
                    worst = max(worst, dw, di)
        print("   %-8s %s: worst diff %.3g" % (name, [c["img"] for c in json.loads(ometa["cases"])], worst))
        if worst >= TOL:
            failures.append("fixture %s differs from the reference by %g" % (name, worst))

    t, _ = safetensors_io.read(os.path.join(fixdir, "ops.safetensors"))
    T = {k: torch.from_numpy(v) for k, v in t.items()}
    res = {}
    fc = networks.FullyConnectedLayer(32, 16, lr_multiplier=float(T["linear.lr_mul"]))
    fc.load_state_dict({"weight": T["linear.weight"], "bias": T["linear.bias"]})
    with torch.no_grad():
        res["linear.y"] = fc(T["linear.x"])
    res["norm2.y"] = networks.normalize_2nd_moment(T["norm2.x"])
    x = T["bias_act.x"] + T["bias_act.noise"] * T["bias_act.noise_strength"]
    res["bias_act.y_lrelu"] = bias_act.bias_act(x, T["bias_act.b"], act="lrelu", clamp=float(T["bias_act.clamp"]))
    res["bias_act.y_linear"] = bias_act.bias_act(T["bias_act.x"], T["bias_act.b"], act="linear")
    mc = networks.modulated_conv2d
    for d in (True, False):
        res["modconv.y_demod" if d else "modconv.y_nodemod"] = mc(
            T["modconv.x"], T["modconv.weight"], T["modconv.styles"], padding=1, demodulate=d,
            flip_weight=True, fused_modconv=True)
    for case in ("modconv_up", "modconv_up_odd"):
        res[case + ".y"] = mc(T[case + ".x"], T[case + ".weight"], T[case + ".styles"], up=2, padding=1,
                              resample_filter=T[case + ".filter"], demodulate=True, flip_weight=False,
                              fused_modconv=True)
    res["torgb.y"] = mc(T["torgb.x"], T["torgb.weight"], T["torgb.styles"], demodulate=False, fused_modconv=True)
    res["upsample2d.y"] = upfirdn2d.upsample2d(T["upsample2d.x"], T["upsample2d.filter"])
    res["downsample2d.y"] = upfirdn2d.downsample2d(T["downsample2d.x"], T["downsample2d.filter"])
    pad = [int(v) for v in T["upfirdn2d_generic.pad"]]
    res["upfirdn2d_generic.y"] = upfirdn2d.upfirdn2d(
        T["upfirdn2d_generic.x"], T["upfirdn2d_generic.filter"], up=int(T["upfirdn2d_generic.up"]),
        down=int(T["upfirdn2d_generic.down"]), padding=pad, gain=float(T["upfirdn2d_generic.gain"]))
    # Truncation as the reference's MappingNetwork does it.
    ws = T["truncate.ws"].clone()
    k = int(T["truncate.cutoff"])
    ws[:, :k] = T["truncate.w_avg"].lerp(ws[:, :k], float(T["truncate.psi"]))
    res["truncate.y"] = ws
    worst = 0.0
    for key, v in res.items():
        d = maxdiff(v, T[key])
        worst = max(worst, d)
        if d >= TOL:
            failures.append("ops %s differs from the reference by %g" % (key, d))
    print("   ops.safetensors: %d outputs, worst diff %.3g" % (len(res), worst))


def check_pickle_import(failures):
    """Write snapshot pickles with the reference's own code, as its training loop does
    (EasyDict kwargs, G/D/G_ema/augment_pipe, pickle protocols 2-5), convert them with
    pickle_to_safetensors.py and compare tensors and images with the reference."""
    import copy
    import pickle
    import tempfile
    import dnnlib
    import pickle_to_safetensors
    try:
        from training.augment import AugmentPipe   # needs scipy
    except ImportError:
        AugmentPipe = None

    print("== snapshot pickles written by the reference -> pickle_to_safetensors.py")
    common = dict(c_dim=4, img_resolution=16, img_channels=3)
    G_kwargs = dnnlib.EasyDict(class_name="training.networks.Generator", z_dim=16, w_dim=16,
                               mapping_kwargs=dnnlib.EasyDict(num_layers=2),
                               synthesis_kwargs=dnnlib.EasyDict(channel_base=128, channel_max=16,
                                                                num_fp16_res=4, conv_clamp=256))
    D_kwargs = dnnlib.EasyDict(class_name="training.networks.Discriminator", block_kwargs=dnnlib.EasyDict(),
                               mapping_kwargs=dnnlib.EasyDict(), epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=4),
                               channel_base=128, channel_max=16, num_fp16_res=4, conv_clamp=256)
    torch.manual_seed(5)
    G = dnnlib.util.construct_class_by_name(**G_kwargs, **common).train().requires_grad_(False)
    D = dnnlib.util.construct_class_by_name(**D_kwargs, **common).train().requires_grad_(False)
    gen = torch.Generator().manual_seed(11)
    G.load_state_dict(stylegan2.random_test_state([(k, tuple(v.shape)) for k, v in G.state_dict().items()], gen))
    G_ema = copy.deepcopy(G).eval()
    pipe = None
    if AugmentPipe is not None:
        pipe = AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1,
                           contrast=1, lumaflip=1, hue=1, saturation=1).train().requires_grad_(False)
        pipe.p.copy_(torch.as_tensor(0.25))
    else:
        print("   (scipy missing: the snapshot gets augment_pipe=None, like a --aug=noaug run)")
    snap = dict(training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="x.zip"))
    for name, m in (("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", pipe)):
        snap[name] = copy.deepcopy(m).eval().requires_grad_(False).cpu() if m is not None else None
    z = torch.randn([2, 16], generator=gen)
    c = torch.nn.functional.one_hot(torch.tensor([0, 3]), 4).float()
    with torch.no_grad():
        want = snap["G_ema"](z, c, truncation_psi=0.7, noise_mode="const", force_fp32=True)
    with tempfile.TemporaryDirectory() as tmp:
        for proto in (2, 3, 4, 5):
            pkl, out = os.path.join(tmp, "snap%d.pkl" % proto), os.path.join(tmp, "g%d.safetensors" % proto)
            with open(pkl, "wb") as f:
                pickle.dump(snap, f, protocol=proto)
            try:
                config, n = pickle_to_safetensors.convert(pkl, out)
                ours = stylegan2.Generator.load(out)
            except Exception as e:  # report, keep going
                failures.append("pickle protocol %d: %s" % (proto, e))
                print("   protocol %d: FAILED %s" % (proto, e))
                continue
            sd_ref = snap["G_ema"].state_dict()
            same = list(sd_ref) == list(ours.state_dict()) and all(
                torch.equal(sd_ref[k], v) for k, v in ours.state_dict().items())
            with torch.no_grad():
                d = maxdiff(ours(z, c, psi=0.7, noise_mode="const"), want)
            print("   protocol %d: %d tensors, identical to G_ema.state_dict(): %s, img diff %.3g, config %s"
                  % (proto, n, same, d, json.dumps(config)))
            if not same or d >= TOL:
                failures.append("pickle protocol %d: tensors equal %s, img diff %g" % (proto, same, d))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--ada", required=True, help="stylegan2-ada-pytorch checkout (e.g. /tmp/ada)")
    ap.add_argument("--fixtures", default=None, help="also verify the fixtures in this directory")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.ada))
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)   # deterministic, and the same on every machine
    print("torch %s, reference from %s" % (torch.__version__, os.path.abspath(args.ada)))
    failures = []
    for name, cfg, rf in CONFIGS:
        check_config(name, cfg, rf, failures)
    check_pickle_import(failures)
    if args.fixtures:
        check_fixtures(args.fixtures, failures)
    if failures:
        print("FAILED:")
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("ALL OK (tolerance %g)" % TOL)


if __name__ == "__main__":
    main()
