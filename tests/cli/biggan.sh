#!/usr/bin/env bash
# BigGAN end to end: dne init --arch biggan, dne generate (one class, every
# class, truncation), dne train --arch biggan on a tiny labelled set (the run
# folder, a resumed run ending bit-identical to an uninterrupted one, kill -9
# leaving only complete checkpoints), and the errors a user meets.
# Usage: tests/cli/biggan.sh path/to/dne
set -euo pipefail
dne=$1
data=../shared/data/anime_faces_danbooru256
[[ -d $data ]] || { echo "SKIP: $data missing"; exit 77; }
data=$(cd "$data" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- init and generate
"$dne" init --preset tiny --res 16 --out "$tmp/src-sg2.safetensors" 2>/dev/null
"$dne" init --arch biggan --res 32 --classes 3 --ch 4 --seed 1 --out "$tmp/g.safetensors" 2>"$tmp/init.log" ||
  { cat "$tmp/init.log"; fail "init"; }
grep -q "3 classes" "$tmp/init.log" || fail "init summary"
"$dne" init --arch biggan --res 32 --classes 3 --ch 4 --seed 1 --out "$tmp/g2.safetensors" 2>/dev/null
cmp "$tmp/g.safetensors" "$tmp/g2.safetensors" || fail "the same seed gave another network"
"$dne" generate --network "$tmp/g.safetensors" --class 2 --seeds 0-3 --trunc 0.5 --outdir "$tmp/one" 2>/dev/null ||
  fail "generate --class"
for s in 0 1 2 3; do [[ -s $tmp/one/seed000$s.png ]] || fail "no seed000$s.png"; done
"$dne" generate --network "$tmp/g.safetensors" --grid classes --seeds 5,6 --outdir "$tmp/all" 2>/dev/null ||
  fail "generate --grid classes"
[[ $(ls "$tmp/all" | grep -c '^class') -eq 6 && -s $tmp/all/grid.png ]] || fail "3 classes x 2 seeds and grid.png"
# The same seed and class give the same image, in a batch or alone.
"$dne" generate --network "$tmp/g.safetensors" --class 2 --seeds 3 --trunc 0.5 --outdir "$tmp/alone" 2>/dev/null
"$dne" generate --network "$tmp/g.safetensors" --class 2 --seeds 0-3 --trunc 0.5 --batch 4 --outdir "$tmp/batch" 2>/dev/null
cmp "$tmp/alone/seed0003.png" "$tmp/batch/seed0003.png" || fail "batching changed an image"
cmp "$tmp/alone/seed0003.png" "$tmp/one/seed0003.png" || fail "the same seed gave another image"

expect_usage() { # status 2 and a message matching $1 for the command that follows
  local want=$1 status=0
  shift
  "$@" 2>"$tmp/err.log" || status=$?
  [[ $status -eq 2 ]] && grep -q -- "$want" "$tmp/err.log" || { cat "$tmp/err.log"; fail "expected '$want' (status $status)"; }
}
expect_usage "--class is required" "$dne" generate --network "$tmp/g.safetensors" --seeds 0 --outdir "$tmp/x"
expect_usage "out of range" "$dne" generate --network "$tmp/g.safetensors" --class 3 --seeds 0 --outdir "$tmp/x"
expect_usage "threshold > 0" "$dne" generate --network "$tmp/g.safetensors" --class 0 --trunc 0 --seeds 0 --outdir "$tmp/x"
expect_usage "for StyleGAN2" "$dne" generate --network "$tmp/g.safetensors" --class 0 --seeds 0 --trunc-cutoff 2 --outdir "$tmp/x"
expect_usage "needs --res and --classes" "$dne" init --arch biggan --res 32 --out "$tmp/x.safetensors"
expect_usage "resolution" "$dne" init --arch biggan --res 48 --classes 3 --out "$tmp/x.safetensors"
head -c 30000 "$tmp/g.safetensors" >"$tmp/cut.safetensors"
status=0
"$dne" generate --network "$tmp/cut.safetensors" --class 0 --seeds 0 --outdir "$tmp/x" 2>"$tmp/err.log" || status=$?
[[ $status -ne 0 ]] && grep -q "cut.safetensors" "$tmp/err.log" || { cat "$tmp/err.log"; fail "truncated network"; }

# --- a labelled 32 px set: 3 characters x 4 images
mkdir -p "$tmp/chars"
python_free_json() { # dataset.json by hand: {"labels": [["name/file", k], ...]}
  local k=0 first=1
  printf '{"labels": ['
  for c in ame bae biboo; do
    mkdir -p "$tmp/chars/$c"
    for f in $(ls "$data/$c" | head -4); do
      ln -s "$data/$c/$f" "$tmp/chars/$c/$f"
      [[ $first -eq 1 ]] || printf ', '
      first=0
      printf '["%s/%s", %d]' "$c" "$f" "$k"
    done
    k=$((k + 1))
  done
  printf ']}\n'
}
python_free_json >"$tmp/chars/dataset.json"
"$dne" prep pack --in "$tmp/chars" --out "$tmp/chars.dset" --res 32 --labels --quiet 2>/dev/null || fail "pack"
common=(--arch biggan --data "$tmp/chars.dset" --ch 4 --attn 16 --batch 4 --d-steps 2 --accumulate 2
        --tick 0.016 --snap 1 --seed 7 --threads 2 --ema-start 1 --ema-decay 0.9)

# Uninterrupted: 4 iterations of 16 real images each.
"$dne" train "${common[@]}" --outdir "$tmp/a" --kimg 0.064 2>"$tmp/a.log" || { cat "$tmp/a.log"; fail "run A"; }
run=$tmp/a/00000-chars-biggan32
for f in training_options.json log.txt stats.jsonl reals.png fakes_init.png fakes000000.png metric-swd.jsonl \
         network-snapshot-000000.safetensors; do
  [[ -s $run/$f ]] || fail "run folder lacks $f"
done
grep -q '"D_loss_real"' "$run/stats.jsonl" || fail "no losses in stats.jsonl"
grep -q '"swd_class_mean"' "$run/metric-swd.jsonl" || fail "no per-class SWD"
# Stopped after 2 iterations and resumed: the same final checkpoint, byte for byte.
"$dne" train "${common[@]}" --outdir "$tmp/b" --kimg 0.032 2>"$tmp/b1.log" || { cat "$tmp/b1.log"; fail "run B1"; }
cp "$tmp/b/00000-chars-biggan32/network-snapshot-000000.safetensors" "$tmp/half.safetensors"
"$dne" train --resume "$tmp/half.safetensors" --outdir "$tmp/b" --kimg 0.064 --tick 0.016 --snap 1 --threads 2 \
  2>"$tmp/b2.log" || { cat "$tmp/b2.log"; fail "resume"; }
grep -q "resumed from" "$tmp/b2.log" || fail "resume not reported"
cmp "$run/network-snapshot-000000.safetensors" "$tmp/b/00001-chars-biggan32/network-snapshot-000000.safetensors" ||
  fail "resumed run differs from the uninterrupted one"
expect_usage "applies to new runs" "$dne" train --resume "$tmp/half.safetensors" --outdir "$tmp/b" --g-lr 0.1
# dne generate reads a checkpoint's G_ema.
"$dne" generate --network "$run/network-snapshot-000000.safetensors" --class 1 --seeds 0 --outdir "$tmp/ck" 2>/dev/null ||
  fail "generate from a checkpoint"
# dne export writes that G_ema as a generator file: the same image.
"$dne" export "$run/network-snapshot-000000.safetensors" --out "$tmp/exported.safetensors" 2>/dev/null || fail "export"
"$dne" generate --network "$tmp/exported.safetensors" --class 1 --seeds 0 --outdir "$tmp/ck-exported" 2>/dev/null
cmp "$tmp/ck/seed0000.png" "$tmp/ck-exported/seed0000.png" || fail "the exported generator differs from G_ema"
# Standing statistics: deterministic for a seed, different from the running averages, and generate reads them.
"$dne" export "$run/network-snapshot-000000.safetensors" --out "$tmp/st1.safetensors" --standing 4 --standing-batch 8 \
  --trunc 1.5 2>/dev/null || fail "export --standing"
"$dne" export "$run/network-snapshot-000000.safetensors" --out "$tmp/st2.safetensors" --standing 4 --standing-batch 8 \
  --trunc 1.5 2>/dev/null
cmp "$tmp/st1.safetensors" "$tmp/st2.safetensors" || fail "standing statistics differ for the same seed"
if cmp -s "$tmp/st1.safetensors" "$tmp/exported.safetensors"; then fail "standing statistics changed nothing"; fi
"$dne" generate --network "$tmp/st1.safetensors" --class 1 --seeds 0 --outdir "$tmp/st" 2>/dev/null || fail "generate (standing)"
expect_usage "for BigGAN networks" "$dne" export "$tmp/src-sg2.safetensors" --out "$tmp/x.safetensors" --standing 4
# dne metrics measures a BigGAN network too (its fakes cycle through the classes).
"$dne" metrics --network "$run/network-snapshot-000000.safetensors" --data "$tmp/chars.dset" --metrics swd \
  >"$tmp/swd.json" 2>/dev/null || fail "metrics"
grep -q '"swd_avg"' "$tmp/swd.json" || fail "no swd_avg from dne metrics"
expect_usage "BigGAN's SWD samples untruncated" "$dne" metrics --network "$run/network-snapshot-000000.safetensors" \
  --data "$tmp/chars.dset" --metrics swd --trunc 0.5
# An unlabelled set is refused with a message that says what to do.
"$dne" prep pack --in "$tmp/chars" --out "$tmp/plain.dset" --res 32 --quiet 2>/dev/null
status=0
"$dne" train --arch biggan --data "$tmp/plain.dset" --outdir "$tmp/p" --kimg 0.01 2>"$tmp/p.log" || status=$?
[[ $status -eq 1 ]] && grep -q "no class labels" "$tmp/p.log" || { cat "$tmp/p.log"; fail "unlabelled data"; }

# kill -9 while snapshots are written: every checkpoint left behind loads.
"$dne" train "${common[@]}" --outdir "$tmp/k" --kimg 100 --tick 0.016 --metrics none 2>"$tmp/k.log" &
pid=$!
for _ in $(seq 600); do
  [[ -s $tmp/k/00000-chars-biggan32/network-snapshot-000000.safetensors ]] && break
  sleep 0.1
done
sleep 1
kill -9 $pid
wait $pid 2>/dev/null || true
for f in "$tmp"/k/00000-chars-biggan32/*.safetensors; do
  "$dne" generate --network "$f" --class 0 --seeds 0 --outdir "$tmp/kg" 2>/dev/null || fail "broken checkpoint $f"
done
echo "biggan: ok"
