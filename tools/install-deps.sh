#!/usr/bin/env bash
# Installs the Debian 12 packages dne builds, tests and benchmarks with.
# Run as root (or it uses sudo). Safe to run again.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev                 # libFuzzer targets (tests/fuzz): the compiler and its fuzzer/sanitizer runtimes
  libopenblas-openmp-dev libopenblas-dev   # CPU GEMM (the OpenMP build shares our thread pool)
  libpng-dev libjpeg62-turbo-dev libwebp-dev libgif-dev  # image formats
  libcjson-dev                             # JSON (configs, safetensors headers)
  libzip-dev                               # zips: stylegan2-ada datasets, NumPy .npz latents
  ffmpeg                                   # dne video's MP4 output (the ffmpeg program); ffprobe in tests
  libmicrohttpd-dev                        # HTTP for dne serve
  libopencv-objdetect-dev libopencv-imgproc-dev libopencv-core-dev  # dne prep: cascade, resize
  python3-opencv                           # bench/prep baseline (tools/prep_reference.py)
  python3-torch python3-numpy              # tools/reference: fixtures, converters, benchmark baseline
  python3-pil python3-scipy                # tools/reference/swd.py: image decoding, the pyramid check
  chromium                                 # the page's browser test (tests/browser)
  wrk nginx-light curl                     # bench/serve; curl in tests/cli/default_model.sh
)
# Node.js and npm: the machine's own when present (NodeSource's nodejs bundles
# npm and conflicts with Debian's npm package), Debian's otherwise.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"

# The browser test's one npm dependency (playwright-core, driving Debian's chromium).
cd "$(dirname "$0")/../tests/browser"
npm ci --no-audit --no-fund --loglevel=error
