#!/usr/bin/env -S /usr/bin/python3
"""Puts images side by side in one row, each with its label above (Pillow).

    tools/experiments/side_by_side.py --out OUT.png LABEL=IMAGE [LABEL=IMAGE ...] [--height 320]

Every image is scaled to --height pixels (nearest neighbour, so that small
generated faces stay sharp) before it is placed.
"""
import argparse

from PIL import Image, ImageDraw

GAP, LABEL = 8, 22


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--height", type=int, default=320)
    p.add_argument("panels", nargs="+", help="LABEL=IMAGE")
    a = p.parse_args()
    tiles = []
    for panel in a.panels:
        label, _, path = panel.partition("=")
        im = Image.open(path).convert("RGB")
        w = round(im.width * a.height / im.height)
        tiles.append((label, im.resize((w, a.height), Image.NEAREST)))
    width = sum(t.width for _, t in tiles) + GAP * (len(tiles) + 1)
    sheet = Image.new("RGB", (width, a.height + LABEL + 2 * GAP), "white")
    draw = ImageDraw.Draw(sheet)
    x = GAP
    for label, tile in tiles:
        draw.text((x, GAP), label, fill=(0, 0, 0))
        sheet.paste(tile, (x, GAP + LABEL))
        x += tile.width + GAP
    sheet.save(a.out)
    print(f"wrote {a.out}: {sheet.width}x{sheet.height}")


if __name__ == "__main__":
    main()
