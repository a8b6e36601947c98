#!/usr/bin/env -S /usr/bin/python3
"""The PyTorch side of bench/video: the frames `dne video` makes in w space
(keyframes = truncated ws of the seeds, Catmull-Rom or linear in between,
optionally looping; noise const), rendered with tools/reference/stylegan2.py
and encoded the same way (raw RGB piped to ffmpeg, libx264, CRF 18, yuv420p).
Prints one JSON object: frames, seconds, frames/s (rendering and piping,
after loading the network). An --output ending in '/' writes numbered PNGs
(frame000000.png, ...) instead, as `dne video` does, to compare frames exactly.

    /usr/bin/python3 tools/reference/video.py --network G.safetensors --seeds 1,2,3 \
        --frames-per-seed 20 --loop --output ref.mp4 [--trunc 0.7] [--interp cubic] [--threads 2]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import PIL.Image
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylegan2  # noqa: E402


def catmull_rom(p0, p1, p2, p3, t):
    """Uniform Catmull-Rom segment from p1 (t = 0) to p2 (t = 1)."""
    t = np.float32(t)
    t2, t3 = t * t, t * t * t
    w = [0.5 * (-t + 2 * t2 - t3), 0.5 * (2 - 5 * t2 + 3 * t3), 0.5 * (t + 4 * t2 - 3 * t3), 0.5 * (-t2 + t3)]
    return w[0] * p0 + w[1] * p1 + w[2] * p2 + w[3] * p3


def path_point(keys, frames_per_key, loop, interp, frame):
    k = len(keys)
    seg, step = divmod(frame, frames_per_key)

    def key(i):
        return keys[i % k] if loop else keys[min(max(i, 0), k - 1)]
    if step == 0:
        return key(seg)
    t = np.float32(step) / np.float32(frames_per_key)
    if interp == "linear":
        return (1 - t) * key(seg) + t * key(seg + 1)
    return catmull_rom(key(seg - 1), key(seg), key(seg + 1), key(seg + 2), t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--network", required=True)
    ap.add_argument("--seeds", required=True)
    ap.add_argument("--frames-per-seed", type=int, default=60)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--trunc", type=float, default=1.0)
    ap.add_argument("--interp", choices=["linear", "cubic"], default="cubic")
    ap.add_argument("--loop", action="store_true")
    ap.add_argument("--output", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    G = stylegan2.Generator.load(args.network).eval()
    seeds = [int(s) for s in args.seeds.split(",")]
    res = G.img_resolution
    png_dir = args.output if args.output.endswith("/") else None
    if png_dir:
        os.makedirs(png_dir, exist_ok=True)
    ffmpeg = None if png_dir else subprocess.Popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-video_size", "%dx%d" % (res, res), "-framerate", "%g" % args.fps, "-i", "pipe:0", "-c:v", "libx264",
         "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-y", args.output],
        stdin=subprocess.PIPE)
    k = len(seeds)
    frames = (k if args.loop else k - 1) * args.frames_per_seed + (0 if args.loop else 1)
    start = time.perf_counter()
    with torch.no_grad():
        keys = []
        for s in seeds:
            z = torch.from_numpy(np.random.RandomState(s).randn(1, G.z_dim).astype(np.float32))
            keys.append(G.mapping(z, None, psi=args.trunc)[0].numpy())
        for f in range(frames):
            ws = torch.from_numpy(np.ascontiguousarray(path_point(keys, args.frames_per_seed, args.loop, args.interp, f)))
            img = G.synthesis(ws[None].to(torch.float32), noise_mode="const")
            pixels = stylegan2.to_uint8(img)[0].numpy()
            if png_dir:
                PIL.Image.fromarray(pixels, "RGB").save(os.path.join(png_dir, "frame%06d.png" % f))
            else:
                ffmpeg.stdin.write(pixels.tobytes())
    if ffmpeg:
        ffmpeg.stdin.close()
    seconds = time.perf_counter() - start
    if ffmpeg and ffmpeg.wait() != 0:
        sys.exit("ffmpeg failed")
    print(json.dumps({"frames": frames, "seconds": round(seconds, 3), "frames_per_s": round(frames / seconds, 3),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
