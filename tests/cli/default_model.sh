#!/usr/bin/env bash
# The model dne uses without --network: $DNE_MODEL, else the bundled
# models/default.safetensors; without either, a clear error.
# Usage: tests/cli/default_model.sh path/to/dne
set -euo pipefail
dne=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$dne" init --preset tiny --res 16 --seed 1 --out "$tmp/G.safetensors" 2>/dev/null
DNE_MODEL=$tmp/G.safetensors "$dne" generate --seeds 3 --outdir "$tmp/a" 2>/dev/null || fail "DNE_MODEL not used"
"$dne" generate --network "$tmp/G.safetensors" --seeds 3 --outdir "$tmp/b" 2>/dev/null
cmp "$tmp/a/seed0003.png" "$tmp/b/seed0003.png" || fail "DNE_MODEL gave another network's image"

status=0
DNE_MODEL=$tmp/missing.safetensors "$dne" generate --seeds 3 --outdir "$tmp/c" 2>"$tmp/err" || status=$?
[[ $status -eq 2 ]] && grep -q "missing.safetensors" "$tmp/err" || { cat "$tmp/err"; fail "a missing DNE_MODEL"; }

# The bundled model, found beside the program (build/dne -> models/).
if [[ -f "$(dirname "$(readlink -f "$dne")")/../models/default.safetensors" ]]; then
  "$dne" generate --seeds 0 --outdir "$tmp/d" 2>/dev/null || fail "the bundled model"
  [[ -s $tmp/d/seed0000.png ]] || fail "no image from the bundled model"
else
  status=0
  "$dne" generate --seeds 0 --outdir "$tmp/d" 2>"$tmp/err" || status=$?
  [[ $status -eq 2 ]] && grep -q "no default model" "$tmp/err" || { cat "$tmp/err"; fail "no model, no clear error"; }
fi
echo "default_model: ok"
