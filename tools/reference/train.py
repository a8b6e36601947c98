#!/usr/bin/env -S /usr/bin/python3
"""PyTorch reference of StyleGAN2-ADA training (no augmentation), fp32 on the CPU.

Written from /work/shared/design/stylegan2.md §2-§3 (stylegan2-ada-pytorch
d72cc7d: training/loss.py StyleGAN2Loss, training/training_loop.py). It is a
re-statement, not a copy; check_train_against_ada.py runs the reference's own
loss and its loop logic beside this file and finds identical results.

One training step (Trainer.step) runs, in this order, the phases
  Gmain  every step:        softplus(-D(G(z))), mean, x1
  Greg   every G_reg (4):   path-length penalty on batch/2 samples, x4
  Dmain  every step:        softplus(D(G(z))) + softplus(-D(x)), x1
  Dreg   every D_reg (16):  R1 = gamma/2 * |dD(x)/dx|^2, x16
each with its own Adam step (one Adam per network, shared by its main and reg
phase, lr and betas adjusted by c = k/(k+1)); then the G EMA.

Every random value comes from a Draws object, so a step can be replayed from
stored tensors (the fixtures) or drawn from torch's global RNG in exactly the
reference's order (then torch.manual_seed(s) reproduces the reference run).

    T = Trainer(training_config("small", 64), seed=0)
    stats = T.step(real_img_uint8_to_float, draws=Draws())
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylegan2  # noqa: E402

W_AVG_BETA = 0.995
PHASES = ("Gmain", "Greg", "Dmain", "Dreg")

# train.py's cfg_specs (stylegan2.md §3.4) plus dne's `small`. ref_gpus -1 = --gpus;
# for auto/small, mb/mbstd/gamma/ema are derived from the resolution (see training_config).
CFG_SPECS = {
    "auto":      dict(ref_gpus=-1, mb=-1, mbstd=-1, fmaps=-1, lrate=-1, gamma=-1, ema=-1, ramp=0.05, map=2),
    "stylegan2": dict(ref_gpus=8, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=10, ema=10, ramp=None, map=8),
    "paper256":  dict(ref_gpus=8, mb=64, mbstd=8, fmaps=0.5, lrate=0.0025, gamma=1, ema=20, ramp=None, map=8),
    "paper512":  dict(ref_gpus=8, mb=64, mbstd=8, fmaps=1, lrate=0.0025, gamma=0.5, ema=20, ramp=None, map=8),
    "paper1024": dict(ref_gpus=8, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=2, ema=10, ramp=None, map=8),
    # dne's CPU config: dne init --preset small's networks (z = w = 256, 2 mapping
    # layers, channel_base 2048, channel_max 256), batch 16, auto's gamma and EMA formulas.
    "small":     dict(ref_gpus=1, mb=16, mbstd=4, fmaps=2048 / 32768, lrate=0.0025, gamma=-1, ema=-1, ramp=0.05,
                      map=2, z_dim=256, channel_max=256),
}


def training_config(cfg, resolution, gpus=1, batch=None, gamma=None, img_channels=3, c_dim=0):
    """Networks and hyper-parameters as the reference's train.py (--cfg, --gpus, --batch, --gamma)."""
    spec = dict(CFG_SPECS[cfg])
    if cfg == "auto":
        spec.update(ref_gpus=gpus, mb=max(min(gpus * min(4096 // resolution, 32), 64), gpus),
                    fmaps=1 if resolution >= 512 else 0.5, lrate=0.002 if resolution >= 1024 else 0.0025)
        spec["mbstd"] = min(spec["mb"] // gpus, 4)
    if spec["gamma"] < 0:
        spec["gamma"] = 0.0002 * resolution ** 2 / spec["mb"]
    if spec["ema"] < 0:
        spec["ema"] = spec["mb"] * 10 / 32
    batch_gpu = spec["mb"] // spec["ref_gpus"]
    if batch is not None:        # train.py: --batch sets batch and batch_gpu = batch // gpus
        spec["mb"], batch_gpu = batch, batch // gpus
    z_dim = spec.get("z_dim", 512)
    channel_base, channel_max = int(spec["fmaps"] * 32768), spec.get("channel_max", 512)
    G = dict(arch="stylegan2", z_dim=z_dim, w_dim=z_dim, c_dim=c_dim, img_resolution=resolution,
             img_channels=img_channels, mapping_layers=spec["map"], channel_base=channel_base,
             channel_max=channel_max, conv_clamp=256)
    D = stylegan2.d_config_for(G, mbstd_group_size=spec["mbstd"])
    return dict(cfg=cfg, G=G, D=D, batch=spec["mb"], batch_gpu=batch_gpu, lr=spec["lrate"], betas=(0.0, 0.99), eps=1e-8,
                gamma=float(spec["gamma"] if gamma is None else gamma), ema_kimg=spec["ema"],
                ema_rampup=spec["ramp"], style_mixing_prob=0.9, pl_weight=2.0, pl_decay=0.01,
                pl_batch_shrink=2, G_reg_interval=4, D_reg_interval=16)


class Draws:
    """Every random value of a training step, by name (see tools/reference/README.md).

    Draws()            draws from torch's global RNG, in the reference's order;
    Draws(record=True) also keeps every draw in .recorded (name -> tensor);
    Draws(replay=d)    returns d[name] instead (shapes checked), for fixtures.
    """

    def __init__(self, replay=None, record=False):
        self.replay, self.recorded = replay, ({} if record else None)

    def _take(self, name, make):
        if self.replay is not None:
            v = torch.as_tensor(np.asarray(self.replay[name]))
        else:
            v = make()
        if self.recorded is not None:
            assert name not in self.recorded, "draw %s twice" % name
            self.recorded[name] = v.clone()
        return v

    def randn(self, name, shape):
        v = self._take(name, lambda: torch.randn(shape))
        assert list(v.shape) == list(shape), "%s: shape %s, expected %s" % (name, list(v.shape), list(shape))
        return v.to(torch.float32)

    def cutoff(self, name, num_ws):
        """Uniform integer in [1, num_ws) (torch's int64 random_(1, num_ws))."""
        return self._take(name, lambda: torch.empty([], dtype=torch.int64).random_(1, num_ws)).to(torch.int64)

    def rand(self, name):
        return self._take(name, lambda: torch.rand([])).to(torch.float32)


def softplus(x):
    return F.softplus(x)


class Trainer:
    """G, D, G_ema, both Adams, pl_mean and the counters; step() is one training iteration."""

    def __init__(self, opts, seed=None, G=None, D=None):
        self.opts = opts
        if seed is not None:
            torch.manual_seed(seed)
        # The reference builds G, then D, from the global RNG; G_ema is a copy of G.
        self.G = G if G is not None else stylegan2.Generator(opts["G"])
        self.D = D if D is not None else stylegan2.Discriminator(opts["D"])
        self.G_ema = stylegan2.Generator(self.G.config)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.G.train().requires_grad_(False)
        self.D.train().requires_grad_(False)
        self.G_ema.eval().requires_grad_(False)
        self.G_opt = self._adam(self.G, opts["G_reg_interval"])
        self.D_opt = self._adam(self.D, opts["D_reg_interval"])
        self.pl_mean = torch.zeros([])
        self.cur_nimg = 0
        self.batch_idx = 0
        self.phase_hook = None   # f(phase, net, stats) before each Adam step (fixtures inspect grads)

    def _adam(self, module, reg_interval):
        c = reg_interval / (reg_interval + 1)     # lazy regularisation
        betas = [b ** c for b in self.opts["betas"]]
        return torch.optim.Adam(module.parameters(), lr=self.opts["lr"] * c, betas=betas, eps=self.opts["eps"])

    # -- networks as the loss runs them ---------------------------------------

    def run_G(self, z, c, draws, prefix):
        """Mapping (updating w_avg), style mixing, synthesis with random noise, non-fused modconv."""
        G = self.G
        ws = G.mapping(z, c)
        with torch.no_grad():   # w_avg <- lerp(mean_n w, w_avg, 0.995); buffers carry no grad
            G.mapping.w_avg.copy_(ws[:, 0].detach().mean(dim=0).lerp(G.mapping.w_avg, W_AVG_BETA))
        if self.opts["style_mixing_prob"] > 0:
            num_ws = ws.shape[1]
            cutoff = draws.cutoff(prefix + ".mix_cutoff", num_ws)
            mix = draws.rand(prefix + ".mix_rand") < self.opts["style_mixing_prob"]
            cutoff = cutoff if bool(mix) else torch.full_like(cutoff, num_ws)
            z2 = draws.randn(prefix + ".mix_z", list(z.shape))
            ws[:, int(cutoff):] = G.mapping(z2, c)[:, int(cutoff):]
        noise = lambda name, shape: draws.randn(prefix + ".noise." + name, shape)  # noqa: E731
        img = G.synthesis(ws, noise_mode="random", fused=False, randn=noise)
        return img, ws

    def run_D(self, img, c):
        return self.D(img, c)

    # -- losses (one round of a phase; backward adds gain * mean(loss) to .grad) ---

    def loss_Gmain(self, gen_z, gen_c, gain, draws, prefix="Gmain"):
        img, _ = self.run_G(gen_z, gen_c, draws, prefix)
        logits = self.run_D(img, gen_c)
        loss = softplus(-logits)
        loss.mean().mul(gain).backward()
        return dict(G_loss=float(loss.mean()))

    def pl_penalty(self, gen_z, gen_c, draws, prefix="Greg"):
        """Path-length penalty per sample (graph kept for the double backward) and the image.

        y = pl_noise / sqrt(H*W); g = d(sum img*y)/d ws; a = sqrt(mean_layers sum_w g^2);
        pl_mean <- lerp(pl_mean, mean(a), decay) (the new pl_mean stays in the graph);
        penalty = (a - pl_mean)^2.
        """
        img, ws = self.run_G(gen_z, gen_c, draws, prefix)
        pl_noise = draws.randn(prefix + ".pl_noise", list(img.shape)) / np.sqrt(img.shape[2] * img.shape[3])
        pl_grads = torch.autograd.grad(outputs=[(img * pl_noise).sum()], inputs=[ws], create_graph=True,
                                       only_inputs=True)[0]
        pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
        pl_mean = self.pl_mean.lerp(pl_lengths.mean(), self.opts["pl_decay"])
        self.pl_mean.copy_(pl_mean.detach())
        return (pl_lengths - pl_mean).square(), img

    def loss_Greg(self, gen_z, gen_c, gain, draws, prefix="Greg"):
        n = gen_z.shape[0] // self.opts["pl_batch_shrink"]
        penalty, img = self.pl_penalty(gen_z[:n], gen_c[:n], draws, prefix)
        loss = penalty * self.opts["pl_weight"]
        # The img[:, 0, 0, 0] * 0 term (as the reference) keeps every G parameter in the graph.
        (img[:, 0, 0, 0] * 0 + loss).mean().mul(gain).backward()
        return dict(pl_penalty=float(penalty.mean()), pl_mean=float(self.pl_mean))

    def loss_Dmain(self, real_img, real_c, gen_z, gen_c, gain, draws, prefix="Dmain"):
        img, _ = self.run_G(gen_z, gen_c, draws, prefix)      # G has requires_grad False here
        gen_logits = self.run_D(img, gen_c)
        loss_gen = softplus(gen_logits)
        loss_gen.mean().mul(gain).backward()
        real_logits = self.run_D(real_img.detach(), real_c)
        loss_real = softplus(-real_logits)
        (real_logits * 0 + loss_real).mean().mul(gain).backward()
        return dict(D_loss=float((loss_gen + loss_real).mean()))

    def r1_penalty(self, real_img, real_c):
        """R1 per sample, |d sum D(x) / dx|^2 over C,H,W (graph kept), and the logits."""
        x = real_img.detach().requires_grad_(True)
        logits = self.run_D(x, real_c)
        grads = torch.autograd.grad(outputs=[logits.sum()], inputs=[x], create_graph=True, only_inputs=True)[0]
        return grads.square().sum([1, 2, 3]), logits

    def loss_Dreg(self, real_img, real_c, gain):
        penalty, logits = self.r1_penalty(real_img, real_c)
        loss = penalty * (self.opts["gamma"] / 2)
        (logits * 0 + loss).mean().mul(gain).backward()
        return dict(r1_penalty=float(penalty.mean()))

    # -- one iteration ----------------------------------------------------------

    def step(self, real_img, draws, real_c=None, gen_c=None):
        """real_img: float32 [batch, C, R, R] in [-1, 1] (uint8 / 127.5 - 1).

        gen_z for all four phases is drawn first as one [4*batch, z_dim] tensor
        (chunk p belongs to PHASES[p]; Dreg's chunk is drawn but unused). Each
        phase runs in rounds of batch_gpu images, summing gradients.
        """
        o, G = self.opts, self.G
        batch, bg = o["batch"], o["batch_gpu"]
        assert real_img.shape[0] == batch and batch % bg == 0
        if real_c is None:
            real_c = torch.zeros([batch, G.c_dim])
        if gen_c is None:
            gen_c = torch.zeros([len(PHASES) * batch, G.c_dim])
        gen_z = draws.randn("gen_z", [len(PHASES) * batch, G.z_dim])
        stats = {}
        for p, phase in enumerate(PHASES):
            net, opt = (self.G, self.G_opt) if phase[0] == "G" else (self.D, self.D_opt)
            interval = {"Greg": o["G_reg_interval"], "Dreg": o["D_reg_interval"]}.get(phase, 1)
            if self.batch_idx % interval != 0:
                continue
            opt.zero_grad(set_to_none=True)
            net.requires_grad_(True)
            for r in range(batch // bg):
                z = gen_z[p * batch + r * bg: p * batch + (r + 1) * bg]
                c = gen_c[p * batch + r * bg: p * batch + (r + 1) * bg]
                x, xc = real_img[r * bg:(r + 1) * bg], real_c[r * bg:(r + 1) * bg]
                prefix = phase if r == 0 else "%s.round%d" % (phase, r)
                if phase == "Gmain":
                    stats.update(self.loss_Gmain(z, c, interval, draws, prefix))
                elif phase == "Greg":
                    stats.update(self.loss_Greg(z, c, interval, draws, prefix))
                elif phase == "Dmain":
                    stats.update(self.loss_Dmain(x, xc, z, c, interval, draws, prefix))
                else:
                    stats.update(self.loss_Dreg(x, xc, interval))
            net.requires_grad_(False)
            for param in net.parameters():
                if param.grad is not None:
                    torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
            if self.phase_hook:
                self.phase_hook(phase, net, stats)
            opt.step()
        self.update_ema()
        self.cur_nimg += batch
        self.batch_idx += 1
        return stats

    def ema_beta(self):
        ema_nimg = self.opts["ema_kimg"] * 1000
        if self.opts["ema_rampup"] is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * self.opts["ema_rampup"])
        return 0.5 ** (self.opts["batch"] / max(ema_nimg, 1e-8))

    def update_ema(self):
        """p_ema <- lerp(p, p_ema, beta) for parameters; buffers copied."""
        beta = self.ema_beta()
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)

    # -- state as named tensors ---------------------------------------------------

    def adam_state(self, which):
        """name -> tensor: <param>.exp_avg, <param>.exp_avg_sq; plus 'step' (float, shared)."""
        net, opt = (self.G, self.G_opt) if which == "G" else (self.D, self.D_opt)
        out, steps = {}, set()
        for name, param in net.named_parameters():
            st = opt.state.get(param, {})
            if st:
                out[name + ".exp_avg"] = st["exp_avg"].clone()
                out[name + ".exp_avg_sq"] = st["exp_avg_sq"].clone()
                steps.add(float(st["step"]))
        assert len(steps) <= 1, "parameters at different Adam steps: %s" % steps
        out["step"] = torch.tensor(steps.pop() if steps else 0.0)
        return out

    def set_adam_state(self, which, tensors):
        net, opt = (self.G, self.G_opt) if which == "G" else (self.D, self.D_opt)
        step = float(np.asarray(tensors["step"]))
        for name, param in net.named_parameters():
            if step == 0:
                opt.state.pop(param, None)
                continue
            opt.state[param] = dict(step=torch.tensor(step),
                                    exp_avg=torch.as_tensor(np.asarray(tensors[name + ".exp_avg"])).clone(),
                                    exp_avg_sq=torch.as_tensor(np.asarray(tensors[name + ".exp_avg_sq"])).clone())


def adam_hparams(opts, which):
    """(lr, beta1, beta2, eps) the Adam of G or D really uses (lazy-regularisation adjusted)."""
    k = opts["G_reg_interval"] if which == "G" else opts["D_reg_interval"]
    c = k / (k + 1)
    return opts["lr"] * c, opts["betas"][0] ** c, opts["betas"][1] ** c, opts["eps"]


if __name__ == "__main__":
    for name, res in (("auto", 256), ("auto", 512), ("paper256", 256), ("paper512", 512), ("stylegan2", 1024),
                      ("small", 64)):
        o = training_config(name, res)
        print(name, res, {k: o[k] for k in ("batch", "batch_gpu", "lr", "gamma", "ema_kimg", "ema_rampup")},
              "mbstd", o["D"]["mbstd_group_size"], "G", adam_hparams(o, "G"), "D", adam_hparams(o, "D"),
              "ema beta %.6f" % (0.5 ** (o["batch"] / (o["ema_kimg"] * 1000))))
