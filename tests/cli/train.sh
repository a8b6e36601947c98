#!/usr/bin/env bash
# dne train end to end on a tiny network: the run folder, a resumed run that
# ends bit-identical to an uninterrupted one, kill -9 leaving only complete
# checkpoints, refused damaged checkpoints, dne generate reading a
# checkpoint, and argument errors. Usage: tests/cli/train.sh path/to/dne
set -euo pipefail
dne=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$dne" init --preset tiny --res 16 --seed 3 --out "$tmp/src.safetensors" 2>/dev/null
"$dne" generate --network "$tmp/src.safetensors" --seeds 0-23 --outdir "$tmp/data" 2>/dev/null
common=(--data "$tmp/data" --cfg tiny --batch 8 --tick 0.016 --snap 1 --grid 4 --seed 5 --threads 2)

# An uninterrupted run of 6 steps (48 images), with the regularizers due at steps 0 and 4.
"$dne" train "${common[@]}" --outdir "$tmp/a" --kimg 0.048 2>"$tmp/a.log" || { cat "$tmp/a.log"; fail "run A"; }
run=$tmp/a/00000-data-tiny
for f in training_options.json log.txt stats.jsonl reals.png fakes_init.png fakes000000.png \
         network-snapshot-000000.safetensors; do
  [[ -s $run/$f ]] || fail "run folder lacks $f"
done
# Ticks as the reference's: the first step alone, then every 16 images, the last one short.
[[ $(wc -l <"$run/stats.jsonl") -eq 4 ]] || fail "4 ticks expected in stats.jsonl"
[[ $(head -1 "$run/stats.jsonl") == *'"kimg": 0.008'* ]] || fail "tick 0 is not the first step alone"
grep -q '"loss_G"' "$run/stats.jsonl" || fail "stats.jsonl has no losses"
[[ $(grep -c '"swd_avg"' "$run/metric-swd.jsonl") -eq 4 ]] || fail "an SWD line per snapshot expected in metric-swd.jsonl"

# The same run stopped after 3 steps and resumed: the same final checkpoint, byte for byte.
"$dne" train "${common[@]}" --outdir "$tmp/b" --kimg 0.024 2>"$tmp/b1.log" || { cat "$tmp/b1.log"; fail "run B1"; }
cp "$tmp/b/00000-data-tiny/network-snapshot-000000.safetensors" "$tmp/half.safetensors"
"$dne" train --resume "$tmp/half.safetensors" --outdir "$tmp/b" --kimg 0.048 --tick 0.016 --snap 1 --grid 4 \
  --threads 2 2>"$tmp/b2.log" || { cat "$tmp/b2.log"; fail "resume"; }
grep -q "resumed from" "$tmp/b2.log" || fail "resume not reported"
cmp "$run/network-snapshot-000000.safetensors" "$tmp/b/00001-data-tiny/network-snapshot-000000.safetensors" ||
  fail "resumed run differs from the uninterrupted one"

# dne generate takes a checkpoint (its G_ema).
"$dne" generate --network "$run/network-snapshot-000000.safetensors" --seeds 1 --outdir "$tmp/gen" 2>/dev/null ||
  fail "generate from a checkpoint"
[[ -s $tmp/gen/seed0001.png ]] || fail "no image from the checkpoint"
# dne export writes that G_ema as a generator file: the same image.
"$dne" export "$run/network-snapshot-000000.safetensors" --out "$tmp/exported.safetensors" 2>/dev/null ||
  fail "export"
"$dne" generate --network "$tmp/exported.safetensors" --seeds 1 --outdir "$tmp/gen-exported" 2>/dev/null
cmp "$tmp/gen/seed0001.png" "$tmp/gen-exported/seed0001.png" || fail "the exported generator differs from G_ema"

# A truncated checkpoint is refused with a message naming it; a generator file is not a checkpoint.
head -c 20000 "$tmp/half.safetensors" >"$tmp/cut.safetensors"
if "$dne" train --resume "$tmp/cut.safetensors" --outdir "$tmp/c" 2>"$tmp/cut.log"; then fail "truncated accepted"; fi
grep -q "cut.safetensors" "$tmp/cut.log" || { cat "$tmp/cut.log"; fail "truncation message"; }
status=0
"$dne" train --resume "$tmp/src.safetensors" --outdir "$tmp/c" 2>"$tmp/gen.log" || status=$?
[[ $status -eq 1 ]] && grep -q "not a dne training checkpoint" "$tmp/gen.log" ||
  { cat "$tmp/gen.log"; fail "generator as checkpoint"; }

# kill -9 while snapshots are being written: every checkpoint left behind is complete.
"$dne" train "${common[@]}" --outdir "$tmp/k" --kimg 100 --tick 0.008 2>"$tmp/k.log" &
pid=$!
# Wait for the first snapshot (however loaded the machine), then kill while later ones are being written.
for ((i = 0; i < 600; i++)); do
  compgen -G "$tmp/k/*/network-snapshot-*.safetensors" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
found=0
for f in "$tmp"/k/*/network-snapshot-*.safetensors; do
  [[ -e $f ]] || continue
  found=1
  "$dne" generate --network "$f" --seeds 0 --outdir "$tmp/k-gen" 2>/dev/null || fail "broken checkpoint after kill -9: $f"
done
[[ $found -eq 1 ]] || { cat "$tmp/k.log"; fail "no snapshot written before the kill"; }

# Transfer: --resume with another dataset starts a new run from the weights
# (counters, optimizers and p fresh), with ADA and FreezeD.
"$dne" init --preset tiny --res 16 --seed 4 --out "$tmp/src2.safetensors" 2>/dev/null
"$dne" generate --network "$tmp/src2.safetensors" --seeds 0-23 --outdir "$tmp/data2" 2>/dev/null
transfer=(--resume "$run/network-snapshot-000000.safetensors" --data "$tmp/data2" --cfg tiny --batch 8 --tick 0.008
          --snap 1 --grid 4 --seed 6 --threads 1 --metrics none --aug ada --ada-kimg 0.5 --freezed 2)
"$dne" train "${transfer[@]}" --outdir "$tmp/t" --kimg 0.8 2>"$tmp/t.log" || { cat "$tmp/t.log"; fail "transfer run"; }
grep -q "transfer: weights from" "$tmp/t.log" || fail "transfer not reported"
[[ $(head -1 "$tmp"/t/*/stats.jsonl) == *'"kimg": 0.008'* ]] || fail "a transfer's image counter does not start at 0"
grep -q '"augment":.*"ada"' "$tmp"/t/*/training_options.json || fail "training_options.json lacks the augmentation"
grep -q '"augment_p": 0.[0-9]*[1-9]' "$tmp"/t/*/stats.jsonl || fail "ADA's p never moved"
# The same transfer killed (kill -9) a few steps in and resumed from its last
# snapshot ends byte-identical: the same p, ADA state, counters and weights.
"$dne" train "${transfer[@]}" --outdir "$tmp/tk" --kimg 0.8 2>"$tmp/tk.log" &
pid=$!
for ((i = 0; i < 600; i++)); do
  grep -q "^tick 3 " "$tmp/tk.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || fail "the run ended before it could be killed"
wait "$pid" 2>/dev/null || true
snap=$(compgen -G "$tmp/tk/*/network-snapshot-*.safetensors" | head -1)
[[ -n $snap ]] || fail "no snapshot before the kill"
nimg=$(head -c 65536 "$snap" | grep -ao 'cur_nimg[^0-9]*[0-9]*' | grep -o '[0-9]*$')
((nimg > 0 && nimg < 800)) || fail "the kill did not fall mid-run (cur_nimg $nimg)"
"$dne" train --resume "$snap" --outdir "$tmp/tk2" --kimg 0.8 --tick 0.008 --snap 1 --grid 4 --threads 1 \
  --metrics none 2>"$tmp/tk2.log" || { cat "$tmp/tk2.log"; fail "resume after kill"; }
grep -q "resumed from" "$tmp/tk2.log" || fail "the killed transfer was not continued"
cmp "$tmp"/t/*/network-snapshot-000000.safetensors "$tmp"/tk2/*/network-snapshot-000000.safetensors ||
  fail "the transfer resumed after kill -9 differs from the uninterrupted one (from cur_nimg $nimg)"
echo "transfer: killed at image $nimg, resumed, byte-identical"
# A generator file and an imported stylegan2-ada-pytorch snapshot (G, D and
# G_ema) start transfers too; a generator file alone gets a new D.
one_step=(--cfg tiny --batch 8 --kimg 0.008 --tick 0.008 --grid 2 --metrics none --threads 1)
"$dne" train --resume "$tmp/src.safetensors" --data "$tmp/data2" "${one_step[@]}" --outdir "$tmp/tg" \
  2>"$tmp/tg.log" || { cat "$tmp/tg.log"; fail "transfer from a generator file"; }
grep -q "transfer: weights from .*D initialised anew" "$tmp/tg.log" || fail "generator-file transfer not reported"
pkl=../shared/data/stylegan2_ada_pickles/network-snapshot-000123.pkl
if [[ -e $pkl ]]; then
  "$dne" import "$pkl" --which all --out "$tmp/imported.safetensors" 2>/dev/null || fail "import --which all"
  "$dne" train --resume "$tmp/imported.safetensors" --data ../shared/data/anime_faces_getchu64/heldout \
    "${one_step[@]}" --outdir "$tmp/ti" 2>"$tmp/ti.log" || { cat "$tmp/ti.log"; fail "transfer from an import"; }
  grep -q "transfer: weights from .*(G, D and G_ema)" "$tmp/ti.log" || fail "imported-model transfer not reported"
fi
status=0
"$dne" train --resume "$snap" --aug noaug --outdir "$tmp/x" 2>"$tmp/newflag.log" || status=$?
[[ $status -eq 1 ]] && grep -q -- "--aug applies to new runs" "$tmp/newflag.log" ||
  { cat "$tmp/newflag.log"; fail "--aug with a continued run"; }
status=0
"$dne" train --data "$tmp/data" --aug sometimes --outdir "$tmp/x" 2>"$tmp/aug.log" || status=$?
[[ $status -eq 2 ]] && grep -q "sometimes" "$tmp/aug.log" || { cat "$tmp/aug.log"; fail "bad --aug"; }
status=0
"$dne" train --data "$tmp/data" --cfg tiny --augpipe bgcx --kimg 0.008 --outdir "$tmp/x" 2>"$tmp/pipe.log" || status=$?
[[ $status -eq 1 ]] && grep -q "bgcx" "$tmp/pipe.log" || { cat "$tmp/pipe.log"; fail "unknown --augpipe"; }

# Usage errors exit 2 with one line; a bad config is a failure naming it.
status=0
"$dne" train --outdir "$tmp/x" 2>"$tmp/usage.log" || status=$?
[[ $status -eq 2 ]] && grep -q "data is required" "$tmp/usage.log" || fail "missing --data"
status=0
"$dne" train --data "$tmp/data" --cfg nosuch --outdir "$tmp/x" 2>"$tmp/cfg.log" || status=$?
[[ $status -eq 1 ]] && grep -q "nosuch" "$tmp/cfg.log" || { cat "$tmp/cfg.log"; fail "bad --cfg"; }
status=0
"$dne" train --data "$tmp/data" --batch 0 2>/dev/null || status=$?
[[ $status -eq 2 ]] || fail "--batch 0 accepted"
echo "train: ok"
