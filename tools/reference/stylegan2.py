#!/usr/bin/env -S /usr/bin/python3
"""PyTorch reference of the StyleGAN2(-ADA) generator, fp32 inference only.

Written from the equations of stylegan2-ada-pytorch (commit d72cc7d), see
/work/shared/design/stylegan2.md §1. It is not a copy of that code: it is a
small re-statement of the same maths, kept close enough that the results agree
to float rounding (tools/reference/check_against_ada.py verifies this).

What is mirrored exactly, because it changes float rounding or results:
  * the "fused modconv" inference path: per-sample modulated (and demodulated)
    weights, one grouped convolution with groups = batch;
  * the x2 up-sampling conv0 as conv_transpose2d(stride 2, no flip, padding 0)
    followed by upfirdn2d(pad 1,1,1,1, gain 4);
  * upfirdn2d with standard ops (zero insertion, pad/crop, depthwise conv with
    the flipped filter, stride) like the reference's slow path;
  * bias_act order: act(x + b) * gain, then clamp;
  * torch.lerp for truncation, torch.addmm for linear FC layers.

The module tree (and so state_dict() names, shapes and order) is the same as
the reference's G_ema, and parameters are drawn from the global torch RNG in the
reference's order, so torch.manual_seed(s) gives the reference's initial weights.

Usage:
    G = Generator(config)            # random init as the reference
    G = Generator.load(path)         # dne / safetensors generator file
    ws = G.mapping(z, c, psi=0.7, cutoff=None)
    img = G.synthesis(ws, noise_mode='const')     # [N, C, R, R], roughly [-1, 1]
    G.save(path)

Training (tools/reference/train.py) runs the synthesis the way the reference
does in training mode: G.synthesis(ws, noise_mode='random', fused=False,
randn=f), i.e. the non-fused modconv (activations scaled by the styles before
and by the demodulation coefficients after one shared-weight conv) and fresh
noise per layer, drawn by f(layer_name, shape) when given.

The discriminator (resnet, or orig) is D = Discriminator(d_config),
D(img, c) -> logits [N, 1]; Discriminator.load / .save as for G.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

CONFIG_KEYS = ("arch", "z_dim", "w_dim", "c_dim", "img_resolution", "img_channels",
               "mapping_layers", "channel_base", "channel_max", "conv_clamp")

LRELU_ALPHA = 0.2
LRELU_GAIN = float(np.sqrt(2))   # default gain of lrelu in bias_act
DEMOD_EPS = 1e-8
NORM_EPS = 1e-8
MAPPING_LR_MUL = 0.01


# ---------------------------------------------------------------------------
# Ops

def setup_filter(taps=(1, 3, 3, 1)):
    """2-D FIR filter: outer product of the taps, normalised to sum 1 ([4,4] for 4 taps)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0, flip_filter=False):
    """Upsample (zero insertion), pad, FIR filter, downsample; pad = (x0, x1, y0, y1).

    flip_filter=False is a true convolution (the filter is flipped before
    PyTorch's correlation), as in the reference. Negative padding crops.
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = pad
    # 1. Insert up-1 zeros after every sample along each axis.
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    # 2. Zero-pad the positive amounts, then crop the negative ones.
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0), max(-px0, 0):x.shape[3] - max(-px1, 0)]
    # 3. Depthwise filtering. The gain is folded into the filter (gain^(ndim/2)
    #    for a 2-D filter is just gain) before it is used, as the reference does.
    f = f * gain
    f = f.to(x.dtype)
    if not flip_filter:
        f = f.flip([0, 1])
    x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
    # 4. Keep every down-th sample.
    return x[:, :, ::down, ::down]


def upsample2d(x, f, up=2):
    """x2 upsampling as used for the skip images: pad so the output is exactly up*H."""
    fh, fw = f.shape
    pad = ((fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2)
    return upfirdn2d(x, f, up=up, pad=pad, gain=up * up)


def downsample2d(x, f, down=2):
    fh, fw = f.shape
    pad = ((fw - down + 1) // 2, (fw - down) // 2, (fh - down + 1) // 2, (fh - down) // 2)
    return upfirdn2d(x, f, down=down, pad=pad)


def bias_act(x, b=None, act="linear", gain=None, clamp=None):
    """act(x + b) * gain, then clamp to +-clamp (clamp None = off). Bias is per channel (dim 1)."""
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_ALPHA)
        default_gain = LRELU_GAIN
    elif act == "linear":
        default_gain = 1.0
    else:
        raise ValueError("unsupported activation %r" % act)
    gain = float(default_gain if gain is None else gain)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-float(clamp), float(clamp))
    return x


def normalize_2nd_moment(x, eps=NORM_EPS):
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_conv2d(x, weight, styles, demodulate=True, up=1, padding=0, f=None, fused=True, noise=None):
    """Modulated convolution; fused (the reference's inference path) or not (its training path).

    Non-fused (fused=False, what the reference runs while training): x is
    scaled by styles per input channel, convolved with the shared weight
    (same up/padding conventions as below), then multiplied by the per-sample
    demodulation coefficients d[n,o] = rsqrt(sum_{i,k}(weight*styles[n])^2 + 1e-8),
    with `noise` added in the same step: addcmul(noise, y, d) = y*d + noise.
    Without demodulation the noise (if any) is simply added.

    Fused:

    x [N,I,H,W], weight [O,I,k,k], styles [N,I]. Each sample gets its own
    kernel w[n] = weight * styles[n] (per input channel), optionally divided by
    its per-output-channel L2 norm (+1e-8); all samples then run as one grouped
    convolution with groups = N.
      up == 1: correlation (torch conv2d) with zero padding `padding`.
      up == 2: transposed convolution, stride 2, kernel used as-is (scatter
               form, i.e. "convolution" orientation), then the FIR filter f
               with gain 4. Padding is the one the reference derives for
               conv2d_resample(up=2, padding, flip_weight=False).
    """
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    if not fused:
        return _modulated_conv2d_unfused(x, weight, styles, demodulate, up, padding, f, noise)
    assert noise is None, "the fused path adds noise in SynthesisLayer"
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)          # [N,O,I,k,k]
    if demodulate:
        d = (w.square().sum(dim=[2, 3, 4]) + DEMOD_EPS).rsqrt()        # [N,O]
        w = w * d.reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])                                  # [1, N*I, H, W]
    if up == 1:
        y = F.conv2d(x, w.reshape(-1, i, kh, kw), padding=padding, groups=n)
    elif up == 2:
        # conv_transpose2d wants [in, out/groups, k, k] per group: [N*I, O, k, k].
        wt = w.transpose(1, 2).reshape(n * i, o, kh, kw)
        y = _conv_up2(x, wt, f, padding, groups=n)
    else:
        raise ValueError("up must be 1 or 2")
    return y.reshape(n, -1, *y.shape[2:])


def _conv_up2(x, wt, f, padding, groups):
    """x2 up-sampling 3x3 conv: conv_transpose2d(stride 2, no flip) + FIR (gain 4).

    wt is already in conv_transpose2d layout [I, O/groups, k, k]. The FIR
    padding is the total padding of the equivalent "zero-stuff, pad, FIR,
    valid conv" pipeline minus what the transposed conv itself adds (k-1
    before, k-up after).
    """
    up = 2
    kh, kw = wt.shape[2:]
    fh, fw = f.shape
    px0 = padding + (fw + up - 1) // 2 - (kw - 1)
    px1 = padding + (fw - up) // 2 - (kw - up)
    py0 = padding + (fh + up - 1) // 2 - (kh - 1)
    py1 = padding + (fh - up) // 2 - (kh - up)
    assert min(px0, px1, py0, py1) >= 0, "only the non-cropping case is needed"
    y = F.conv_transpose2d(x, wt, stride=up, padding=0, groups=groups)
    return upfirdn2d(y, f, pad=(px0, px1, py0, py1), gain=up * up)


def _modulated_conv2d_unfused(x, weight, styles, demodulate, up, padding, f, noise):
    n = x.shape[0]
    # The coefficients are computed before the conv, as in the reference: the
    # order of graph nodes decides the order in which autograd sums the two
    # gradient contributions to `weight` (and so its last bit).
    if demodulate:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)      # [N,O,I,k,k]
        d = (w.square().sum(dim=[2, 3, 4]) + DEMOD_EPS).rsqrt()       # [N,O]
    x = x * styles.reshape(n, -1, 1, 1)
    if up == 1:
        y = F.conv2d(x, weight, padding=padding)
    elif up == 2:
        y = _conv_up2(x, weight.transpose(0, 1), f, padding, groups=1)
    else:
        raise ValueError("up must be 1 or 2")
    if demodulate:
        d = d.reshape(n, -1, 1, 1)
        return y * d if noise is None else torch.addcmul(noise, y, d)
    return y if noise is None else y + noise


def truncate(ws, w_avg, psi=1.0, cutoff=None):
    """w_avg + psi*(w - w_avg) on layers [0, cutoff) (all if cutoff is None).

    torch.lerp is used on purpose: for psi >= 0.5 it evaluates
    end - (end - start)*(1 - psi), which rounds differently from the textbook form.
    """
    if psi == 1:
        return ws
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


# ---------------------------------------------------------------------------
# Layers. Parameters/buffers are registered in the reference's order so that
# state_dict() order and RNG consumption match.

class FullyConnected(torch.nn.Module):
    """Equalized-lr dense layer: y = x @ (W*lr_mul/sqrt(in)).T + b*lr_mul, then activation."""

    def __init__(self, in_features, out_features, activation="linear", lr_mul=1.0, bias_init=0.0):
        super().__init__()
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_mul)
        self.bias = torch.nn.Parameter(torch.full([out_features], np.float32(bias_init)))
        self.weight_gain = lr_mul / np.sqrt(in_features)
        self.bias_gain = lr_mul

    def forward(self, x):
        w = self.weight * self.weight_gain
        b = self.bias if self.bias_gain == 1 else self.bias * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class MappingNetwork(torch.nn.Module):
    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers):
        super().__init__()
        assert z_dim > 0
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        embed = w_dim if c_dim > 0 else 0
        features = [z_dim + embed] + [w_dim] * num_layers
        if c_dim > 0:
            self.embed = FullyConnected(c_dim, embed)
        for idx in range(num_layers):
            setattr(self, "fc%d" % idx, FullyConnected(features[idx], features[idx + 1],
                                                         activation="lrelu", lr_mul=MAPPING_LR_MUL))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z, c=None, psi=1.0, cutoff=None):
        x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, "fc%d" % idx)(x)
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        return truncate(ws, self.w_avg, psi, cutoff)


class SynthesisLayer(torch.nn.Module):
    """3x3 modulated conv (+ optional x2 up) -> + noise*strength -> bias, lrelu*sqrt2, clamp."""

    def __init__(self, in_channels, out_channels, w_dim, resolution, up=1, conv_clamp=None):
        super().__init__()
        self.resolution, self.up, self.conv_clamp = resolution, up, conv_clamp
        self.padding = 1
        self.register_buffer("resample_filter", setup_filter())
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x, w, noise_mode="const", fused=True, randn=None):
        """randn(name, shape) supplies the random noise (default torch.randn); name is
        this layer's state_dict prefix, e.g. 'synthesis.b8.conv0'."""
        styles = self.affine(w)
        noise = None
        if noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            noise = (randn(self.name, shape) if randn else torch.randn(shape)) * self.noise_strength
        elif noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        elif noise_mode != "none":
            raise ValueError("noise_mode must be const, random or none")
        if fused:
            x = modulated_conv2d(x, self.weight, styles, demodulate=True, up=self.up,
                                 padding=self.padding, f=self.resample_filter)
            x = x if noise is None else x + noise
        else:
            x = modulated_conv2d(x, self.weight, styles, demodulate=True, up=self.up,
                                 padding=self.padding, f=self.resample_filter, fused=False, noise=noise)
        return bias_act(x, self.bias, act="lrelu", clamp=self.conv_clamp)


class ToRGB(torch.nn.Module):
    """1x1 modulated conv without demodulation; styles carry the 1/sqrt(I) gain."""

    def __init__(self, in_channels, out_channels, w_dim, conv_clamp=None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / np.sqrt(in_channels)

    def forward(self, x, w, fused=True):
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return bias_act(x, self.bias, act="linear", clamp=self.conv_clamp)


class SynthesisBlock(torch.nn.Module):
    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, conv_clamp):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.register_buffer("resample_filter", setup_filter())
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
            self.num_conv = 1
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
            self.num_conv = 2
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)

    def forward(self, x, img, ws, noise_mode="const", fused=True, randn=None):
        # ws: [N, num_conv + 1, w_dim]; the last one drives torgb.
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, ws[:, 0], noise_mode, fused, randn)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode, fused, randn)
            x = self.conv1(x, ws[:, 1], noise_mode, fused, randn)
        y = self.torgb(x, ws[:, self.num_conv], fused)
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(torch.nn.Module):
    def __init__(self, w_dim, img_resolution, img_channels, channel_base, channel_max, conv_clamp):
        super().__init__()
        log2 = int(np.log2(img_resolution))
        assert img_resolution >= 4 and 2 ** log2 == img_resolution
        self.resolutions = [2 ** i for i in range(2, log2 + 1)]
        channels = {r: min(channel_base // r, channel_max) for r in self.resolutions}
        for r in self.resolutions:
            block = SynthesisBlock(channels[r // 2] if r > 4 else 0, channels[r], w_dim, r, img_channels, conv_clamp)
            setattr(self, "b%d" % r, block)
            for layer in ("conv0", "conv1"):
                if hasattr(block, layer):
                    getattr(block, layer).name = "synthesis.b%d.%s" % (r, layer)
        # Each block advances the w index by its conv count; the last torgb adds one.
        self.num_ws = 2 * log2 - 2

    def forward(self, ws, noise_mode="const", fused=True, randn=None):
        ws = ws.to(torch.float32)
        assert ws.shape[1] == self.num_ws
        x = img = None
        idx = 0
        for r in self.resolutions:
            block = getattr(self, "b%d" % r)
            # A block's torgb shares its w with the next block's conv0.
            x, img = block(x, img, ws[:, idx:idx + block.num_conv + 1], noise_mode, fused, randn)
            idx += block.num_conv
        return img


class Generator(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        config = check_config(config)
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config["z_dim"], config["c_dim"], config["w_dim"]
        self.img_resolution, self.img_channels = config["img_resolution"], config["img_channels"]
        # Synthesis first, then mapping: the reference's order (state_dict and RNG).
        self.synthesis = SynthesisNetwork(self.w_dim, self.img_resolution, self.img_channels,
                                          config["channel_base"], config["channel_max"], config["conv_clamp"])
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(self.z_dim, self.c_dim, self.w_dim, self.num_ws, config["mapping_layers"])
        self.eval()
        self.requires_grad_(False)

    def forward(self, z, c=None, psi=1.0, cutoff=None, noise_mode="const"):
        return self.synthesis(self.mapping(z, c, psi, cutoff), noise_mode)

    # -- files --------------------------------------------------------------

    def save(self, path):
        _save(self, path)

    @classmethod
    def load(cls, path):
        return _load(cls, path)

    def load_arrays(self, tensors, what="state"):
        """Load name -> array; names and shapes must match exactly (order is not required)."""
        _load_arrays(self, tensors, what)


# ---------------------------------------------------------------------------
# Discriminator (stylegan2.md §2). Same module tree, state_dict order and RNG
# order as the reference's Discriminator; fp32 only.

D_CONFIG_KEYS = ("arch", "c_dim", "img_resolution", "img_channels", "channel_base", "channel_max",
                 "conv_clamp", "architecture", "mbstd_group_size", "mbstd_num_channels",
                 "cmap_dim", "mapping_layers")
D_CONFIG_DEFAULTS = dict(arch="stylegan2", c_dim=0, img_channels=3, channel_base=32768, channel_max=512,
                         conv_clamp=None, architecture="resnet", mbstd_group_size=4, mbstd_num_channels=1,
                         cmap_dim=None, mapping_layers=8)


def conv2d_down2(x, w, f, padding):
    """Conv with x2 down-sampling as the reference's conv2d_resample (correlation, no weight flip).

    k x k (k > 1): FIR with pad = padding + 1 on each side, then a stride-2 conv.
    1 x 1: FIR with down 2 and pad 1 (only kept outputs), then the 1x1 conv.
    """
    kh, kw = w.shape[2:]
    fh, fw = f.shape
    px0, px1 = padding + (fw - 1) // 2, padding + (fw - 2) // 2
    py0, py1 = padding + (fh - 1) // 2, padding + (fh - 2) // 2
    if kh == 1 and kw == 1:
        return F.conv2d(upfirdn2d(x, f, down=2, pad=(px0, px1, py0, py1)), w)
    return F.conv2d(upfirdn2d(x, f, pad=(px0, px1, py0, py1)), w, stride=2)


class Conv2dLayer(torch.nn.Module):
    """Equalized-lr conv: weight * 1/sqrt(in*k*k), optional x2 down, then bias_act.

    forward(x, gain) scales the activation gain and the clamp by `gain`.
    """

    def __init__(self, in_channels, out_channels, kernel_size, bias=True, activation="linear", down=1,
                 conv_clamp=None):
        super().__init__()
        self.activation, self.down, self.conv_clamp = activation, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter())
        self.padding = kernel_size // 2
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = LRELU_GAIN if activation == "lrelu" else 1.0
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x, gain=1):
        w = self.weight * self.weight_gain
        if self.down == 1:
            x = F.conv2d(x, w, padding=self.padding)
        else:
            x = conv2d_down2(x, w, self.resample_filter, self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class DiscriminatorBlock(torch.nn.Module):
    """fromrgb (first block only) -> conv0 3x3 -> conv1 3x3 down 2; resnet adds skip (1x1 down 2,
    no bias, linear) and scales both branches by sqrt(0.5)."""

    def __init__(self, in_channels, tmp_channels, out_channels, img_channels, architecture, conv_clamp):
        super().__init__()
        self.in_channels, self.architecture = in_channels, architecture
        self.register_buffer("resample_filter", setup_filter())
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x, img):
        if self.in_channels == 0:
            x = self.fromrgb(img)
        if self.architecture == "resnet":
            y = self.skip(x, gain=np.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=np.sqrt(0.5))
            return y + x
        return self.conv1(self.conv0(x))


def minibatch_std(x, group_size=4, num_channels=1):
    """Append num_channels channels holding the stddev over groups of min(group_size, N) samples.

    Sample n belongs to group {n mod M + k*M} with M = N/G (strided groups);
    sigma = sqrt(mean_g (x - mean_g x)^2 + 1e-8) (biased), averaged over
    (C/num_channels, H, W).
    """
    n, c, h, w = x.shape
    g = min(group_size, n) if group_size is not None else n
    assert n % g == 0, "batch %d not divisible by the mbstd group size %d" % (n, g)
    f = num_channels
    y = x.reshape(g, -1, f, c // f, h, w)
    y = y - y.mean(dim=0)
    y = y.square().mean(dim=0)
    y = (y + 1e-8).sqrt()
    y = y.mean(dim=[2, 3, 4])
    y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(torch.nn.Module):
    """b4: minibatch stddev -> conv 3x3 (C+F -> C) -> fc (C*16 -> C, lrelu) -> out (C -> 1 or cmap_dim)."""

    def __init__(self, channels, cmap_dim, resolution, mbstd_group_size, mbstd_num_channels, conv_clamp):
        super().__init__()
        self.cmap_dim, self.mbstd_group_size, self.mbstd_num_channels = cmap_dim, mbstd_group_size, mbstd_num_channels
        self.conv = Conv2dLayer(channels + mbstd_num_channels, channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnected(channels * resolution ** 2, channels, activation="lrelu")
        self.out = FullyConnected(channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x, cmap):
        if self.mbstd_num_channels > 0:
            x = minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x


class LabelMapping(torch.nn.Module):
    """D's label mapping (the reference's MappingNetwork with z_dim 0, no w_avg):
    normalize_2nd_moment(embed(c)) -> mapping_layers lrelu FCs with lr_mul 0.01."""

    def __init__(self, c_dim, cmap_dim, num_layers):
        super().__init__()
        self.num_layers = num_layers
        self.embed = FullyConnected(c_dim, cmap_dim)
        for idx in range(num_layers):
            setattr(self, "fc%d" % idx, FullyConnected(cmap_dim, cmap_dim, activation="lrelu",
                                                         lr_mul=MAPPING_LR_MUL))

    def forward(self, c):
        x = normalize_2nd_moment(self.embed(c.to(torch.float32)))
        for idx in range(self.num_layers):
            x = getattr(self, "fc%d" % idx)(x)
        return x


class Discriminator(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        config = check_d_config(config)
        self.config = config
        self.c_dim, self.img_resolution = config["c_dim"], config["img_resolution"]
        log2 = int(np.log2(self.img_resolution))
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        ch = {r: min(config["channel_base"] // r, config["channel_max"]) for r in self.block_resolutions + [4]}
        for r in self.block_resolutions:
            block = DiscriminatorBlock(ch[r] if r < self.img_resolution else 0, ch[r], ch[r // 2],
                                       config["img_channels"], config["architecture"], config["conv_clamp"])
            setattr(self, "b%d" % r, block)
        if self.c_dim > 0:
            self.mapping = LabelMapping(self.c_dim, config["cmap_dim"], config["mapping_layers"])
        self.b4 = DiscriminatorEpilogue(ch[4], config["cmap_dim"], 4, config["mbstd_group_size"],
                                        config["mbstd_num_channels"], config["conv_clamp"])
        self.requires_grad_(False)

    def forward(self, img, c=None):
        x = None
        for r in self.block_resolutions:
            x = getattr(self, "b%d" % r)(x, img)
        cmap = self.mapping(c) if self.c_dim > 0 else None
        return self.b4(x, cmap)

    def save(self, path):
        _save(self, path)

    @classmethod
    def load(cls, path):
        return _load(cls, path)

    def load_arrays(self, tensors, what="state"):
        _load_arrays(self, tensors, what)


def check_d_config(config):
    """Fill defaults (the reference's), resolve cmap_dim, validate; keys in D_CONFIG_KEYS order."""
    config = dict(D_CONFIG_DEFAULTS, **config)
    unknown = [k for k in config if k not in D_CONFIG_KEYS]
    if unknown or "img_resolution" not in config:
        raise ValueError("D config: unknown keys %s or no img_resolution" % unknown)
    if config["architecture"] not in ("resnet", "orig"):
        raise ValueError("D architecture must be resnet or orig, not %r" % config["architecture"])
    res = config["img_resolution"]
    if res < 4 or res & (res - 1):
        raise ValueError("img_resolution must be a power of two >= 4")
    if config["c_dim"] == 0:
        config["cmap_dim"] = 0
    elif not config["cmap_dim"]:
        config["cmap_dim"] = min(config["channel_base"] // 4, config["channel_max"])
    return {k: config[k] for k in D_CONFIG_KEYS}


def d_config_for(g_config, **overrides):
    """The D config the reference's train.py pairs with a G config (same channels, clamp, labels)."""
    keys = ("c_dim", "img_resolution", "img_channels", "channel_base", "channel_max", "conv_clamp")
    return check_d_config(dict({k: g_config[k] for k in keys}, **overrides))


def _save(module, path):
    tensors = {k: v.detach().to(torch.float32).contiguous().numpy() for k, v in module.state_dict().items()}
    safetensors_io.write(path, tensors, {"config": json.dumps(module.config)})


def _load(cls, path):
    tensors, meta = safetensors_io.read(path)
    if "config" not in meta:
        raise ValueError("%s: no 'config' in __metadata__" % path)
    m = cls(json.loads(meta["config"]))
    m.load_arrays(tensors, what=path)
    return m


def _load_arrays(module, tensors, what):
    """Load name -> array; names and shapes must match exactly (order is not required)."""
    own = module.state_dict()
    missing = [k for k in own if k not in tensors]
    extra = [k for k in tensors if k not in own]
    if missing or extra:
        raise ValueError("%s: missing %s, unexpected %s" % (what, missing[:5], extra[:5]))
    for k, v in own.items():
        a = torch.as_tensor(np.asarray(tensors[k]), dtype=torch.float32)
        if tuple(a.shape) != tuple(v.shape):
            raise ValueError("%s: %s has shape %s, expected %s" % (what, k, list(a.shape), list(v.shape)))
        with torch.no_grad():
            v.copy_(a)


def check_config(config):
    config = dict(config)
    missing = [k for k in CONFIG_KEYS if k not in config]
    if missing:
        raise ValueError("config lacks %s" % missing)
    if config["arch"] != "stylegan2":
        raise ValueError("arch must be 'stylegan2', not %r" % config["arch"])
    # Keep only the known keys, in the documented order, so json.dumps is stable.
    return {k: config[k] for k in CONFIG_KEYS}


def random_test_state(named_shapes, generator, random_filters=False):
    """Random values for every tensor of a generator state, none of them trivially 0 or 1.

    Fresh reference models have zero biases and noise strengths, unit affine
    biases and w_avg = 0, which would hide mistakes in how those are applied.
    Here: weights N(0,1) (mapping fc weights N(0,1)/0.01 as the reference),
    biases N(0,0.2), affine biases 1+N(0,0.1), noise_strength N(0,0.3),
    w_avg N(0,0.5), const and noise_const N(0,1). resample_filter stays
    outer([1,3,3,1])/64 unless random_filters, then it is a random positive,
    non-symmetric 4x4 filter of sum 1 (to catch filter-orientation mistakes).
    Returns an ordered dict name -> float32 tensor, in the order given.
    """
    out = {}
    for name, shape in named_shapes:
        leaf = name.rsplit(".", 1)[-1]
        randn = lambda: torch.randn(shape, generator=generator)  # noqa: E731
        if leaf == "resample_filter":
            if random_filters:
                f = torch.rand(shape, generator=generator) + 0.1
                v = f / f.sum()
            else:
                v = setup_filter()
        elif name.startswith("mapping.fc") and leaf == "weight":
            v = randn() / MAPPING_LR_MUL
        elif leaf == "bias" and name.endswith("affine.bias"):
            v = 1 + 0.1 * randn()
        elif leaf == "bias":
            v = 0.2 * randn()
        elif leaf == "noise_strength":
            v = 0.3 * randn()
        elif leaf == "w_avg":
            v = 0.5 * randn()
        elif leaf in ("weight", "const", "noise_const"):
            v = randn()
        else:
            raise KeyError("no rule for %s" % name)
        out[name] = v.to(torch.float32)
    return out


def load(path):
    return Generator.load(path)


def save(G, path):
    G.save(path)


def to_uint8(img):
    """generate.py's conversion: clamp(img*127.5 + 128, 0, 255), truncated; NCHW -> NHWC."""
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


if __name__ == "__main__":
    # Smoke test: random 32 px model, print output stats.
    torch.manual_seed(0)
    cfg = dict(arch="stylegan2", z_dim=32, w_dim=32, c_dim=0, img_resolution=32, img_channels=3,
               mapping_layers=2, channel_base=512, channel_max=32, conv_clamp=None)
    G = Generator(cfg)
    img = G(torch.randn(2, 32))
    print(list(img.shape), float(img.mean()), float(img.std()))
