#!/usr/bin/env -S /usr/bin/python3
"""Times the PyTorch reference generator (tools/reference/stylegan2.py: the
reference's fused inference path) on the CPU or a GPU; prints one JSON object
with ms/image and this process's peak RSS. Run by bench/generate (CPU) and
tests/gpu/run.sh (--device cuda) beside dne.

    /usr/bin/python3 tools/reference/bench_generate.py --network G.safetensors --batch 8 --reps 3 --threads 2
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylegan2  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--network", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type != "cpu":
        torch.set_default_device(device)  # the filters the ops make on the fly
    G = stylegan2.Generator.load(args.network).eval().to(device)
    z = torch.randn([args.batch, G.z_dim], generator=torch.Generator().manual_seed(3), device="cpu").to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    with torch.no_grad():
        for rep in range(args.reps + 1):  # the first run warms up
            start = time.perf_counter()
            ws = G.mapping(z, None, psi=1.0)
            G.synthesis(ws, noise_mode="const")
            sync()
            if rep > 0:
                times.append(time.perf_counter() - start)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms_per_image": round(1000 * statistics.median(times) / args.batch, 2),
                      "rss_mb": round(rss_mb), "torch": torch.__version__, "device": args.device,
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(library default)")}))


if __name__ == "__main__":
    main()
