#!/usr/bin/env bash
# The BigGAN experiment of docs/biggan.md: anime_faces_danbooru256's 20
# characters (25 images each) at 32 px, `dne train --arch biggan` (small
# config) for 60 minutes on this machine, then one row of samples per class
# and the class check (tools/experiments/biggan_class_check.py).
#
#   tools/experiments/biggan.sh [WORKDIR] [MINUTES] [extra dne train flags...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dne=$repo/build/dne
work=${1:-/tmp/biggan-experiment}
minutes=${2:-60}
shift $(($# < 2 ? $# : 2))
data=$(cd "$repo/../shared/data/anime_faces_danbooru256" && pwd)
mkdir -p "$work"
cd "$work"

# dataset.json labels every image by its character folder (classes in name order).
if [[ ! -s chars32.dset ]]; then
  rm -rf chars && mkdir chars
  k=0
  {
    printf '{"labels": ['
    first=1
    for c in $(cd "$data" && ls -d */ | tr -d / | sort); do
      ln -s "$data/$c" "chars/$c"
      for f in $(ls "$data/$c" | sort); do
        [[ $first -eq 1 ]] || printf ', '
        first=0
        printf '["%s/%s", %d]' "$c" "$f" "$k"
      done
      k=$((k + 1))
    done
    printf ']}\n'
  } >chars/dataset.json
  "$dne" prep pack --in chars --out chars32.dset --res 32 --labels
fi

# Train for the time given; SIGTERM makes dne write a last snapshot.
"$dne" train --arch biggan --data chars32.dset --outdir runs --kimg 100000 --tick 4 --snap 2 --threads 2 \
  --metric-num 500 "$@" 2>train.log &
pid=$!
sleep $((minutes * 60))
kill -TERM $pid
wait $pid || true
run=$(ls -d runs/*/ | tail -1)
last=$(ls "$run"network-snapshot-*.safetensors | tail -1)
echo "last snapshot: $last"

# One row per class, 8 samples each; and 25 per class for the class check.
"$dne" generate --network "$last" --grid classes --seeds 0-7 --outdir grid
"$dne" generate --network "$last" --grid classes --seeds 100-124 --outdir check
/usr/bin/python3 "$here/biggan_class_check.py" --fakes check --reals chars --res 32 | tee class_check.txt
