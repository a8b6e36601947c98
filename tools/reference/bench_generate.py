#!/usr/bin/env -S /usr/bin/python3
"""Times the PyTorch reference generator (tools/reference/stylegan2.py: the
reference's fused inference path) on the CPU; prints one JSON object with
ms/image and this process's peak RSS. Run by bench/generate beside dne.

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
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    G = stylegan2.Generator.load(args.network).eval()
    z = torch.randn([args.batch, G.z_dim], generator=torch.Generator().manual_seed(3))
    times = []
    with torch.no_grad():
        for rep in range(args.reps + 1):  # the first run warms up
            start = time.perf_counter()
            ws = G.mapping(z, None, psi=1.0)
            G.synthesis(ws, noise_mode="const")
            if rep > 0:
                times.append(time.perf_counter() - start)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms_per_image": round(1000 * statistics.median(times) / args.batch, 2),
                      "rss_mb": round(rss_mb), "torch": torch.__version__,
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(library default)")}))


if __name__ == "__main__":
    main()
