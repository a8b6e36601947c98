#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs dne's main job: the site.
# Installs the packages (tools/install-deps.sh), builds dne into build/, and
# serves the page on http://127.0.0.1:8080/ (Ctrl-C stops it).
# There is no trained default model in this version yet, so it serves faces of
# a freshly initialised 64 px network (colourful noise rather than faces);
# pass your own generator as the first argument: tools/quickstart.sh G.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
network=${1:-out/quickstart.safetensors}
if [[ ! -f $network ]]; then
  mkdir -p out
  build/dne init --preset small --res 64 --seed 1 --out "$network"
fi
exec build/dne serve --network "$network" --pool out/pool --pool-size 200 --listen 127.0.0.1:8080
