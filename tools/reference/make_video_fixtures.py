#!/usr/bin/env -S /usr/bin/python3
"""Write the fixtures of dne video / dne mix / dne generate --ws into tests/fixtures/.

    /usr/bin/python3 tools/reference/make_video_fixtures.py [--out tests/fixtures]

Files:
  mix_64_grid.png      style_mixing.py's grid.png for sg2_64.safetensors with
                       --rows 0,42 --cols 7,9,11 --styles 0-3 --trunc 0.7
                       (noise const), computed with tools/reference/stylegan2.py
                       in style_mixing.py's order of operations: mapping without
                       truncation, w_avg + (w - w_avg) * psi on every layer, the
                       plain images as one batch, each mix as a batch of one.
  proj_64.npz          what the reference's projector.py writes
                       (np.savez(path, w=array[1, num_ws, w_dim] float32)) for
                       sg2_64: here the w of seed 5 through the mapping (psi 1)
                       plus a fixed perturbation per layer, so layers differ.
  proj_64.png          the reference image of proj_64.npz (generate.py
                       --projected-w: synthesis, noise const, uint8 conversion).
  npy/                 arrays written by NumPy itself, for the .npy/.npz reader.
                       Every array holds value(i) = (i % 97) * 0.25 - 12 at C-order
                       index i (exact in float16 too):
                         f4.npy           np.save, float32 [2, 3, 5]
                         f8_fortran.npy   np.save, float64 [2, 3, 5], Fortran order
                         f4_big.npy       np.save, '>f4' [4, 6]
                         f2.npy           np.save, float16 [7]
                         scalar.npy       np.save, float32 0-d (value(0))
                         savez.npz        np.savez(w=f4 [1, 10, 64], extra=f4 [3])
                         compressed.npz   np.savez_compressed(w=f4 [1, 10, 64])
                         int.npy          np.save, int32 [3] (must be refused)
Deterministic: rerunning writes byte-identical files (zip timestamps are the
only varying part of an .npz, and they are reset to 1980-01-01 here).
"""

import argparse
import io
import os
import sys
import zipfile

import numpy as np
import PIL.Image
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stylegan2  # noqa: E402

MIX_ROWS, MIX_COLS, MIX_STYLES, MIX_PSI = [0, 42], [7, 9, 11], list(range(0, 4)), 0.7


def seed_z(seed, z_dim):
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim).astype(np.float32))


def to_pil(img):
    return PIL.Image.fromarray(stylegan2.to_uint8(img)[0].numpy(), "RGB")


def style_mixing_grid(G):
    """style_mixing.py's grid.png for MIX_* (re-stated, not copied)."""
    seeds = sorted(set(MIX_ROWS + MIX_COLS))
    z = torch.cat([seed_z(s, G.z_dim) for s in seeds])
    w = G.mapping(z, None, psi=1.0)
    w_avg = G.mapping.w_avg
    w = w_avg + (w - w_avg) * MIX_PSI
    ws = {s: w[i] for i, s in enumerate(seeds)}
    plain = G.synthesis(w, noise_mode="const")
    images = {(s, s): to_pil(plain[i:i + 1]) for i, s in enumerate(seeds)}
    for r in MIX_ROWS:
        for c in MIX_COLS:
            mixed = ws[r].clone()
            mixed[MIX_STYLES] = ws[c][MIX_STYLES]
            images[(r, c)] = to_pil(G.synthesis(mixed[None], noise_mode="const"))
    res = G.img_resolution
    grid = PIL.Image.new("RGB", (res * (len(MIX_COLS) + 1), res * (len(MIX_ROWS) + 1)), "black")
    for y, r in enumerate([None] + MIX_ROWS):
        for x, c in enumerate([None] + MIX_COLS):
            if x == 0 and y == 0:
                continue
            key = (c, c) if y == 0 else (r, r) if x == 0 else (r, c)
            grid.paste(images[key], (res * x, res * y))
    return grid


def fixed_zip_times(path):
    """Rewrites an .npz with every member dated 1980-01-01 (same bytes each run)."""
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info)) for info in z.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info, data in members:
            info.date_time = (1980, 1, 1, 0, 0, 0)
            out.writestr(info, data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def values(shape, dtype):
    n = int(np.prod(shape)) if shape else 1
    return ((np.arange(n) % 97) * 0.25 - 12).astype(dtype).reshape(shape)


def write_npy_fixtures(out):
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "f4.npy"), values((2, 3, 5), np.float32))
    np.save(os.path.join(out, "f8_fortran.npy"), np.asfortranarray(values((2, 3, 5), np.float64)))
    np.save(os.path.join(out, "f4_big.npy"), values((4, 6), ">f4"))
    np.save(os.path.join(out, "f2.npy"), values((7,), np.float16))
    np.save(os.path.join(out, "scalar.npy"), np.float32(-12.0))
    np.save(os.path.join(out, "int.npy"), np.arange(3, dtype=np.int32))
    np.savez(os.path.join(out, "savez.npz"), w=values((1, 10, 64), np.float32), extra=values((3,), np.float32))
    np.savez_compressed(os.path.join(out, "compressed.npz"), w=values((1, 10, 64), np.float32))
    for name in ("savez.npz", "compressed.npz"):
        fixed_zip_times(os.path.join(out, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    G = stylegan2.Generator.load(os.path.join(args.out, "sg2_64.safetensors")).eval()
    with torch.no_grad():
        style_mixing_grid(G).save(os.path.join(args.out, "mix_64_grid.png"))
        w = G.mapping(seed_z(5, G.z_dim), None, psi=1.0)
        w = w + 0.1 * torch.arange(G.num_ws, dtype=torch.float32)[None, :, None]
        np.savez(os.path.join(args.out, "proj_64.npz"), w=w.numpy())
        fixed_zip_times(os.path.join(args.out, "proj_64.npz"))
        to_pil(G.synthesis(w, noise_mode="const")).save(os.path.join(args.out, "proj_64.png"))
    write_npy_fixtures(os.path.join(args.out, "npy"))
    print("wrote mix_64_grid.png, proj_64.npz, proj_64.png and npy/ into", os.path.abspath(args.out))


if __name__ == "__main__":
    main()
