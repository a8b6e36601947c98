#!/usr/bin/env bash
# Run HERE (a Debian 12 machine with network) before tests/gpu/run.sh: the GPU
# machine reaches no package registry and has CUDA but not the C libraries
# libgan links, so their Debian packages travel with the tree in .gpu-deps/
# (ignored by git; name it in the device tool's `carry`). About 16 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu-deps
cd .gpu-deps
rm -f ./*.deb
apt-get download \
  libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev libgfortran5 \
  libpng-dev libpng16-16 zlib1g-dev libjpeg62-turbo-dev libjpeg62-turbo libgif-dev libgif7 \
  libwebp-dev libwebp7 libwebpdemux2 libwebpmux3 libcjson-dev libcjson1 libzip-dev libzip4 \
  pkgconf pkgconf-bin libpkgconf3 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls ./*.deb | wc -l | xargs echo "packages in .gpu-deps:"
