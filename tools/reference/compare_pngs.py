#!/usr/bin/env -S /usr/bin/python3
"""Generate images from a dne generator file and compare them with PNGs made by the reference.

    /usr/bin/python3 tools/reference/compare_pngs.py MODEL.safetensors PNG_DIR [--class K]

Every PNG_DIR/*psi<P>-seed<S>.png (e.g. G_ema-psi0.5-seed0042.png) is
regenerated the way generate.py does it: z = RandomState(S).randn(1, z_dim)
(float64 -> float32), truncation psi P (cutoff None), noise_mode const,
uint8 = clamp(img*127.5 + 128, 0, 255) truncated. Prints the max absolute
level difference and the number of differing values per file; exit status 1
if any difference exceeds --max-diff (default 1).

--replay-training-mode reproduces PNGs that were rendered with the module
still in training mode (as the files in
/work/shared/data/stylegan2_ada_pickles/ were, see README.md): every mapping
call then first updates w_avg <- lerp(mean_batch(w), w_avg, 0.995) and the
truncation uses the updated w_avg. Files are replayed in the order psi
descending, then seed ascending, carrying w_avg from one call to the next.
(Training mode also selects the non-fused modconv path, which moves a handful
of values by 1 level; that part is not replayed.)
"""

import argparse
import glob
import os
import re
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylegan2  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("png_dir")
    ap.add_argument("--class", dest="class_idx", type=int, default=None, help="label for conditional models")
    ap.add_argument("--max-diff", type=int, default=1)
    ap.add_argument("--replay-training-mode", action="store_true",
                    help="update w_avg before each truncation as the reference does in training mode")
    ap.add_argument("--ada", default=None,
                    help="stylegan2-ada-pytorch checkout: also render with the real reference (eval mode) and "
                         "print the float difference to ours")
    args = ap.parse_args()

    G = stylegan2.Generator.load(args.model)
    ref = None
    if args.ada:
        import warnings
        warnings.filterwarnings("ignore")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from check_against_ada import ada_generator
        sys.path.insert(0, os.path.abspath(args.ada))
        ref = ada_generator(G.config)
        ref.load_state_dict(G.state_dict())
    c = None
    if G.c_dim > 0:
        if args.class_idx is None:
            sys.exit("conditional model: pass --class")
        c = torch.zeros([1, G.c_dim])
        c[0, args.class_idx] = 1
    worst = 0
    files = []
    for path in glob.glob(os.path.join(args.png_dir, "*.png")):
        m = re.search(r"psi([0-9.]+)-seed(\d+)\.png$", os.path.basename(path))
        if m:
            files.append((-float(m.group(1)), int(m.group(2)), path))
    files.sort()
    checked = 0
    for neg_psi, seed, path in files:
        psi = -neg_psi
        z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).to(torch.float32)
        with torch.no_grad():
            if args.replay_training_mode:
                ws = G.mapping(z, c)        # psi 1: untruncated
                G.mapping.w_avg.copy_(ws[:, 0].mean(dim=0).lerp(G.mapping.w_avg, 0.995))
                img = G.synthesis(stylegan2.truncate(ws, G.mapping.w_avg, psi, None), noise_mode="const")
            else:
                img = G(z, c, psi=psi, cutoff=None, noise_mode="const")
        ours = stylegan2.to_uint8(img)[0].numpy().astype(np.int16)
        note = ""
        if ref is not None and not args.replay_training_mode:
            with torch.no_grad():
                img_ref = ref(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True)
            note = "; ada eval-mode vs ours: max abs diff %.3g" % float((img_ref - img).abs().max())
        png = np.asarray(Image.open(path).convert("RGB" if G.img_channels == 3 else "L")).astype(np.int16)
        if png.ndim == 2:
            png = png[:, :, None]
        if png.shape != ours.shape:
            print("%s: shape %s, ours %s" % (os.path.basename(path), png.shape, ours.shape))
            worst = 999
            continue
        d = np.abs(png - ours)
        worst = max(worst, int(d.max()))
        checked += 1
        print("%s psi %.1f seed %d: max level diff %d, %d of %d values differ%s"
              % (os.path.basename(path), psi, seed, int(d.max()), int((d > 0).sum()), d.size, note))
    if checked == 0:
        sys.exit("no *psi<P>-seed<S>.png files in %s" % args.png_dir)
    print("worst max level diff over %d images: %d" % (checked, worst))
    sys.exit(0 if worst <= args.max_diff else 1)


if __name__ == "__main__":
    main()
