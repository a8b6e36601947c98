#!/usr/bin/env -S /usr/bin/python3
"""Writes tests/fixtures/sg2_grad.safetensors: exact gradients of the generator
(PyTorch autograd through stylegan2.py) for dne's backward passes to match.

A 16 px generator with random, non-trivial values (random_test_state with
non-symmetric resample filters, to catch flipped filters) and a conv_clamp of
1.5 so that the clamp's gradient gating is exercised. Two losses:
  synthesis: L = sum(G.synthesis(ws, noise_mode='const') * r_img)
             -> grad.synthesis.* and dws (dL/dws [N, num_ws, w_dim])
  mapping:   L = sum(G.mapping(z)[:, 0] * r_w)
             -> grad.mapping.fc*
The generator's tensors are stored as "G.<state_dict name>" with the config
in __metadata__["config"], so dne loads it with sg2_load(prefix "G.").
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import stylegan2  # noqa: E402

CONFIG = dict(arch="stylegan2", z_dim=32, w_dim=32, c_dim=0, img_resolution=16, img_channels=3,
              mapping_layers=2, channel_base=128, channel_max=16, conv_clamp=1.5)
N = 3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.manual_seed(7)
    G = stylegan2.Generator(CONFIG)
    gen = torch.Generator().manual_seed(7)
    layout = [(k, tuple(v.shape)) for k, v in G.state_dict().items()]
    G.load_arrays(stylegan2.random_test_state(layout, gen, random_filters=True))
    for p in G.parameters():
        p.requires_grad_(True)
    params = dict(G.named_parameters())

    ws = torch.randn([N, G.num_ws, CONFIG["w_dim"]], generator=gen).requires_grad_(True)
    img = G.synthesis(ws, noise_mode="const")
    r_img = torch.randn(img.shape, generator=gen)
    clamped = int((img.abs() >= CONFIG["conv_clamp"]).sum())
    names = [n for n in params if n.startswith("synthesis.")]
    grads = torch.autograd.grad((img * r_img).sum(), [params[n] for n in names] + [ws])
    out = {"ws": ws.detach(), "img": img.detach(), "r_img": r_img, "dws": grads[-1]}
    out.update({"grad." + n: g for n, g in zip(names, grads[:-1])})

    z = torch.randn([N, CONFIG["z_dim"]], generator=gen)
    w = G.mapping(z, None)[:, 0]
    r_w = torch.randn(w.shape, generator=gen)
    names = [n for n in params if n.startswith("mapping.fc")]
    grads = torch.autograd.grad((w * r_w).sum(), [params[n] for n in names])
    out.update({"z": z, "w": w.detach(), "r_w": r_w})
    out.update({"grad." + n: g for n, g in zip(names, grads)})

    tensors = {"G." + k: v for k, v in G.state_dict().items()}
    tensors.update(out)
    path = os.path.join(args.out, "sg2_grad.safetensors")
    meta = {"config": json.dumps(stylegan2.check_config(CONFIG)), "noise_mode": "const",
            "losses": "synthesis: sum(img * r_img); mapping: sum(mapping(z)[:, 0] * r_w)"}
    safetensors_io.write(path, {k: v.detach().contiguous().numpy() for k, v in tensors.items()}, meta)
    print("%s: %d tensors, %d bytes; %d of %d output pixels at the clamp" %
          (path, len(tensors), os.path.getsize(path), clamped, img.numel()))


if __name__ == "__main__":
    main()
