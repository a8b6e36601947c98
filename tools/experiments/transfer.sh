#!/usr/bin/env bash
# The transfer-learning experiment of docs/transfer.md: fine-tuning a model
# trained on anime_faces_getchu64 to one character (25 images) and to five
# characters (125 images) of anime_faces_danbooru256 at 64 px, three ways,
# each for the same number of images:
#   scratch   a new network, no augmentation
#   finetune  the getchu64 model, no augmentation
#   ada       the getchu64 model, ADA (bgc) + FreezeD 7 (ada-f4, ada-f0:
#             FreezeD 4, none; not in the default list)
# SWD to the character images is measured at every snapshot.
# Usage: tools/experiments/transfer.sh DNE SOURCE_CHECKPOINT WORKDIR [ARM...]
set -euo pipefail
dne=$1 source=$2 work=$3
shift 3
arms=("${@:-scratch finetune ada}")
data=$(cd "$(dirname "$0")/../../../shared/data/anime_faces_danbooru256" && pwd)
mkdir -p "$work"
cd "$work"
[[ -s one64.dset ]] || "$dne" prep pack --in "$data/ame" --out one64.dset --res 64
if [[ ! -s five64.dset ]]; then
  rm -rf five && mkdir five
  for c in ame calli gura ina kiara; do ln -s "$data/$c" "five/$c"; done
  "$dne" prep pack --in five --out five64.dset --res 64
fi
common=(--cfg small --batch 8 --mirror 1 --kimg "${KIMG:-6}" --tick 0.5 --snap 2 --grid 6 --seed 0
        --metrics swd --threads "${THREADS:-2}")
for set in ${SETS:-one five}; do
  for arm in ${arms[*]}; do
    case $arm in
    scratch) flags=(--aug noaug) ;;
    finetune) flags=(--resume "$source" --aug noaug) ;;
    ada) flags=(--resume "$source" --aug ada --ada-kimg 5 --freezed 7) ;;
    ada-f4) flags=(--resume "$source" --aug ada --ada-kimg 5 --freezed 4) ;;
    ada-f0) flags=(--resume "$source" --aug ada --ada-kimg 5) ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
    esac
    rm -rf "runs-$set-$arm"
    "$dne" train --data "$set"64.dset "${common[@]}" "${flags[@]}" --outdir "runs-$set-$arm" 2>"$set-$arm.log"
  done
done
