#!/usr/bin/env -S /usr/bin/python3
"""Writes the fixtures of dne's ADA code.

tests/fixtures/ada_color.safetensors: the colour transforms of
stylegan2-ada-pytorch's AugmentPipe (training/augment.py, "Select parameters
for color transformations" and "Execute color transformations") on fixed
parameters: brightness b, contrast c, luma flip i, hue theta, saturation s
per sample ("params" [N, 5]), the composed matrices C [N, 4, 4], RGB and grey
images x, their transforms y, and the gradients dx of sum(y * dy).

tests/fixtures/ada_geom.safetensors: the inverse geometric matrix G_inv of
the same pipeline ("Select parameters for pixel blitting" and "... general
geometric transformations") for fixed parameters per sample ("params"
[N, 10]: x-flip, quarter turns, integer translation x and y, scale,
pre-rotation, anisotropy, post-rotation, fractional translation x and y) of
a 64 x 48 image: "G_inv" [N, 3, 3].

tests/fixtures/ada_sample.safetensors: the resampling step of the geometric
transforms, torch.nn.functional.affine_grid + grid_sample (bilinear, zero
padding, align_corners=False), for images x [3, 2, 9, 11], matrices theta
[3, 2, 3] (identity, rotation + scale, a shift partly outside) and an
8 x 10 output: y, and dx, the gradient of sum(y * dy); and reflection
padding (F.pad mode 'reflect', (left, right, top, bottom) = (3, 1, 2, 4))
of pad.x [2, 3, 5, 7]: pad.y and pad.dx for pad.dy.

tests/fixtures/ada_geom_run.safetensors: the whole geometric execution
(reflection padding from the corners' margin, x2 up-sampling with the sym6
filter, affine_grid + grid_sample, x2 down-sampling) for images x
[5, 3, 16, 20] under the G_inv of ada_geom's parameters (re-composed for
20 x 16): y, and dx for dy.

tests/fixtures/ada_image.safetensors: the image-space transforms: the
filter bank of the 'filter' set ("bank" [4, 43]), the band gains of fixed
per-band amplifications ("amplification", "gains" [4, 4]), their filters
("taps"), the filtering of images x [4, 3, 32, 28] (y, and dx for dy), and
the cutout masks of fixed sizes and centres ("mask").

tests/fixtures/train_r1_augment.safetensors: R1 through a fixed geometric and
colour augmentation, with the exact double backward (see write_r1_fixture).

tests/fixtures/ada_p.txt: the trajectory of ADA's p under a scripted
sequence of discriminator outputs, computed the way stylegan2-ada-pytorch's
training loop does it (training_loop.py, "Execute ADA heuristic"): the signs
of real logits reported by every D pass on reals (Dmain each minibatch, Dreg
every 16th) are averaged since the last adjustment, and after every 4th
minibatch p <- max(p + sign(mean - target) * batch * interval / (ada_kimg *
1000), 0), p a float32 tensor.

The script: 240 minibatches of 8; real logit i of minibatch b is the integer
((7 b + 13 i) mod 17) - t(b), t = 2 for b < 120 (mostly positive: p rises)
and 12 after (mostly negative: p falls to 0 and stays). ada_kimg 0.5, so
that p moves 0.064 per adjustment. One line per minibatch: "b p".
"""
import os

import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

BATCH, INTERVAL, TARGET, ADA_KIMG, STEPS = 8, 4, 0.6, 0.5, 240


def real_logits(b):
    t = 2 if b < 120 else 12
    return torch.tensor([float((7 * b + 13 * i) % 17 - t) for i in range(BATCH)])


def stack_rows(rows):
    """[N, R, C] from rows of per-sample tensors or numbers (the reference's matrix())."""
    n = next(x for row in rows for x in row if isinstance(x, torch.Tensor)).shape[0]
    cols = [[x if isinstance(x, torch.Tensor) else torch.full([n], float(x)) for x in row] for row in rows]
    return torch.stack([torch.stack(row, dim=-1) for row in cols], dim=-2)


def color_matrices(b, c, i, theta, s):
    """The reference's composition, every colour transform enabled."""
    n = b.shape[0]
    eye = torch.eye(4)
    C = eye
    C = stack_rows([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]]) @ C
    C = stack_rows([[c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1]]) @ C
    v = torch.as_tensor(np.asarray([1, 1, 1, 0]) / np.sqrt(3), dtype=torch.float32)
    C = (eye - 2 * v.ger(v) * i.reshape(n, 1, 1)) @ C
    vx, vy, vz = v[0], v[1], v[2]
    sn, cs = torch.sin(theta), torch.cos(theta)
    cc = 1 - cs
    C = stack_rows([[vx * vx * cc + cs, vx * vy * cc - vz * sn, vx * vz * cc + vy * sn, 0],
                    [vy * vx * cc + vz * sn, vy * vy * cc + cs, vy * vz * cc - vx * sn, 0],
                    [vz * vx * cc - vy * sn, vz * vy * cc + vx * sn, vz * vz * cc + cs, 0],
                    [0, 0, 0, 1]]) @ C
    C = (v.ger(v) + (eye - v.ger(v)) * s.reshape(n, 1, 1)) @ C
    return C


def apply_color(images, C):
    n, ch, h, w = images.shape
    flat = images.reshape([n, ch, h * w])
    if ch == 3:
        out = C[:, :3, :3] @ flat + C[:, :3, 3:]
    else:
        m = C[:, :3, :].mean(dim=1, keepdims=True)
        out = flat * m[:, :, :3].sum(dim=2, keepdims=True) + m[:, :, 3:]
    return out.reshape([n, ch, h, w])


def scale2d(sx, sy):
    return stack_rows([[sx, 0, 0], [0, sy, 0], [0, 0, 1]])


def translate2d(tx, ty):
    return stack_rows([[1, 0, tx], [0, 1, ty], [0, 0, 1]])


def rotate2d(theta):
    return stack_rows([[torch.cos(theta), torch.sin(-theta), 0], [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1]])


def geom_inverse(q, width, height):
    """The reference's composition, every geometric transform enabled."""
    xflip, rot90, tx_int, ty_int, scale, pre, aniso, post, tx_frac, ty_frac = q.unbind(1)
    G = torch.eye(3)
    G = G @ scale2d(1 / (1 - 2 * xflip), torch.ones_like(xflip))
    G = G @ rotate2d(-(-np.pi / 2 * rot90))
    G = G @ translate2d(-torch.round(tx_int * width), -torch.round(ty_int * height))
    G = G @ scale2d(1 / scale, 1 / scale)
    G = G @ rotate2d(-(-pre))
    G = G @ scale2d(1 / aniso, 1 / (1 / aniso))
    G = G @ rotate2d(-(-post))
    G = G @ translate2d(-(tx_frac * width), -(ty_frac * height))
    return G


def write_geom_fixture():
    params = torch.tensor([[0, 0, 0, 0, 1, 0, 1, 0, 0, 0],                           # identity
                           [1, 0, 0, 0, 1, 0, 1, 0, 0, 0],                           # x-flip
                           [0, 1, 0.1, -0.05, 1, 0, 1, 0, 0, 0],                     # quarter turn, shift
                           [0, 3, 0.0078125, 0.03125, 1.3, 0.4, 1, 0, 0, 0],         # half-pixel rounding, scale
                           [1, 2, -0.12, 0.11, 0.8, -1.2, 1.25, 2.0, 0.03, -0.07]])  # everything
    G = geom_inverse(params, 64, 48)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ada_geom.safetensors")
    safetensors_io.write(path, {"params": params.numpy(), "G_inv": G.contiguous().numpy()})
    print(f"wrote {path}")


def write_sample_fixture():
    g = torch.Generator().manual_seed(9)
    a = 0.7
    theta = torch.tensor([[[1, 0, 0], [0, 1, 0]],
                          [[1.2 * np.cos(a), -1.2 * np.sin(a), 0.1], [1.2 * np.sin(a), 1.2 * np.cos(a), -0.05]],
                          [[0.8, 0.1, 0.6], [-0.05, 0.9, -0.45]]], dtype=torch.float32)
    x = torch.randn([3, 2, 9, 11], generator=g).requires_grad_(True)
    dy = torch.randn([3, 2, 8, 10], generator=g)
    grid = torch.nn.functional.affine_grid(theta, [3, 2, 8, 10], align_corners=False)
    y = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    (y * dy).sum().backward()
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ada_sample.safetensors")
    px = torch.randn([2, 3, 5, 7], generator=g).requires_grad_(True)
    py = torch.nn.functional.pad(px, [3, 1, 2, 4], mode="reflect")
    pdy = torch.randn(py.shape, generator=g)
    (py * pdy).sum().backward()
    safetensors_io.write(path, {"theta": theta.numpy(), "x": x.detach().numpy(), "y": y.detach().numpy(),
                                "dy": dy.numpy(), "dx": x.grad.numpy(), "pad.x": px.detach().numpy(),
                                "pad.y": py.detach().numpy(), "pad.dy": pdy.numpy(), "pad.dx": px.grad.numpy()})
    print(f"wrote {path}")


SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]


def bilinear_sample(images, grid):
    return torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class TwiceDifferentiableSample(torch.autograd.Function):
    """bilinear_sample whose backward pass can itself be differentiated
    (PyTorch's cannot: R1 through the augmentation needs it, which is why the
    reference has grid_sample_gradfix). The input gradient is linear in the
    output gradient, so its derivative is the forward sampling again; the
    grid is a constant here."""

    @staticmethod
    def forward(ctx, images, grid):
        ctx.save_for_backward(images, grid)
        return bilinear_sample(images, grid)

    @staticmethod
    def backward(ctx, dy):
        images, grid = ctx.saved_tensors
        return SampleBackward.apply(dy, images, grid), None


class SampleBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dy, images, grid):
        ctx.save_for_backward(grid)
        return torch.ops.aten.grid_sampler_2d_backward(dy, images, grid, 0, 0, False, [True, False])[0]

    @staticmethod
    def backward(ctx, ddx):
        grid, = ctx.saved_tensors
        return bilinear_sample(ddx, grid), None, None


def geometric_execution(images, G_inv, sample=bilinear_sample):
    """augment.py's 'Execute geometric transformations', with the reference
    upfirdn2d of tools/reference/stylegan2.py and the separable sym6 filter
    as its outer product."""
    import stylegan2
    n, ch, height, width = images.shape
    taps = torch.tensor(SYM6, dtype=torch.float32)
    taps = taps / taps.sum()
    hz = taps.ger(taps)
    hz_pad = len(SYM6) // 4
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cp = torch.tensor([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], dtype=torch.float32)  # [xyz, idx]
    cp = G_inv @ cp  # [batch, xyz, idx]
    margin = cp[:, :2, :].permute(1, 0, 2).flatten(1)
    margin = torch.cat([-margin, margin]).max(dim=1).values
    margin = margin + torch.tensor([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2, dtype=torch.float32)
    margin = margin.max(torch.zeros(4))
    margin = margin.min(torch.tensor([width - 1, height - 1] * 2, dtype=torch.float32))
    mx0, my0, mx1, my1 = margin.ceil().to(torch.int32)
    images = torch.nn.functional.pad(input=images, pad=[mx0, mx1, my0, my1], mode="reflect")
    eye = torch.eye(3)
    shift = eye.clone()
    shift[0, 2], shift[1, 2] = (mx0 - mx1) / 2, (my0 - my1) / 2
    G_inv = shift @ G_inv
    images = stylegan2.upsample2d(images, hz)
    s2 = eye.clone(); s2[0, 0] = s2[1, 1] = 2
    s2i = eye.clone(); s2i[0, 0] = s2i[1, 1] = 0.5
    G_inv = s2 @ G_inv @ s2i
    tm = eye.clone(); tm[0, 2] = tm[1, 2] = -0.5
    tp = eye.clone(); tp[0, 2] = tp[1, 2] = 0.5
    G_inv = tm @ G_inv @ tp
    shape = [n, ch, (height + hz_pad * 2) * 2, (width + hz_pad * 2) * 2]
    a = eye.clone(); a[0, 0] = 2 / images.shape[3]; a[1, 1] = 2 / images.shape[2]
    b = eye.clone(); b[0, 0] = 1 / (2 / shape[3]); b[1, 1] = 1 / (2 / shape[2])
    G_inv = a @ G_inv @ b
    grid = torch.nn.functional.affine_grid(theta=G_inv[:, :2, :], size=shape, align_corners=False)
    images = sample(images, grid)
    down = (-hz_pad * 2 + (len(SYM6) - 1) // 2, -hz_pad * 2 + (len(SYM6) - 2) // 2) * 2
    return stylegan2.upfirdn2d(images, hz, down=2, pad=down, flip_filter=True)


def write_geom_run_fixture():
    params = torch.tensor([[0, 0, 0, 0, 1, 0, 1, 0, 0, 0],
                           [1, 0, 0, 0, 1, 0, 1, 0, 0, 0],
                           [0, 1, 0.1, -0.05, 1, 0, 1, 0, 0, 0],
                           [0, 3, 0.025, 0.03125, 1.3, 0.4, 1, 0, 0, 0],
                           [1, 2, -0.12, 0.11, 0.8, -1.2, 1.25, 2.0, 0.03, -0.07]])
    G = geom_inverse(params, 20, 16)
    g = torch.Generator().manual_seed(13)
    x = torch.randn([5, 3, 16, 20], generator=g).requires_grad_(True)
    y = geometric_execution(x, G)
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ada_geom_run.safetensors")
    safetensors_io.write(path, {"params": params.numpy(), "G_inv": G.contiguous().numpy(), "x": x.detach().numpy(),
                                "y": y.detach().numpy(), "dy": dy.numpy(), "dx": x.grad.numpy()})
    print(f"wrote {path}: y {tuple(y.shape)}")


def write_color_fixture():
    params = torch.tensor([[0, 1, 0, 0, 1],            # identity
                           [0.3, 1, 0, 0, 1],          # brightness
                           [0, 1.7, 1, 0, 1],          # contrast, luma flip
                           [0, 1, 0, 1.1, 0.4],        # hue, saturation
                           [-0.2, 0.6, 1, -2.5, 2.3],  # everything
                           [0.05, 1.3, 0, 2.9, 0.7]])
    C = color_matrices(*params.unbind(1))
    g = torch.Generator().manual_seed(5)
    out = {"params": params, "C": C}
    for name, ch in (("rgb", 3), ("grey", 1)):
        x = torch.randn([6, ch, 5, 7], generator=g).requires_grad_(True)
        dy = torch.randn([6, ch, 5, 7], generator=g)
        y = apply_color(x, C)
        (y * dy).sum().backward()
        out.update({f"{name}.x": x.detach(), f"{name}.y": y.detach(), f"{name}.dy": dy, f"{name}.dx": x.grad})
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ada_color.safetensors")
    safetensors_io.write(path, {k: v.contiguous().numpy() for k, v in out.items()})
    print(f"wrote {path}")


def write_r1_fixture():
    """R1 through a fixed augmentation, as the reference's Dreg with ADA: the
    penalty is the gradient with respect to the un-augmented reals, and its
    parameter gradients come from the exact double backward."""
    import json
    import make_train_fixtures as mtf
    cfg = mtf.d_cfg(mtf.G_CFG)
    D = mtf.random_state(__import__("stylegan2").Discriminator(cfg), 51)
    g = torch.Generator().manual_seed(52)
    x = (torch.rand([4, 3, 16, 16], generator=g) * 2 - 1).requires_grad_(True)
    geom = torch.tensor([[1, 1, 0.0625, -0.125, 1.2, 0.3, 0.9, -0.2, 0.02, 0.01],
                         [0, 0, 0, 0, 1, 0, 1, 0, 0, 0],
                         [0, 3, -0.125, 0, 0.85, -0.7, 1.1, 0.5, -0.04, 0.03],
                         [1, 2, 0, 0.0625, 1, 1.4, 1, 0, 0, 0]])
    G_inv = geom_inverse(geom, 16, 16)
    colour = torch.tensor([[0.2, 1.3, 0, 0.7, 0.8], [0, 1, 0, 0, 1], [-0.1, 0.7, 1, -1.9, 1.6], [0.3, 1, 1, 0, 1]])
    C = color_matrices(*colour.unbind(1))
    gamma = 0.5
    D.requires_grad_(True)
    logits = D(apply_color(geometric_execution(x, G_inv, TwiceDifferentiableSample.apply), C))
    r1_grads = torch.autograd.grad(logits.sum(), [x], create_graph=True)[0]
    penalty = r1_grads.square().sum([1, 2, 3])
    loss = (penalty * (gamma / 2)).mean()
    loss.backward()
    out = {}
    mtf.put_state(out, "D.", D)
    out.update(x=mtf.arr(x), G_inv=mtf.arr(G_inv.contiguous()), C=mtf.arr(C.contiguous()), gamma=mtf.arr(gamma),
               logits=mtf.arr(logits), r1_grads=mtf.arr(r1_grads), loss=mtf.arr(loss))
    mtf.param_grads(out, "grad.D.", D)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "train_r1_augment.safetensors")
    safetensors_io.write(path, out, {"config": json.dumps(cfg), "what": "loss = mean(gamma/2 |d sum D(A x)/dx|^2), "
                                     "A = colour(C) after geometric(G_inv); grads wrt D, exact double backward"})
    print(f"wrote {path}: loss {loss.item():.6g}")


SYM2 = [-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025]


def filter_bank():
    """augment.py's Hz_fbank: band-pass filters of sym2, low band first."""
    import scipy.signal
    lo = np.asarray(SYM2)
    hi = lo * ((-1) ** np.arange(lo.size))
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(4, 1)
    for i in range(1, bank.shape[0]):
        bank = np.dstack([bank, np.zeros_like(bank)]).reshape(bank.shape[0], -1)[:, :-1]
        bank = scipy.signal.convolve(bank, [lo2])
        bank[i, (bank.shape[1] - hi2.size) // 2: (bank.shape[1] + hi2.size) // 2] += hi2
    return torch.as_tensor(bank, dtype=torch.float32)


def filter_gains(amplification):
    """The reference's per-band gain accumulation for amplifications t [N, 4]."""
    expected_power = torch.tensor([10, 1, 1, 1], dtype=torch.float32) / 13
    n = amplification.shape[0]
    g = torch.ones([n, 4])
    for i in range(4):
        t = torch.ones([n, 4])
        t[:, i] = amplification[:, i]
        t = t / (expected_power * t.square()).sum(dim=-1, keepdims=True).sqrt()
        g = g * t
    return g


def image_filter(images, taps):
    """augment.py's 'Image-space filtering' with per-sample taps [N, K]."""
    n, ch, h, w = images.shape
    k = taps.repeat_interleave(ch, dim=0).reshape([n * ch, 1, -1])
    p = taps.shape[1] // 2
    x = torch.nn.functional.pad(images.reshape([1, n * ch, h, w]), pad=[p, p, p, p], mode="reflect")
    x = torch.nn.functional.conv2d(x, k.unsqueeze(2), groups=n * ch)
    x = torch.nn.functional.conv2d(x, k.unsqueeze(3), groups=n * ch)
    return x.reshape([n, ch, h, w])


def cutout_mask(size, centre, h, w):
    cx = torch.arange(w).reshape([1, 1, 1, -1])
    cy = torch.arange(h).reshape([1, 1, -1, 1])
    mx = ((cx + 0.5) / w - centre[:, 0].reshape([-1, 1, 1, 1])).abs() >= size.reshape([-1, 1, 1, 1]) / 2
    my = ((cy + 0.5) / h - centre[:, 1].reshape([-1, 1, 1, 1])).abs() >= size.reshape([-1, 1, 1, 1]) / 2
    return torch.logical_or(mx, my).to(torch.float32)


def write_image_fixture():
    amplification = torch.tensor([[1, 1, 1, 1], [2.5, 1, 1, 1], [1, 0.4, 1.7, 1], [0.6, 1.9, 0.3, 3.1]])
    gains = filter_gains(amplification)
    taps = gains @ filter_bank()
    g = torch.Generator().manual_seed(61)
    x = torch.randn([4, 3, 32, 28], generator=g).requires_grad_(True)
    y = image_filter(x, taps)
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    size = torch.tensor([0.5, 0, 0.5, 0.5])
    centre = torch.tensor([[0.3, 0.7], [0.5, 0.5], [0.95, 0.1], [0.0, 0.52]])
    mask = cutout_mask(size, centre, 32, 28).expand(4, 3, 32, 28)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ada_image.safetensors")
    safetensors_io.write(path, {"bank": filter_bank().numpy(), "amplification": amplification.numpy(),
                                "gains": gains.numpy(), "taps": taps.contiguous().numpy(), "x": x.detach().numpy(),
                                "y": y.detach().numpy(), "dy": dy.numpy(), "dx": x.grad.numpy(),
                                "cutout_size": size.numpy(), "cutout_centre": centre.numpy(),
                                "mask": mask.contiguous().numpy()})
    print(f"wrote {path}: bank {tuple(filter_bank().shape)}")


def main():
    write_image_fixture()
    write_r1_fixture()
    write_color_fixture()
    write_geom_fixture()
    write_sample_fixture()
    write_geom_run_fixture()
    p = torch.zeros([])  # float32, as augment_pipe.p
    count, total = 0.0, 0.0  # float64 counters, as training_stats keeps them
    lines = []
    for b in range(STEPS):
        passes = 2 if b % 16 == 0 else 1  # Dmain, and Dreg (R1) every 16th minibatch
        for _ in range(passes):
            signs = real_logits(b).sign().to(torch.float32)
            count += signs.numel()
            total += float(signs.sum())
        batch_idx = b + 1
        if batch_idx % INTERVAL == 0:
            mean = total / count
            count, total = 0.0, 0.0
            adjust = np.sign(mean - TARGET) * (BATCH * INTERVAL) / (ADA_KIMG * 1000)
            p.copy_((p + adjust).max(torch.zeros([])))
        lines.append(f"{b} {p.item():.9g}")
    out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ada_p.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}: final p {p.item():.6g}, max {max(float(l.split()[1]) for l in lines):.6g}")


if __name__ == "__main__":
    main()
