#!/usr/bin/env bash
# The test suite: builds dne (Release; the CUDA backend is compiled too when
# nvcc is present, so a CUDA compile error fails here) and runs every test,
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs every test under them; last, fuzzes the readers of untrusted model
# files (pickle, safetensors) for 60 s each (tests/fuzz/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDNE_SANITIZE=ON -DDNE_CUDA=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
tests/fuzz/run.sh 60
echo "all tests passed"
