#!/usr/bin/env bash
# The browser test of the web page (ctest entry):
#   tests/browser/run.sh path/to/dne
# 1. live mode: starts `dne serve` on a small random network and runs
#    page.test.mjs against it in headless Chromium, then stops the daemon with
#    SIGTERM and checks that it exits with status 0 within 10 s;
# 2. static mode: exports the site with `dne serve --export` and runs
#    page.test.mjs against it (faces.json, no api/), served by
#    mock-server.mjs --root under a path prefix.
# Exit status 77 (skipped) without /usr/bin/chromium, node or
# tests/browser/node_modules/playwright-core (`npm ci` in tests/browser).
# Screenshots: build/test-artifacts/browser/.
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 path/to/dne" >&2
  exit 2
fi
dne=$1
case "$dne" in /*) ;; *) dne="$PWD/$dne" ;; esac
cd "$(dirname "$0")/../.." || exit 2
root=$PWD

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "browser test: skipped: $chromium is missing"
  exit 77
fi
if ! command -v node >/dev/null 2>&1; then
  echo "browser test: skipped: node is missing"
  exit 77
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "browser test: skipped: tests/browser/node_modules/playwright-core is missing (run: cd tests/browser && npm ci)"
  exit 77
fi
if [ ! -x "$dne" ]; then
  echo "browser test: $dne is not an executable" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dne-browser.XXXXXX") || exit 1
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  echo "FAIL $*"
  if [ -s "$tmp/serve.log" ]; then
    echo "--- dne serve stderr (last 20 lines):"
    tail -n 20 "$tmp/serve.log"
  fi
  exit 1
}

artifacts=$root/build/test-artifacts/browser
mkdir -p "$artifacts"

node tests/browser/html-check.mjs web || exit 1

"$dne" init --preset small --res 64 --seed 1 --out "$tmp/G.safetensors" >"$tmp/init.log" 2>&1 ||
  { cat "$tmp/init.log"; fail "dne init"; }

# ---- live mode: the daemon ---------------------------------------------------

"$dne" serve --network "$tmp/G.safetensors" --pool "$tmp/pool" --pool-size 20 \
  --listen 127.0.0.1:0 --workers 1 2>"$tmp/serve.log" >/dev/null &
pid=$!

url=
for _ in $(seq 300); do
  url=$(sed -n 's|^dne serve: listening on \(http://[^ ]*/\).*$|\1|p' "$tmp/serve.log" | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || fail "dne serve exited before listening"
  sleep 0.1
done
[ -n "$url" ] || fail "dne serve did not print 'dne serve: listening on http://...' within 30 s"
echo "ok   dne serve listening on $url"

# Wait until the pool has faces: api/random answers 200 with 3 different ids
# (so that the page has something new to show at every tick).
node - "$url" <<'EOF' || fail "GET ${url}api/random did not give 3 different faces within 60 s"
const base = process.argv[2];
const seen = new Set();
const deadline = Date.now() + 60000;
let last = '';
while (Date.now() < deadline) {
  try {
    const res = await fetch(new URL('api/random', base));
    const text = await res.text();
    last = `HTTP ${res.status} ${text.slice(0, 200)}`;
    if (res.status === 200) seen.add(JSON.parse(text).id);
  } catch (e) {
    last = String(e.cause || e);
  }
  if (seen.size >= 3) {
    console.log(`ok   api/random: ${seen.size} faces in the pool`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 200));
}
console.log(`last answer: ${last}`);
process.exit(1);
EOF

status=0
BASE_URL=$url ARTIFACTS_DIR=$artifacts PAGE_TEST_MODE=live CHROMIUM=$chromium \
  node tests/browser/page.test.mjs || status=1

kill -TERM "$pid" 2>/dev/null || fail "dne serve died during the test"
for _ in $(seq 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  fail "dne serve did not exit within 10 s of SIGTERM"
fi
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || fail "dne serve exited with status $rc after SIGTERM (expected 0)"
echo "ok   dne serve exited with status 0 after SIGTERM"

# ---- static mode: an exported site -----------------------------------------
# `dne serve --export` writes the site; mock-server.mjs --root serves its files
# like any static web server, under a path prefix. (A dne without --export:
# mock-server.mjs --static with faces from `dne generate` instead.)

if "$dne" serve --help 2>&1 | grep -q -- '--export'; then
  "$dne" serve --network "$tmp/G.safetensors" --pool "$tmp/export-pool" --pool-size 8 --workers 1 \
    --export "$tmp/site" >"$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "dne serve --export"; }
  echo "ok   $(tail -n 1 "$tmp/export.log")"
  site=(--root "$tmp/site")
else
  "$dne" generate --network "$tmp/G.safetensors" --seeds 0-7 --trunc 0.7 --format webp \
    --outdir "$tmp/faces" >"$tmp/generate.log" 2>&1 || { cat "$tmp/generate.log"; fail "dne generate"; }
  echo "note: $dne has no serve --export; testing static mode with mock-server.mjs --static"
  site=(--faces "$tmp/faces")
fi
ARTIFACTS_DIR=$artifacts PAGE_TEST_MODE=static CHROMIUM=$chromium \
  node tests/browser/page.test.mjs --mock static "${site[@]}" --prefix /static-site/ || status=1

if [ "$status" -eq 0 ]; then
  echo "browser test: passed (screenshots in $artifacts)"
else
  echo "browser test: FAILED (screenshots in $artifacts)"
fi
exit "$status"
