#!/usr/bin/env bash
# dne prep end to end: usage errors, Danbooru metadata (both forms, bucket
# layout, rating and tag filters, character classes), near-duplicates,
# packing to .dset and to a stylegan2-ada zip and back (lossless round trip).
set -euo pipefail
dne=$1
data=../shared/data
cascade=$data/lbpcascade_animeface/lbpcascade_animeface.xml
emilia=$data/anime_illustrations/ao7108/Emilia
[[ -r $cascade && -d $emilia ]] || { echo "SKIP: test data missing"; exit 77; }
tmp=$(mktemp -d /tmp/dne-test-prep-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Usage errors: status 2 and one line naming the problem.
expect_usage() {
  local out status=0
  out=$("$dne" "$@" 2>&1 >/dev/null) || status=$?
  [[ $status -eq 2 ]] || fail "dne $* exited $status, expected 2"
  [[ $(wc -l <<<"$out") -eq 1 ]] || fail "dne $*: more than one line: $out"
  echo "$out"
}
expect_usage prep | grep -q "crop or pack" || fail "dne prep"
expect_usage prep crop --out x --cascade y | grep -q -- "--in is required" || fail "missing --in"
expect_usage prep crop --in x --out y --cascade z --pad wrap | grep -q "bad --pad 'wrap'" || fail "--pad"
expect_usage prep crop --in x --out y --cascade z --bogus | grep -q "'--bogus'" || fail "unknown option"
expect_usage prep crop --in x --out y --cascade z --rating nice | grep -q "bad --rating 'nice'" || fail "--rating"
expect_usage prep pack --in x | grep -q -- "--out is required" || fail "pack --out"
"$dne" prep crop --help | grep -q -- "--exclude-tags" || fail "crop --help"
status=0
out=$("$dne" prep crop --in "$emilia" --out "$tmp/x" --cascade "$tmp/none.xml" 2>&1) || status=$?
[[ $status -eq 1 && $out == *none.xml* ]] || fail "missing cascade: $status $out"

# A Danbooru-style folder: original/<bucket>/<id>.jpg, with metadata in both forms.
in=$tmp/danbooru
mkdir -p "$in/original/0100" "$in/original/0200" "$in/original/0300" "$in/original/0400" "$in/original/0500"
cp "$emilia/Emilia_100.jpg" "$in/original/0100/1100.jpg"   # old form, safe, emilia
cp "$emilia/Emilia_39.jpg" "$in/original/0200/1200.jpg"    # new form, general, emilia + rem
cp "$emilia/Emilia_2.jpg" "$in/original/0300/1300.jpg"     # new form, explicit -> rating
cp "$emilia/Emilia_3.jpg" "$in/original/0400/1400.jpg"     # old form, comic -> excluded_tag
cp "$emilia/Emilia_4.jpg" "$in/original/0500/1500.jpg"     # not in the metadata
cp "$emilia/Emilia_100.jpg" "$in/original/0100/2100.jpg"   # the same picture again -> duplicate
cat >"$in/metadata.jsonl" <<'JSON'
{"id": "1100", "rating": "s", "tags": [{"id": "1", "name": "emilia_(re:zero)", "category": "4"}, {"id": "2", "name": "1girl", "category": "0"}]}
{"id": 1200, "rating": "g", "tag_string_general": "2girls smile", "tag_string_character": "emilia_(re:zero) rem_(re:zero)", "tag_string_copyright": "re:zero"}
{"id": 1300, "rating": "e", "tag_string_general": "1girl", "tag_string_character": "emilia_(re:zero)"}
{"id": 1400, "rating": "s", "tags": [{"name": "comic", "category": 0}, {"name": "emilia_(re:zero)", "category": 4}]}

{"id": 2100, "rating": "s", "tags": [{"name": "emilia_(re:zero)", "category": 4}]}
JSON
out=$tmp/crops
"$dne" prep crop --in "$in" --out "$out" --cascade "$cascade" --res 64 --metadata "$in/metadata.jsonl" \
  --classes character --top 2 --threads 1 --quiet
m=$out/manifest.jsonl
status_of() { grep "\"source\":\"$in/original/$1\"" "$m" | head -1 | sed 's/.*"status":"\([a-z_]*\)".*/\1/'; }
[[ $(status_of 0100/1100.jpg) == ok ]] || fail "1100: $(status_of 0100/1100.jpg)"
[[ $(status_of 0200/1200.jpg) == ok ]] || fail "1200: $(status_of 0200/1200.jpg)"
[[ $(status_of 0300/1300.jpg) == rating ]] || fail "1300: $(status_of 0300/1300.jpg)"
[[ $(status_of 0400/1400.jpg) == excluded_tag ]] || fail "1400: $(status_of 0400/1400.jpg)"
[[ $(status_of 0500/1500.jpg) == no_metadata ]] || fail "1500: $(status_of 0500/1500.jpg)"
[[ $(status_of 0100/2100.jpg) == duplicate ]] || fail "2100: $(status_of 0100/2100.jpg)"
grep -q '"detail":"comic"' "$m" || fail "excluded tag not named"
grep "1100.jpg" "$m" | grep -q '"danbooru_id":1100,"tags":\["emilia_(re:zero)","1girl"\],"label":0' || fail "1100 entry: $(grep 1100.jpg "$m")"
grep "1200.jpg" "$m" | grep -q '"label":0' || fail "1200 label"
grep -q '"class_names":\["emilia_(re:zero)","rem_(re:zero)"\]' "$out/dataset.json" || fail "dataset.json: $(cat "$out/dataset.json")"
grep -q '"labels":\[\["original/0100/1100_0.png",0\]' "$out/dataset.json" || fail "dataset.json labels"
[[ -f $out/original/0100/1100_0.png ]] || fail "crop missing"

# Packing: crops -> .dset (labels kept) -> zip -> .dset again, identical bytes.
"$dne" prep pack --in "$out" --out "$tmp/faces.dset" --labels --quiet
[[ $(head -c 7 "$tmp/faces.dset") == DNEDSET ]] || fail "no .dset magic"
"$dne" prep pack --in "$tmp/faces.dset" --out "$tmp/faces.zip" --zip --labels --quiet
"$dne" prep pack --in "$tmp/faces.zip" --out "$tmp/again.dset" --labels --quiet
cmp "$tmp/faces.dset" "$tmp/again.dset" || fail "zip round trip changed the dataset"
# Resizing, and labels asked of an unlabelled dataset.
"$dne" prep pack --in "$tmp/faces.dset" --out "$tmp/small.dset" --res 32 --quiet
size=$(stat -c %s "$tmp/small.dset")
[[ $size -eq $((4096 + 2 * 3 * 32 * 32)) ]] || fail "32px .dset is $size bytes"
status=0
err=$("$dne" prep pack --in "$tmp/small.dset" --out "$tmp/l.dset" --labels 2>&1) || status=$?
[[ $status -eq 1 && $err == *"has no labels"* ]] || fail "--labels on unlabelled: $status $err"
status=0
head -c 5000 "$tmp/faces.dset" >"$tmp/cut.dset"
err=$("$dne" prep pack --in "$tmp/cut.dset" --out "$tmp/l.dset" 2>&1) || status=$?
[[ $status -eq 1 && $err == *truncated* ]] || fail "truncated .dset: $status $err"
# One character's images (--class), renumbered; unknown, empty and unlabelled selections refused.
summary=$("$dne" prep pack --in "$tmp/faces.dset" --out "$tmp/emilia.dset" --class "emilia_(re:zero)" --labels 2>&1)
[[ $summary == *"2 images"*"1 classes"* ]] || fail "--class: $summary"
summary=$("$dne" prep pack --in "$tmp/faces.dset" --out "$tmp/both.dset" --class "emilia_(re:zero),emilia_(re:zero)" 2>&1)
[[ $summary == *"2 images"* ]] || fail "--class listed twice: $summary"
for bad in "rem_(re:zero)=no class 'rem_(re:zero)'" "nobody=no class 'nobody'"; do
  status=0
  err=$("$dne" prep pack --in "$tmp/faces.dset" --out "$tmp/c.dset" --class "${bad%%=*}" 2>&1) || status=$?
  [[ $status -eq 1 && $err == *"${bad#*=}"* && ! -e $tmp/c.dset ]] || fail "--class ${bad%%=*}: $status $err"
done
status=0
err=$("$dne" prep pack --in "$tmp/small.dset" --out "$tmp/c.dset" --class x 2>&1) || status=$?
[[ $status -eq 1 && $err == *"has no labels"* ]] || fail "--class on unlabelled: $status $err"
echo "prep.sh: all checks passed"
