#!/usr/bin/env -S /usr/bin/python3
"""Converts a BigGAN-PyTorch generator (a state_dict saved with torch.save,
such as the released G_ema.pth) into a dne generator file: the tensors under
their own names (a name-preserving dump) and the configuration, which the
.pth does not hold, from the options the network was trained with.

    biggan_pth_to_safetensors.py G_ema.pth OUT.safetensors --resolution 128 --G_ch 96 --dim_z 120 \\
        --shared_dim 128 --n_classes 1000 --G_attn 64 [--BN_eps 1e-5 --SN_eps 1e-6] [--no-hier]

The state_dict is loaded with weights_only=True (tensors only, no code).
Every name and shape is checked against biggan.py's Generator built from the
options before anything is written; the default batch-norm layout (mybn off)
is expected, as BigGAN-PyTorch's launch scripts train.
"""

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import biggan  # noqa: E402
import safetensors_io  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pth")
    ap.add_argument("out")
    ap.add_argument("--resolution", type=int, required=True)
    ap.add_argument("--G_ch", type=int, required=True)
    ap.add_argument("--dim_z", type=int, required=True)
    ap.add_argument("--shared_dim", type=int, required=True)
    ap.add_argument("--n_classes", type=int, required=True)
    ap.add_argument("--G_attn", default="64")
    ap.add_argument("--BN_eps", type=float, default=1e-5)
    ap.add_argument("--SN_eps", type=float, default=1e-6)
    ap.add_argument("--no-hier", action="store_true")
    args = ap.parse_args()
    cfg = dict(arch="biggan", resolution=args.resolution, G_ch=args.G_ch, dim_z=args.dim_z,
               shared_dim=args.shared_dim, n_classes=args.n_classes, hier=not args.no_hier, G_attn=args.G_attn,
               bottom_width=4, BN_eps=args.BN_eps, SN_eps=args.SN_eps)
    state = torch.load(args.pth, map_location="cpu", weights_only=True)
    want = biggan.Generator(cfg)
    expected = want.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        raise SystemExit(f"{args.pth} does not match these options: missing {missing[:5]}, unexpected {extra[:5]}")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise SystemExit(f"{k}: shape {tuple(state[k].shape)}, the options need {tuple(v.shape)}")
    tensors = {k: state[k].detach().float().numpy() for k in expected}  # state_dict order
    safetensors_io.write(args.out, tensors, {"config": json.dumps(want.cfg), "format": "dne-generator"})
    print(f"{len(tensors)} tensors -> {args.out}")


if __name__ == "__main__":
    main()
