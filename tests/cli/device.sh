#!/usr/bin/env bash
# --device on every command that runs a network: a malformed device is a
# usage error (status 2); cuda where this dne or this machine has none fails
# with a message naming CUDA and writes nothing. Where a GPU is present, the
# image rendered on it matches the CPU's (within 1 level), and a short
# training run on it writes its checkpoint.
# Usage: tests/cli/device.sh path/to/dne
set -euo pipefail
dne=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
net=models/default.safetensors
faces=../shared/data/anime_faces_getchu64/heldout

expect() { # expect STATUS "message" args...
  local want_status=$1 want=$2 status=0
  shift 2
  "$dne" "$@" >/dev/null 2>"$tmp/err" || status=$?
  [[ $status -eq $want_status ]] && grep -qi -- "$want" "$tmp/err" || { cat "$tmp/err"; fail "dne $*: status $status"; }
}

for cmd in "generate --network $net --seeds 0 --outdir $tmp/out" "video --network $net --seeds 0,1 --out $tmp/v.webp" \
           "metrics --network $net --data $faces --metrics swd --num 8" "train --data $faces --outdir $tmp/runs --kimg 0.01" \
           "serve --network $net --pool $tmp/pool --export $tmp/site"; do
  # shellcheck disable=SC2086 # the command is split into words on purpose
  expect 2 "bad device 'tpu'" $cmd --device tpu
done

if "$dne" generate --network "$net" --seeds 0 --outdir "$tmp/gpu" --device cuda 2>"$tmp/err"; then
  "$dne" generate --network "$net" --seeds 0 --outdir "$tmp/cpu" --device cpu
  /usr/bin/python3 - "$tmp/cpu/seed0000.png" "$tmp/gpu/seed0000.png" <<'PY' || fail "CUDA image differs from the CPU's"
import sys
import numpy as np
from PIL import Image
a, b = (np.asarray(Image.open(p), dtype=np.int16) for p in sys.argv[1:])
d = int(np.abs(a - b).max())
print(f"cuda vs cpu image: max level difference {d}")
sys.exit(d > 1)
PY
  "$dne" train --data "$faces" --cfg tiny --outdir "$tmp/runs" --kimg 0.016 --batch 8 --snap 1 --tick 0.008 \
    --metrics none --device cuda >/dev/null 2>&1 || fail "train --device cuda"
  ls "$tmp"/runs/*/network-snapshot-*.safetensors >/dev/null || fail "no checkpoint from the CUDA run"
else
  grep -qi "cuda" "$tmp/err" || { cat "$tmp/err"; fail "--device cuda failed without naming CUDA"; }
  [[ ! -e $tmp/gpu ]] || [[ -z $(ls -A "$tmp/gpu") ]] || fail "--device cuda wrote images although it failed"
  for cmd in "video --network $net --seeds 0,1 --out $tmp/v.webp" "metrics --network $net --data $faces --metrics swd --num 8" \
             "train --data $faces --outdir $tmp/runs --kimg 0.01" "serve --network $net --pool $tmp/pool --export $tmp/site"; do
    status=0
    # shellcheck disable=SC2086
    "$dne" $cmd --device cuda >/dev/null 2>"$tmp/err" || status=$?
    [[ $status -ne 0 ]] && grep -qi cuda "$tmp/err" || { cat "$tmp/err"; fail "dne $cmd --device cuda: status $status"; }
  done
  [[ ! -e $tmp/v.webp && ! -e $tmp/site ]] || fail "a failed CUDA command wrote output"
fi
echo "device: ok"
