#!/usr/bin/python3
"""The classic Python + OpenCV face-crop pipeline, the baseline of bench/prep.

The steps of `dne prep crop` with its defaults, written the way such scripts
are usually written (lbpcascade_animeface's README, the TWDNE-era crop
scripts): a loop over the files, cv2.imread, grey + equalizeHist,
detectMultiScale(1.1, 5, 24x24), a square crop of side w * (1 + 2 * margin)
centred on the face, edge replication where it leaves the picture, resize
(INTER_AREA down, INTER_LANCZOS4 up), the greyscale test (mean chroma) and a
dHash near-duplicate test, cv2.imwrite PNG, one JSON line per face.

    prep_crop.py --in DIR --out DIR --cascade XML [--res 256] [--margin 0.5] [--workers N]

--workers 1 (default) is the classic sequential loop, with OpenCV's own
thread pool inside each call; --workers N splits the files over N processes
(OpenCV single-threaded in each), the best a Python script can do.
Prints "images N seconds S" on the last line.
"""
import argparse
import json
import multiprocessing
import os
import sys
import time

import cv2
import numpy as np


def list_inputs(root):
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            if not f.startswith(".") and not f.lower().endswith((".json", ".jsonl", ".txt", ".csv", ".md", ".xml")):
                out.append(os.path.join(d, f))
    return sorted(out)


def dhash(rgb):
    grey = cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, :-1] > small[:, 1:]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


class Cropper:
    def __init__(self, args):
        self.args = args
        self.cascade = cv2.CascadeClassifier(args.cascade)
        self.hashes = []

    def crop(self, img, x, y, w):
        side = int(round(w * (1 + 2 * self.args.margin)))
        x0, y0 = (2 * x + w - side) // 2, (2 * y + w - side) // 2
        h_img, w_img = img.shape[:2]
        pad = max(0, -x0, -y0, x0 + side - w_img, y0 + side - h_img)
        if pad:
            img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        region = img[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
        res = self.args.res
        interp = cv2.INTER_AREA if side >= res else cv2.INTER_LANCZOS4
        return cv2.resize(region, (res, res), interpolation=interp), side

    def process(self, path):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            return [{"source": path, "status": "unreadable"}]
        grey = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        faces = self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        if len(faces) == 0:
            return [{"source": path, "status": "no_face"}]
        entries = []
        rel = os.path.relpath(path, self.args.inp)
        for k, (x, y, w, h) in enumerate(faces):
            crop, side = self.crop(img, int(x), int(y), int(w))
            entry = {"source": path, "face": [int(x), int(y), int(w), int(h)]}
            chroma = (crop.max(axis=2).astype(np.int32) - crop.min(axis=2)).mean() / 255.0
            h = dhash(crop)
            if side < self.args.res and not self.args.upscale:
                entry["status"] = "crop_too_small"
            elif chroma < 0.04:
                entry["status"] = "greyscale"
            elif any(bin(h ^ o).count("1") <= 4 for o in self.hashes):
                entry["status"] = "duplicate"
            else:
                self.hashes.append(h)
                name = os.path.splitext(rel)[0] + "_%d.png" % k
                out = os.path.join(self.args.out, name)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                cv2.imwrite(out, crop)
                entry.update(status="ok", file=name)
            entries.append(entry)
        return entries


_worker = None


def _init(args):
    global _worker
    cv2.setNumThreads(1)
    _worker = Cropper(args)


def _run(path):
    return _worker.process(path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--in", dest="inp", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cascade", required=True)
    p.add_argument("--res", type=int, default=512)
    p.add_argument("--margin", type=float, default=0.5)
    p.add_argument("--upscale", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    files = list_inputs(args.inp)
    start = time.monotonic()
    with open(os.path.join(args.out, "manifest.jsonl"), "w") as manifest:
        if args.workers == 1:
            cropper = Cropper(args)
            results = (cropper.process(f) for f in files)
        else:
            # Duplicates are checked per process here: a little less work than dne's shared set.
            pool = multiprocessing.Pool(args.workers, _init, (args,))
            results = pool.imap(_run, files, chunksize=1)
        for entries in results:
            for e in entries:
                manifest.write(json.dumps(e) + "\n")
    print("images %d seconds %.3f" % (len(files), time.monotonic() - start))


if __name__ == "__main__":
    sys.exit(main())
