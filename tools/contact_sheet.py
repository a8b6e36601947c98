#!/usr/bin/python3
"""A contact sheet of `dne prep crop` output: the kept crops of a manifest,
tiled in a grid (for docs/data-prep.md).

    tools/contact_sheet.py CROPS_DIR OUT.png [--tile 96] [--columns 8] [--max 48]
"""
import argparse
import json
import os

import cv2
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("crops")
    p.add_argument("out")
    p.add_argument("--tile", type=int, default=96)
    p.add_argument("--columns", type=int, default=8)
    p.add_argument("--max", type=int, default=48)
    args = p.parse_args()
    with open(os.path.join(args.crops, "manifest.jsonl")) as f:
        files = [e["file"] for e in map(json.loads, f) if e["status"] == "ok"][: args.max]
    if not files:
        raise SystemExit("no crops in the manifest")
    rows = (len(files) + args.columns - 1) // args.columns
    t, gap = args.tile, 2
    sheet = np.full((rows * (t + gap) + gap, args.columns * (t + gap) + gap, 3), 255, np.uint8)
    for i, name in enumerate(sorted(files)):
        img = cv2.imread(os.path.join(args.crops, name), cv2.IMREAD_COLOR)
        img = cv2.resize(img, (t, t), interpolation=cv2.INTER_AREA)
        r, c = divmod(i, args.columns)
        sheet[gap + r * (t + gap): gap + r * (t + gap) + t, gap + c * (t + gap): gap + c * (t + gap) + t] = img
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print("%d crops -> %s" % (len(files), args.out))


if __name__ == "__main__":
    main()
