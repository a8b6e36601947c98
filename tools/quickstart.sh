#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs dne's main job.
# Installs the packages (tools/install-deps.sh), builds dne into build/, then
# runs it. Today the main job is `dne generate`: the web daemon (`dne serve`)
# and the trained default model it will serve are not in this version yet, so
# it renders seeds 0-7 from a freshly initialised network into out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
mkdir -p out
[[ -f out/quickstart.safetensors ]] || build/dne init --preset small --res 64 --seed 1 --out out/quickstart.safetensors
build/dne generate --network out/quickstart.safetensors --seeds 0-7 --trunc 0.7 --outdir out/quickstart
