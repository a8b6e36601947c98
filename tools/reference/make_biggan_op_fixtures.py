#!/usr/bin/env -S /usr/bin/python3
"""Write tests/fixtures/biggan_ops.safetensors alone (tests/test_ops_biggan.c).

    /usr/bin/python3 tools/reference/make_biggan_op_fixtures.py [--out tests/fixtures]

The cases live in make_biggan_fixtures.make_ops, which make_biggan_fixtures.py
also runs with the network fixtures; this entry point regenerates only the op
fixture (seconds instead of minutes) and writes the same bytes. For every op,
"<case>.x<i>" (float32 inputs), ".y", ".dy" (a seeded random upstream
gradient) and ".dx<i>" (torch.autograd's gradient of sum(y * dy)), computed by
torch itself in fp64 from the float32 inputs, so that the C test measures
dne's own fp32 error:

  matmul<ta><tb>, bmm<ta><tb>   a @ b and torch.bmm, every combination of transposes
  softmax                       F.softmax(x, -1)
  tanh                          torch.tanh
  max_pool2d, avg_pool2d        F.max_pool2d(x, 2), F.avg_pool2d(x, 2) (= nn.AvgPool2d(2))
  upsample_nearest2d            F.interpolate(x, scale_factor=2)
  normalize_rows                F.normalize(x, eps=1e-6) (forward only)
  batch_norm_cond               F.batch_norm(training=True) * (1 + gain[N, C]) + bias[N, C] (BigGAN's ccbn)
  batch_norm_plain              F.batch_norm(training=True) with a [C] weight and bias
  batch_stats.mean / .var       the batch mean and biased variance of batch_norm_cond's x
  batch_norm_eval               F.batch_norm(training=False) with given statistics

Seeded, torch single-threaded: reruns give identical bytes (about 25 KB).
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_biggan_fixtures import make_ops  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    make_ops(args.out)
    path = os.path.join(args.out, "biggan_ops.safetensors")
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
