#!/usr/bin/env bash
# dne import and dne export from the command line: a pickle fixture imports
# and exports back to the same generator, bad arguments and hostile or
# broken files exit 2 with the problem named, and nothing is written.
# Usage: tests/cli/import.sh path/to/dne
set -euo pipefail
dne=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
fixture=tests/fixtures/pickle/tiny-proto3.pkl

refuse() { # refuse "expected message" args...
  local want=$1 status=0
  shift
  "$dne" "$@" >/dev/null 2>"$tmp/err" || status=$?
  [[ $status -eq 2 ]] && grep -q -- "$want" "$tmp/err" || { cat "$tmp/err"; fail "dne $*: status $status"; }
}

"$dne" import "$fixture" --out "$tmp/G.safetensors" 2>/dev/null || fail "import"
"$dne" import "$fixture" --which all --out "$tmp/all.safetensors" 2>/dev/null || fail "import --which all"
"$dne" export "$tmp/all.safetensors" --out "$tmp/back.safetensors" 2>/dev/null || fail "export of an import"
"$dne" generate --network "$tmp/G.safetensors" --seeds 5 --outdir "$tmp/a" 2>/dev/null
"$dne" generate --network "$tmp/back.safetensors" --seeds 5 --outdir "$tmp/b" 2>/dev/null
"$dne" generate --network "$fixture" --seeds 5 --outdir "$tmp/c" 2>/dev/null
cmp "$tmp/a/seed0005.png" "$tmp/b/seed0005.png" && cmp "$tmp/a/seed0005.png" "$tmp/c/seed0005.png" ||
  fail "import, export and the .pkl itself give different images"

refuse "--out is required" import "$fixture"
refuse "expected G_ema, G, D or all" import "$fixture" --which H --out "$tmp/x"
refuse "exactly one input file" import "$fixture" "$fixture" --out "$tmp/x"
refuse "missing.pkl" import "$tmp/missing.pkl" --out "$tmp/x"
printf '\x80\x03cos\nsystem\nX\x02\x00\x00\x00ls\x85R.' >"$tmp/evil.pkl"
refuse "refusing global os.system" import "$tmp/evil.pkl" --out "$tmp/x"
refuse "refusing global os.system" generate --network "$tmp/evil.pkl" --seeds 0 --outdir "$tmp/d"
head -c 5000 "$fixture" >"$tmp/cut.pkl"
refuse "truncated" import "$tmp/cut.pkl" --out "$tmp/x"
refuse "expected G_ema or G" export "$tmp/all.safetensors" --which D --out "$tmp/x"
[[ ! -e $tmp/x ]] || fail "a refused import wrote its output"
echo "import: ok"
