#!/usr/bin/env -S /usr/bin/python3
"""Draws training curves from metric-*.jsonl files as a PNG (Pillow only).

    tools/plot_metric.py --out swd.png RUN1/metric-swd.jsonl[=label] [RUN2/metric-swd.jsonl=label ...]
                         [--key swd_avg] [--title "..."]

The x axis is thousands of training images, read from each line's
"snapshot_pkl" (network-snapshot-NNNNNN: kimg) or, when the run folder's
stats.jsonl is beside the file, from the tick that wrote it; the y axis is
the value of --key (default swd_avg), on a linear scale from 0.
"""
import argparse
import json
import os
import re

from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 420, 70, 20, 40, 50


def read_series(path, key):
    """[(kimg, value)] of one metric file, in file order."""
    points = []
    for line in open(path):
        row = json.loads(line)
        value = row["results"].get(key)
        m = re.search(r"(\d+)", row.get("snapshot_pkl") or "")
        kimg = row.get("kimg", int(m.group(1)) if m else len(points))
        if value is not None:
            points.append((float(kimg), float(value)))
    return points


def nice_step(span):
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if span / step <= 8:
            return step
    return span / 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="metric file, optionally =label")
    ap.add_argument("--out", required=True)
    ap.add_argument("--key", default="swd_avg")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    series = []
    for spec in args.files:
        path, _, label = spec.partition("=")
        series.append((label or os.path.basename(os.path.dirname(path)) or path, read_series(path, args.key)))
    xs = [x for _, pts in series for x, _ in pts] or [0, 1]
    ys = [y for _, pts in series for _, y in pts] or [0, 1]
    x_max, y_max = max(max(xs), 1e-9), max(ys) * 1.05
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    px = lambda x: LEFT + (W - LEFT - RIGHT) * x / x_max  # noqa: E731
    py = lambda y: H - BOTTOM - (H - TOP - BOTTOM) * y / y_max  # noqa: E731
    step = nice_step(y_max)
    y = 0.0
    while y <= y_max:
        d.line([(LEFT, py(y)), (W - RIGHT, py(y))], fill=(230, 230, 230))
        d.text((8, py(y) - 6), "%g" % y, fill="black")
        y += step
    xstep = nice_step(x_max)
    x = 0.0
    while x <= x_max:
        d.text((px(x) - 6, H - BOTTOM + 6), "%g" % x, fill="black")
        x += xstep
    d.rectangle([LEFT, TOP, W - RIGHT, H - BOTTOM], outline="black")
    d.text((W // 2 - 40, H - 22), "kimg (thousands of images shown)", fill="black")
    d.text((LEFT, 12), args.title or "%s during training" % args.key, fill="black")
    for i, (label, pts) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        if len(pts) > 1:
            d.line([(px(x), py(y)) for x, y in pts], fill=colour, width=2)
        for x, y in pts:
            d.ellipse([px(x) - 3, py(y) - 3, px(x) + 3, py(y) + 3], fill=colour)
        d.text((W - RIGHT - 220, TOP + 8 + 14 * i), "- " + label, fill=colour)
    img.save(args.out)
    print("%s: %d series" % (args.out, len(series)))


if __name__ == "__main__":
    main()
