#!/usr/bin/env -S /usr/bin/python3
"""Times one training step of the PyTorch reference (train.Trainer, fp32 CPU)
and prints one JSON object per resolution: images/s of a step with all four
phases due (Gmain, Greg (path length), Dmain, Dreg (R1)) and of a step with the
main phases only. Run by bench/train beside dne.

    /usr/bin/python3 tools/reference/bench_train.py --resolutions 64,128 --batch 8 --threads 2 --reps 3 [--cfg small]
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402


def time_steps(T, reals, batch_idx, reps, sync):
    times = []
    for rep in range(reps + 1):            # the first run warms up
        T.batch_idx = batch_idx
        start = time.perf_counter()
        T.step(reals, train.Draws())
        sync()
        if rep > 0:
            times.append(time.perf_counter() - start)
    return reals.shape[0] / statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolutions", default="64,128")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cfg", default="small")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type != "cpu":
        torch.set_default_device(device)  # networks, draws and optimizer state on the GPU
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for res in [int(r) for r in args.resolutions.split(",")]:
        opts = train.training_config(args.cfg, res, batch=args.batch)
        T = train.Trainer(opts, seed=0)
        reals = torch.rand([args.batch, 3, res, res], generator=torch.Generator().manual_seed(1), device="cpu")
        reals = (reals * 2 - 1).to(device)
        all_due = time_steps(T, reals, 0, args.reps, sync)      # batch_idx 0: every phase is due
        main_only = time_steps(T, reals, 1, args.reps, sync)
        print(json.dumps({"resolution": res, "cfg": args.cfg, "batch": args.batch, "threads": args.threads,
                          "images_per_s_all_phases": round(all_due, 3),
                          "images_per_s_main_phases": round(main_only, 3), "torch": torch.__version__,
                          "device": args.device}), flush=True)


if __name__ == "__main__":
    main()
