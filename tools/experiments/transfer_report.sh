#!/usr/bin/env bash
# The tables, curves and grids of docs/transfer.md from the runs of
# tools/experiments/transfer.sh: for each set and arm, the SWD of the final
# snapshot (in-training value, and the mean and spread over 5 metric seeds of
# dne metrics), the SWD curves, and the three final grids beside the reals.
# Usage: tools/experiments/transfer_report.sh DNE WORKDIR DOCDIR
set -euo pipefail
dne=$1 work=$2 doc=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$doc"
echo "| set | arm | final SWD (training) | SWD over 5 metric seeds: mean (min-max) | final p |"
echo "| --- | --- | --- | --- | --- |"
for set in one five; do
  curves=()
  for arm in scratch finetune ada; do
    run=$(echo "$work"/runs-$set-$arm/0*)
    last=$(ls "$run"/network-snapshot-*.safetensors | tail -1)
    final=$(tail -n 1 "$run/metric-swd.jsonl" | grep -o '"swd_avg":[0-9.]*' | cut -d: -f2)
    values=()
    for seed in 0 1 2 3 4; do
      values+=("$("$dne" metrics --network "$last" --data "$work/${set}64.dset" --metrics swd --seed $seed \
        2>/dev/null | grep -o 'swd_avg[^0-9]*[0-9.]*' | grep -o '[0-9.]*$')")
    done
    stats=$(printf '%s\n' "${values[@]}" | awk '{s+=$1; if(NR==1||$1<mn)mn=$1; if($1>mx)mx=$1} END {printf "%.1f (%.1f-%.1f)", s/NR, mn, mx}')
    p=$(tail -n 1 "$run/stats.jsonl" | grep -o '"augment_p": [0-9.]*' | cut -d' ' -f2)
    printf '| %s | %s | %.1f | %s | %s |\n' "$set" "$arm" "$final" "$stats" "$p"
    cp "$run/metric-swd.jsonl" "$doc/$set-$arm-metric-swd.jsonl"
    cp "$run/stats.jsonl" "$doc/$set-$arm-stats.jsonl"
    curves+=("$run/metric-swd.jsonl=$arm")
  done
  "$here/../plot_metric.py" --out "$doc/$set-swd.png" --title "SWD to the $set-character set" "${curves[@]}" >/dev/null
  "$here/side_by_side.py" --out "$doc/$set-grids.png" --height 288 \
    "reals=$(echo "$work"/runs-$set-scratch/0*/reals.png)" \
    "scratch=$(ls "$work"/runs-$set-scratch/0*/fakes*.png | grep -v init | tail -1)" \
    "finetune=$(ls "$work"/runs-$set-finetune/0*/fakes*.png | grep -v init | tail -1)" \
    "ADA + FreezeD=$(ls "$work"/runs-$set-ada/0*/fakes*.png | grep -v init | tail -1)" >/dev/null
done
