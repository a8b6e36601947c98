#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs dne's main job: the site.
# Installs the packages (tools/install-deps.sh), builds dne into build/, and
# serves the page on http://127.0.0.1:8080/ (Ctrl-C stops it), from the
# network given as the first argument (a generator file, a training
# checkpoint or a stylegan2-ada-pytorch .pkl), else the bundled model
# (models/default.safetensors), else a freshly initialised 64 px network
# (colourful noise rather than faces).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
network=()
if [[ $# -gt 0 ]]; then
  network=(--network "$1")
elif [[ ! -f models/default.safetensors ]]; then
  mkdir -p out
  [[ -f out/quickstart.safetensors ]] || build/dne init --preset small --res 64 --seed 1 --out out/quickstart.safetensors
  network=(--network out/quickstart.safetensors)
fi
exec build/dne serve "${network[@]}" --pool out/pool --pool-size 200 --listen 127.0.0.1:8080
