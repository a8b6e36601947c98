#!/usr/bin/env -S /usr/bin/python3
"""BigGAN as ajbrock/BigGAN-PyTorch builds it, re-stated in PyTorch (fp32, CPU).

The configuration dne implements (../shared/design/biggan.md): G_shared,
hierarchical z (hier=False works too), spectral norm with one singular vector
and one power iteration everywhere except G's class embedding, ReLU, the
default batch-norm layout (mybn=False, cross_replica=False, norm_style='bn':
F.batch_norm with stored_mean / stored_var, momentum 0.1), G_param = D_param =
'SN', orthogonal init, resolutions 32 to 512 (D: to 256), D_wide (True by
default; False works too).

The module tree mirrors the reference's, so state_dict() names, shapes and
order are the reference's (e.g. blocks.3.1.gamma, blocks.0.0.bn1.gain.u0,
output_layer.0.stored_var), and modules are built and initialised in the
reference's order, so after the same torch.manual_seed the initial state is
the reference's bit for bit. Choices, and reference behaviour that matters:
  * spectral norm (layers.SN.W_ / power_iteration): W viewed as [out, -1];
    without autograd v = normalize(u0 W), u = normalize(v W^T) (F.normalize,
    eps = SN_eps); sigma = (v W^T) u^T WITH autograd (through W only: u, v
    are constants), output W / sigma. In training mode u0 <- u and sv0 <-
    sigma (sv0 is only a log: no forward reads it). In eval mode the iteration
    still runs from the stored u0 and nothing is stored, so repeated eval
    forwards agree with each other, not with the last training forward;
  * batch norm: F.batch_norm; training normalises with the biased batch
    variance and moves stored_mean towards the batch mean and stored_var
    towards the UNBIASED batch variance (momentum 0.1); eval uses the stored
    statistics. ccbn: BN(x) * (1 + gain(y)) + bias(y), gain and bias are
    SNLinear without bias on cat(y_emb, z chunk);
  * G's output batch norm (layers.bn) is built without an eps argument, so it
    always uses 1e-5, whatever BN_eps is (BN_eps only reaches the ccbns);
  * dim_z is rounded down to z_chunk * slots (slots = blocks + 1 with hier,
    1 without); the rounded value is what save() stores. shared_dim 0 (or
    missing) means shared_dim = dim_z as given, before the rounding;
  * attention: G_attn / D_attn are "_"-separated resolutions, matched against
    each block's OUTPUT resolution (G: 8, 16, ... after the upsampling; D:
    after the pooling, so at 32 px all four D blocks count as 16 px and D_attn
    "16" appends an attention layer to every one of them). Resolutions outside
    the table are ignored ("0" = none). theta / phi have ch // 8 channels: with
    fewer than 8 channels the reference builds 0-channel convs and then fails
    in the forward, so these classes refuse such configs;
  * standing statistics (standing_stats / accumulate_standing_stats below)
    follow BigGAN-PyTorch's utils.accumulate_standing_stats with myBN: reset,
    N training-mode passes without gradients each adding the batch mean and
    the BIASED batch variance, then divide by N; the result is written into the
    default layout's stored_mean / stored_var, so an eval-mode forward then
    uses it. The passes run in training mode, so they also move every u0 / sv0
    as the reference's do (they normalise with F.batch_norm, myBN with
    E[x^2] - E[x]^2: equal up to rounding).

Configs are the JSON dne stores in __metadata__["config"] (the reference's
option names):
  G: {"arch": "biggan", "resolution", "G_ch", "dim_z", "shared_dim", "n_classes",
      "hier", "G_attn", "bottom_width", "BN_eps", "SN_eps"}
  D: {"arch": "biggan", "resolution", "D_ch", "D_attn", "n_classes", "SN_eps", "D_wide"}
A generator file holds G.state_dict() at top level, a discriminator file
D.state_dict() (load / save); __metadata__["format"] is "dne-generator" /
"dne-discriminator".
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402

G_ARCH = {  # resolution: (in multipliers, out multipliers); block i works at 8 * 2^i px
    32: ([4, 4, 4], [4, 4, 4]),
    64: ([16, 16, 8, 4], [16, 8, 4, 2]),
    128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]),
    256: ([16, 16, 8, 8, 4, 2], [16, 8, 8, 4, 2, 1]),
    512: ([16, 16, 8, 8, 4, 2, 1], [16, 8, 8, 4, 2, 1, 1]),
}
D_ARCH = {  # resolution: (in multipliers, 0 = the image; out multipliers; downsample; output resolution)
    32: ([0, 4, 4, 4], [4, 4, 4, 4], [1, 1, 0, 0], [16, 16, 16, 16]),
    64: ([0, 1, 2, 4, 8], [1, 2, 4, 8, 16], [1, 1, 1, 1, 0], [32, 16, 8, 4, 4]),
    128: ([0, 1, 2, 4, 8, 16], [1, 2, 4, 8, 16, 16], [1, 1, 1, 1, 1, 0], [64, 32, 16, 8, 4, 4]),
    256: ([0, 1, 2, 4, 8, 8, 16], [1, 2, 4, 8, 8, 16, 16], [1, 1, 1, 1, 1, 1, 0], [128, 64, 32, 16, 8, 4, 4]),
}


def attention_at(attn, resolution, channels=None):
    """Whether the reference appends an Attention layer to a block whose
    output resolution is `resolution` (attn: "_"-separated resolutions)."""
    if resolution not in [int(r) for r in str(attn).split("_")]:
        return False
    if channels is not None and channels < 8:
        raise ValueError(f"attention at {resolution} px would have {channels} // 8 = 0 query channels "
                         "(BigGAN-PyTorch builds it but its forward fails); choose another resolution or width")
    return True


# ------------------------------------------------------------------ layers

class SpectralNorm:
    """Mixin: W / sigma from one power iteration on weight viewed as [out, -1]."""

    def _init_sn(self, outputs, eps):
        self.sn_eps = eps
        self.register_buffer("u0", torch.randn(1, outputs))
        self.register_buffer("sv0", torch.ones(1))

    def normalized_weight(self):
        w = self.weight.view(self.weight.shape[0], -1)
        with torch.no_grad():
            v = F.normalize(self.u0 @ w, eps=self.sn_eps)
            u = F.normalize(v @ w.t(), eps=self.sn_eps)
            if self.training:
                self.u0[:] = u
        sigma = ((v @ w.t()) @ u.t()).squeeze()
        if self.training:
            with torch.no_grad():
                self.sv0[:] = sigma
        return self.weight / sigma


class SNConv2d(nn.Conv2d, SpectralNorm):
    def __init__(self, cin, cout, kernel=3, bias=True, eps=1e-6):
        nn.Conv2d.__init__(self, cin, cout, kernel, padding=kernel // 2, bias=bias)
        self._init_sn(cout, eps)

    def forward(self, x):
        return F.conv2d(x, self.normalized_weight(), self.bias, padding=self.padding)


class SNLinear(nn.Linear, SpectralNorm):
    def __init__(self, cin, cout, bias=True, eps=1e-6):
        nn.Linear.__init__(self, cin, cout, bias=bias)
        self._init_sn(cout, eps)

    def forward(self, x):
        return F.linear(x, self.normalized_weight(), self.bias)


class SNEmbedding(nn.Embedding, SpectralNorm):
    def __init__(self, count, dim, eps=1e-6):
        nn.Embedding.__init__(self, count, dim)
        self._init_sn(count, eps)

    def forward(self, y):
        return F.embedding(y, self.normalized_weight())


class ClassBN(nn.Module):
    """Class-conditional BN: BN(x) * (1 + gain(y)) + bias(y)."""

    def __init__(self, channels, cond_dim, bn_eps, sn_eps):
        super().__init__()
        self.gain = SNLinear(cond_dim, channels, bias=False, eps=sn_eps)
        self.bias = SNLinear(cond_dim, channels, bias=False, eps=sn_eps)
        self.eps = bn_eps
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x, y):
        gain = (1 + self.gain(y)).view(y.shape[0], -1, 1, 1)
        bias = self.bias(y).view(y.shape[0], -1, 1, 1)
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, self.eps)
        return out * gain + bias


class PlainBN(nn.Module):
    """layers.bn: F.batch_norm with a learnable gain / bias. G's output layer
    builds it with the default eps 1e-5 (not BN_eps)."""

    def __init__(self, channels, bn_eps=1e-5):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = bn_eps
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x):
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training, 0.1, self.eps)


class Attention(nn.Module):
    def __init__(self, ch, sn_eps):
        super().__init__()
        self.ch = ch
        self.theta = SNConv2d(ch, ch // 8, 1, bias=False, eps=sn_eps)
        self.phi = SNConv2d(ch, ch // 8, 1, bias=False, eps=sn_eps)
        self.g = SNConv2d(ch, ch // 2, 1, bias=False, eps=sn_eps)
        self.o = SNConv2d(ch // 2, ch, 1, bias=False, eps=sn_eps)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x, y=None):
        n, c, h, w = x.shape
        theta = self.theta(x).view(n, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(n, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).view(n, c // 2, h * w // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(n, c // 2, h, w))
        return self.gamma * o + x


class GBlock(nn.Module):
    def __init__(self, cin, cout, cond_dim, bn_eps, sn_eps):
        super().__init__()
        self.conv1 = SNConv2d(cin, cout, eps=sn_eps)
        self.conv2 = SNConv2d(cout, cout, eps=sn_eps)
        self.conv_sc = SNConv2d(cin, cout, 1, eps=sn_eps)
        self.bn1 = ClassBN(cin, cond_dim, bn_eps, sn_eps)
        self.bn2 = ClassBN(cout, cond_dim, bn_eps, sn_eps)

    def forward(self, x, y):
        h = F.relu(self.bn1(x, y))
        h = F.interpolate(h, scale_factor=2)
        x = F.interpolate(x, scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.conv_sc(x)


class DBlock(nn.Module):
    def __init__(self, cin, cout, preactivation, downsample, sn_eps, wide=True):
        super().__init__()
        self.preactivation, self.downsample = preactivation, downsample
        hidden = cout if wide else cin
        self.conv1 = SNConv2d(cin, hidden, eps=sn_eps)
        self.conv2 = SNConv2d(hidden, cout, eps=sn_eps)
        self.learnable_sc = cin != cout or downsample
        if self.learnable_sc:
            self.conv_sc = SNConv2d(cin, cout, 1, eps=sn_eps)

    def shortcut(self, x):
        if self.preactivation:
            if self.learnable_sc:
                x = self.conv_sc(x)
            if self.downsample:
                x = F.avg_pool2d(x, 2)
        else:
            if self.downsample:
                x = F.avg_pool2d(x, 2)
            if self.learnable_sc:
                x = self.conv_sc(x)
        return x

    def forward(self, x):
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self.shortcut(x)


# ------------------------------------------------------------------ networks

def g_config_defaults(cfg):
    cfg = dict(cfg)
    if not cfg.get("shared_dim"):  # the reference: shared_dim if shared_dim > 0 else dim_z (before rounding)
        cfg["shared_dim"] = cfg["dim_z"]
    cfg.setdefault("hier", True)
    cfg.setdefault("bottom_width", 4)
    cfg.setdefault("G_attn", "64")
    cfg.setdefault("BN_eps", 1e-5)
    cfg.setdefault("SN_eps", 1e-6)
    blocks = len(G_ARCH[cfg["resolution"]][0])
    slots = blocks + 1 if cfg["hier"] else 1
    cfg["dim_z"] = cfg["dim_z"] // slots * slots  # the reference rounds down
    return cfg


class Generator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg = g_config_defaults(cfg)
        ins, outs = G_ARCH[cfg["resolution"]]
        ch, bw, sn_eps, bn_eps = cfg["G_ch"], cfg["bottom_width"], cfg["SN_eps"], cfg["BN_eps"]
        self.num_slots = len(ins) + 1 if cfg["hier"] else 1
        self.z_chunk = cfg["dim_z"] // self.num_slots
        cond = cfg["shared_dim"] + (self.z_chunk if cfg["hier"] else 0)
        self.shared = nn.Embedding(cfg["n_classes"], cfg["shared_dim"])
        self.linear = SNLinear(self.z_chunk, ins[0] * ch * bw * bw, eps=sn_eps)
        blocks = []
        for i, (cin, cout) in enumerate(zip(ins, outs)):
            block = [GBlock(cin * ch, cout * ch, cond, bn_eps, sn_eps)]
            if attention_at(cfg["G_attn"], 8 << i, cout * ch):
                block.append(Attention(cout * ch, sn_eps))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        self.output_layer = nn.Sequential(PlainBN(outs[-1] * ch), nn.ReLU(), SNConv2d(outs[-1] * ch, 3, eps=sn_eps))
        for m in self.modules():  # BigGAN-PyTorch's init_weights with G_init='ortho'
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                nn.init.orthogonal_(m.weight)

    def forward(self, z, y_emb):
        if self.cfg["hier"]:
            zs = torch.split(z, self.z_chunk, 1)
            z, ys = zs[0], [torch.cat([y_emb, item], 1) for item in zs[1:]]
        else:
            ys = [y_emb] * len(self.blocks)
        bw = self.cfg["bottom_width"]
        h = self.linear(z).view(z.shape[0], -1, bw, bw)
        for i, blocklist in enumerate(self.blocks):
            for block in blocklist:
                h = block(h, ys[i])
        return torch.tanh(self.output_layer(h))


class Discriminator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg = dict(cfg)
        cfg.setdefault("D_attn", "64")
        cfg.setdefault("SN_eps", 1e-6)
        cfg.setdefault("D_wide", True)
        self.cfg = cfg
        ins, outs, down, res = D_ARCH[cfg["resolution"]]
        ch, sn_eps = cfg["D_ch"], cfg["SN_eps"]
        blocks = []
        for i in range(len(outs)):
            cin = 3 if i == 0 else ins[i] * ch
            block = [DBlock(cin, outs[i] * ch, i > 0, bool(down[i]), sn_eps, cfg["D_wide"])]
            if attention_at(cfg["D_attn"], res[i], outs[i] * ch):
                block.append(Attention(outs[i] * ch, sn_eps))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        self.linear = SNLinear(outs[-1] * ch, 1, eps=sn_eps)
        self.embed = SNEmbedding(cfg["n_classes"], outs[-1] * ch, eps=sn_eps)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                nn.init.orthogonal_(m.weight)

    def forward(self, x, y):
        h = x
        for blocklist in self.blocks:
            for block in blocklist:
                h = block(h)
        h = torch.sum(F.relu(h), [2, 3])
        return self.linear(h) + torch.sum(self.embed(y) * h, 1, keepdim=True)


# ------------------------------------------------------------------ standing stats, files

def accumulate_standing_stats(G, zs, classes):
    """myBN's standing statistics from the given passes (zs[i] [batch, dim_z],
    classes[i] [batch] class ids), written into stored_mean / stored_var of
    every batch norm of G: the mean over the passes of the batch mean / biased
    batch variance of that norm's input. The passes run in training mode
    without gradients, so every u0 / sv0 moves as well. G's mode is restored."""
    bns = [m for m in G.modules() if isinstance(m, (ClassBN, PlainBN))]
    sums = {id(m): [torch.zeros_like(m.stored_mean), torch.zeros_like(m.stored_var)] for m in bns}
    hooks = []
    for m in bns:
        def hook(module, inputs, _out, key=id(m)):
            x = inputs[0]
            sums[key][0] += x.mean([0, 2, 3])
            sums[key][1] += x.var([0, 2, 3], unbiased=False)
        hooks.append(m.register_forward_hook(hook))
    was_training = G.training
    G.train()  # as accumulate_standing_stats: the spectral norms' u0 move on too
    try:
        with torch.no_grad():
            for z, c in zip(zs, classes):
                G(z, G.shared(c))
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        for m in bns:
            m.stored_mean[:] = sums[id(m)][0] / len(zs)
            m.stored_var[:] = sums[id(m)][1] / len(zs)
    G.train(was_training)


def standing_stats(G, n_batches, batch, classes_sampler=None, seed=0):
    """utils.accumulate_standing_stats(G, z, y, n_classes, n_batches) with
    myBN semantics (see accumulate_standing_stats). The draws come from
    torch.Generator().manual_seed(seed), per pass z = randn(batch, dim_z) (the
    reference's z_.normal_(), z_var 1), then classes = classes_sampler(gen,
    batch) (default torch.randint(0, n_classes, (batch,), generator=gen), the
    reference's y.random_(0, n_classes)); z is cast to G's dtype. Returns
    (z [n_batches * batch, dim_z], classes [n_batches * batch]) so that the
    passes can be replayed (in order, batch rows at a time)."""
    gen = torch.Generator().manual_seed(seed)
    if classes_sampler is None:
        def classes_sampler(g, n):
            return torch.randint(0, G.cfg["n_classes"], (n,), generator=g)
    dtype = G.linear.weight.dtype
    zs, cs = [], []
    for _ in range(n_batches):
        zs.append(torch.randn(batch, G.cfg["dim_z"], generator=gen).to(dtype))
        cs.append(classes_sampler(gen, batch))
    accumulate_standing_stats(G, zs, cs)
    return torch.cat(zs), torch.cat(cs)


def save(net, path, extra=None):
    tensors = {k: v.detach().numpy().astype("float32") for k, v in net.state_dict().items()}
    meta = {"config": json.dumps(net.cfg), "format": "dne-generator" if isinstance(net, Generator) else "dne-discriminator"}
    if extra:
        meta.update(extra)
    safetensors_io.write(path, tensors, meta)


def load(path):
    tensors, meta = safetensors_io.read(path)
    cfg = json.loads(meta["config"])
    net = Generator(cfg) if "G_ch" in cfg else Discriminator(cfg)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
    return net


# ------------------------------------------------------------------ training

def ortho_(net, strength, skip=None):
    """BigGAN-PyTorch's "modified" orthogonal regularisation, added to .grad."""
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() < 2 or p is skip:
                continue
            w = p.view(p.shape[0], -1)
            grad = 2 * torch.mm(torch.mm(w, w.t()) * (1.0 - torch.eye(w.shape[0], dtype=w.dtype)), w)
            p.grad += strength * grad.view(p.shape)


def train_step(G, D, G_ema, optG, optD, opts, draws, itr):
    """One iteration of train_fns.GAN_training_function (no split_D,
    toggle_grads on). draws: d_fakes [(z, y)] and reals [(x, y)], both
    d_steps * d_accumulations long, step-major; g_fakes [(z, y)]. itr: the
    iteration number after the increment (train.py's state_dict['itr']).
    Returns the losses of the last D micro-batch and of the G step, and the
    gradients left in D (last D step) and G."""
    G.train(), D.train()
    k = 0
    for _ in range(opts["d_steps"]):
        optD.zero_grad()
        for _ in range(opts["d_accumulations"]):
            (z, y), (x, yr) = draws["d_fakes"][k], draws["reals"][k]
            k += 1
            with torch.no_grad():
                fake = G(z, G.shared(y))
            out = D(torch.cat([fake, x], 0), torch.cat([y, yr], 0))
            d_fake, d_real = torch.split(out, [z.shape[0], x.shape[0]])
            loss_real = torch.mean(F.relu(1.0 - d_real))
            loss_fake = torch.mean(F.relu(1.0 + d_fake))
            ((loss_real + loss_fake) / opts["d_accumulations"]).backward()
        if opts["d_ortho"] > 0:
            ortho_(D, opts["d_ortho"])
        optD.step()
    for p in D.parameters():
        p.requires_grad_(False)
    optG.zero_grad()
    for z, y in draws["g_fakes"]:
        g_loss = -torch.mean(D(G(z, G.shared(y)), y)) / opts["g_accumulations"]
        g_loss.backward()
    for p in D.parameters():
        p.requires_grad_(True)
    if opts["g_ortho"] > 0:
        ortho_(G, opts["g_ortho"], skip=G.shared.weight)
    optG.step()
    decay = 0.0 if itr < opts["ema_start"] else opts["ema_decay"]
    with torch.no_grad():
        src, dst = G.state_dict(), G_ema.state_dict()
        for key in src:
            dst[key].copy_(dst[key] * decay + src[key] * (1 - decay))
    return dict(d_loss_real=loss_real.item(), d_loss_fake=loss_fake.item(), g_loss=g_loss.item())
