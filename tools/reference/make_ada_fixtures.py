#!/usr/bin/env -S /usr/bin/python3
"""Writes tests/fixtures/ada_p.txt: the trajectory of ADA's p under a scripted
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

import numpy as np
import torch

BATCH, INTERVAL, TARGET, ADA_KIMG, STEPS = 8, 4, 0.6, 0.5, 240


def real_logits(b):
    t = 2 if b < 120 else 12
    return torch.tensor([float((7 * b + 13 * i) % 17 - t) for i in range(BATCH)])


def main():
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
