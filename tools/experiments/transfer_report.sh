#!/usr/bin/env bash
# The tables, curves and grids of docs/transfer.md from the runs of
# tools/experiments/transfer.sh (a run continued with --resume adds a second
# folder beside the first; the two are read as one curve): for each set and
# arm, the SWD of the final snapshot (in-training value, and the mean and
# range over 5 metric seeds of dne metrics), the SWD curves, and the three
# final grids beside the reals.
# Usage: tools/experiments/transfer_report.sh DNE WORKDIR DOCDIR
set -euo pipefail
dne=$1 work=$2 doc=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$doc"
echo "| set | arm | kimg | final SWD (training) | SWD over 5 metric seeds: mean (min-max) | final p |"
echo "| --- | --- | --- | --- | --- | --- |"
for set in one five; do
  curves=() grids=()
  for arm in scratch finetune ada; do
    runs=("$work"/runs-$set-$arm/0*)
    last_run=${runs[-1]}
    cat "${runs[@]/%//metric-swd.jsonl}" >"$doc/$set-$arm-metric-swd.jsonl"
    cat "${runs[@]/%//stats.jsonl}" >"$doc/$set-$arm-stats.jsonl"
    last=$(ls "$last_run"/network-snapshot-*.safetensors | tail -1)
    final=$(tail -n 1 "$doc/$set-$arm-metric-swd.jsonl" | grep -o '"swd_avg":[0-9.]*' | cut -d: -f2)
    kimg=$(tail -n 1 "$doc/$set-$arm-stats.jsonl" | grep -o '"kimg": [0-9.]*' | cut -d' ' -f2)
    values=()
    for seed in 0 1 2 3 4; do
      values+=("$("$dne" metrics --network "$last" --data "$work/${set}64.dset" --metrics swd --seed $seed \
        --threads 1 2>/dev/null | grep -o '"swd_avg":[0-9.]*' | cut -d: -f2)")
    done
    stats=$(printf '%s\n' "${values[@]}" | awk '{s+=$1; if(NR==1||$1<mn)mn=$1; if($1>mx)mx=$1} END {printf "%.1f (%.1f-%.1f)", s/NR, mn, mx}')
    p=$(tail -n 1 "$doc/$set-$arm-stats.jsonl" | grep -o '"augment_p": [0-9.]*' | cut -d' ' -f2)
    printf '| %s | %s | %s | %.1f | %s | %s |\n' "$set" "$arm" "$kimg" "$final" "$stats" "$p"
    curves+=("$doc/$set-$arm-metric-swd.jsonl=$arm")
    grids+=("$arm=$(ls "$last_run"/fakes*.png | grep -v init | tail -1)")
  done
  "$here/../plot_metric.py" --out "$doc/$set-swd.png" --title "SWD to the $set-character set" "${curves[@]}" >/dev/null
  "$here/side_by_side.py" --out "$doc/$set-grids.png" --height 288 \
    "reals=$(echo "$work"/runs-$set-scratch/00000-*/reals.png)" "${grids[@]}" >/dev/null
done
