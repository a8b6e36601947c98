#!/usr/bin/env -S /usr/bin/python3
"""Checks tools/reference/biggan.py against the real BigGAN-PyTorch code.

    git --git-dir=/work/.mirror/ajbrock+BigGAN-PyTorch/repo archive HEAD | tar -x -C /tmp/biggan-ref
    /usr/bin/python3 tools/reference/check_biggan_against_ref.py --ref /tmp/biggan-ref [--dne build/dne]

Builds the reference's Generator and Discriminator and biggan.py's at small
configs, requires identical state_dict names, shapes and order, copies the
weights across, and compares: G in evaluation and training mode, the buffers
a training-mode pass updates, D, and every gradient of a training-mode
backward pass. With --dne it also converts the reference's own G, saved with
torch.save, by biggan_pth_to_safetensors.py and compares `dne generate`'s
PNGs with the reference's images. Prints the largest differences.
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import biggan  # noqa: E402
import safetensors_io  # noqa: E402

CASES = [
    dict(resolution=32, G_ch=4, dim_z=20, shared_dim=8, n_classes=5, G_attn="16", D_attn="16"),
    dict(resolution=64, G_ch=2, dim_z=20, shared_dim=8, n_classes=3, G_attn="32", D_attn="8"),
    dict(resolution=128, G_ch=4, dim_z=24, shared_dim=8, n_classes=3, G_attn="64", D_attn="32"),
]


def reference_nets(ref, c):
    sys.path.insert(0, ref)
    import BigGAN  # noqa: E402
    kw = dict(resolution=c["resolution"], n_classes=c["n_classes"], SN_eps=1e-6)
    G = BigGAN.Generator(G_ch=c["G_ch"], dim_z=c["dim_z"], G_attn=c["G_attn"], G_shared=True,
                         shared_dim=c["shared_dim"], hier=True, BN_eps=1e-5, **kw)
    D = BigGAN.Discriminator(D_ch=c["G_ch"], D_attn=c["D_attn"], **kw)
    return G, D


def ours(c):
    G = biggan.Generator(dict(arch="biggan", resolution=c["resolution"], G_ch=c["G_ch"], dim_z=c["dim_z"],
                              shared_dim=c["shared_dim"], n_classes=c["n_classes"], hier=True, G_attn=c["G_attn"]))
    D = biggan.Discriminator(dict(arch="biggan", resolution=c["resolution"], D_ch=c["G_ch"], D_attn=c["D_attn"],
                                  n_classes=c["n_classes"]))
    return G, D


def same_layout(a, b, what):
    ka, kb = list(a.state_dict().keys()), list(b.state_dict().keys())
    assert ka == kb, f"{what}: state_dict names differ:\n{ka}\n{kb}"
    for k in ka:
        assert a.state_dict()[k].shape == b.state_dict()[k].shape, f"{what}: {k} shapes differ"
    return len(ka)


def perturb(net, gen):
    """Weights where nothing is trivially 0 or 1 (biases, gains, attention
    gamma, running statistics), so that every path is exercised."""
    with torch.no_grad():
        for k, v in net.state_dict().items():
            if k.endswith("stored_var"):
                v.copy_(0.5 + torch.rand(v.shape, generator=gen))
            elif k.endswith(("stored_mean", ".bias", "gamma", ".gain")) and v.dtype == torch.float32:
                v.copy_(0.3 * torch.randn(v.shape, generator=gen) + (1.0 if k.endswith(".gain") else 0.0))


def max_diff(a, b):
    return (a - b).abs().max().item()


def compare_case(ref, c):
    Gr, Dr = reference_nets(ref, c)
    Go, Do = ours(c)
    n_g, n_d = same_layout(Gr, Go, "G"), same_layout(Dr, Do, "D")
    gen = torch.Generator().manual_seed(1)
    perturb(Go, gen)
    perturb(Do, gen)
    Gr.load_state_dict(Go.state_dict())
    Dr.load_state_dict(Do.state_dict())
    n, k = 4, c["n_classes"]
    z = torch.randn(n, Go.cfg["dim_z"], generator=gen)
    y = torch.arange(n) % k
    worst = {}
    Gr.eval(), Go.eval()
    worst["G eval"] = max_diff(Gr(z, Gr.shared(y)), Go(z, Go.shared(y)))
    Gr.train(), Go.train()
    out_r, out_o = Gr(z, Gr.shared(y)), Go(z, Go.shared(y))
    worst["G train"] = max_diff(out_r, out_o)
    worst["G buffers after train"] = max(max_diff(a, b) for a, b in zip(Gr.state_dict().values(), Go.state_dict().values()))
    dy = torch.randn(out_o.shape, generator=gen)
    (out_r * dy).sum().backward()
    (out_o * dy).sum().backward()
    worst["G grads"] = max(max_diff(a.grad, b.grad) / (b.grad.abs().max().item() + 1e-12)
                           for a, b in zip(Gr.parameters(), Go.parameters()))
    x = torch.randn(n, 3, c["resolution"], c["resolution"], generator=gen, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    Dr.train(), Do.train()
    lr, lo = Dr(x, y), Do(x2, y)
    worst["D logits"] = max_diff(lr, lo)
    dl = torch.randn(lo.shape, generator=gen)
    (lr * dl).sum().backward()
    (lo * dl).sum().backward()
    worst["D grads"] = max(max_diff(a.grad, b.grad) / (b.grad.abs().max().item() + 1e-12)
                           for a, b in zip(Dr.parameters(), Do.parameters()))
    worst["D input grad"] = max_diff(x.grad, x2.grad)
    print(f"{c['resolution']} px: {n_g} G tensors, {n_d} D tensors, names/shapes/order identical")
    for key, v in worst.items():
        print(f"  {key:24s} {v:.3g}")
    return max(worst.values())


def check_conversion(ref, dne):
    """The reference's own G saved with torch.save, converted by
    biggan_pth_to_safetensors.py and rendered by `dne generate`: the PNG
    levels against the reference's evaluation-mode images of the same z."""
    import subprocess
    import tempfile

    import numpy as np
    from PIL import Image
    c = CASES[0]
    G, _ = reference_nets(ref, c)
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
        subprocess.run([dne, "generate", "--network", f"{tmp}/g.safetensors", "--class", str(cls), "--seeds",
                        ",".join(map(str, seeds)), "--outdir", f"{tmp}/out"], check=True, capture_output=True)
        worst = max(int(np.abs(np.asarray(Image.open(f"{tmp}/out/seed{s:04d}.png")).transpose(2, 0, 1).astype(int)
                                - want[i]).max()) for i, s in enumerate(seeds))
    print(f"BigGAN-PyTorch state_dict -> dne file -> dne generate: PNG levels differ by at most {worst}")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True, help="a BigGAN-PyTorch checkout")
    ap.add_argument("--dne", help="a built dne: also check the .pth conversion end to end")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    worst = max(compare_case(args.ref, c) for c in CASES)
    print(f"worst difference {worst:.3g}")
    levels = check_conversion(args.ref, args.dne) if args.dne else 0
    sys.exit(0 if worst < 1e-5 and levels <= 1 else 1)


if __name__ == "__main__":
    main()
