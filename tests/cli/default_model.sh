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
  # dne serve with no --network serves the bundled model's faces.
  "$dne" serve --pool "$tmp/pool" --pool-size 3 --listen 127.0.0.1:0 2>"$tmp/serve.log" >/dev/null &
  pid=$!
  trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
  url=
  for _ in $(seq 300); do
    url=$(sed -n 's|^dne serve: listening on \(http://[^ ]*/\).*$|\1|p' "$tmp/serve.log" | head -n 1)
    [[ -n $url ]] && break
    sleep 0.1
  done
  [[ -n $url ]] || { cat "$tmp/serve.log"; fail "dne serve without --network did not start"; }
  for _ in $(seq 300); do
    code=$(curl -s -o "$tmp/random.json" -w '%{http_code}' "${url}api/random" || true)
    [[ $code == 200 ]] && break
    sleep 0.2
  done
  [[ $code == 200 ]] && grep -q '"id"' "$tmp/random.json" || fail "no face from the bundled model's pool"
else
  status=0
  "$dne" generate --seeds 0 --outdir "$tmp/d" 2>"$tmp/err" || status=$?
  [[ $status -eq 2 ]] && grep -q "no default model" "$tmp/err" || { cat "$tmp/err"; fail "no model, no clear error"; }
fi
echo "default_model: ok"
