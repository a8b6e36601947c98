#!/usr/bin/env bash
# dne metrics end to end: a random-init 64 px network against real anime
# faces gives finite SWD numbers on stdout and in --out (one JSON line per
# run, the same numbers for the same seed, others for another seed); bad
# arguments and bad inputs exit 2 with one line naming the problem.
set -u
dne=$1
data=../shared/data/anime_faces_getchu64/heldout
big=../shared/data/anime_faces_danbooru256/ame
[[ -d $data && -d $big ]] || { echo "SKIP: ../shared/data missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$dne" init --preset small --res 64 --seed 3 --out "$tmp/g.safetensors" 2>/dev/null || fail "dne init"
run=("$dne" metrics --network "$tmp/g.safetensors" --data "$data" --metrics swd --num 16 --threads 2 --batch 8)

# --- results: one JSON line, every value a finite positive number
"${run[@]}" --out "$tmp/m.jsonl" >"$tmp/out1" 2>"$tmp/err1" || fail "metrics exit $?: $(cat "$tmp/err1")"
[[ $(wc -l <"$tmp/out1") -eq 1 ]] || fail "stdout is not one line: $(cat "$tmp/out1")"
results=$(sed -n 's/^{"results":{\([^}]*\)}.*/\1/p' "$tmp/out1")
[[ -n $results ]] || fail "no results object: $(cat "$tmp/out1")"
names=$(echo "$results" | tr ',' '\n' | sed 's/"\([^"]*\)":.*/\1/' | tr '\n' ' ')
[[ $names == "swd_64 swd_32 swd_16 swd_avg " ]] || fail "result names: $names"
for value in $(echo "$results" | tr ',' '\n' | sed 's/.*://'); do
    [[ $value =~ ^[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?$ ]] || fail "not a finite positive number: $value"
done
grep -q '"metric":"swd",' "$tmp/out1" || fail "no metric name"
grep -q '"num_images":16,' "$tmp/out1" || fail "no num_images"
grep -q "\"snapshot_pkl\":\"$tmp/g.safetensors\"" "$tmp/out1" || fail "no snapshot_pkl"
grep -q "swd_avg" "$tmp/err1" || fail "no summary on stderr: $(cat "$tmp/err1")"

# --- --out appends; the same seed gives the same numbers, another seed others
"${run[@]}" --out "$tmp/m.jsonl" >"$tmp/out2" 2>/dev/null || fail "second run"
"${run[@]}" --seed 9 >"$tmp/out3" 2>/dev/null || fail "run with --seed 9"
[[ $(wc -l <"$tmp/m.jsonl") -eq 2 ]] || fail "--out has $(wc -l <"$tmp/m.jsonl") lines, expected 2"
cmp -s <(head -1 "$tmp/m.jsonl") "$tmp/out1" || fail "--out line differs from stdout"
r1=$(sed 's/,"metric".*//' "$tmp/out1") r2=$(sed 's/,"metric".*//' "$tmp/out2") r3=$(sed 's/,"metric".*//' "$tmp/out3")
[[ $r1 == "$r2" ]] || fail "same seed, different results: $r1 / $r2"
[[ $r1 != "$r3" ]] || fail "--seed 9 gave the same results as --seed 0"

# --- refusals: exit 2 and one line naming the problem
refuse() { # word, args...
    local word=$1
    shift
    local out status
    out=$("$dne" metrics "$@" 2>&1)
    status=$?
    [[ $status -eq 2 ]] || fail "dne metrics $*: status $status ($out)"
    [[ $(printf '%s\n' "$out" | wc -l) -eq 1 ]] || fail "dne metrics $*: not one line: $out"
    [[ $out == *"$word"* ]] || fail "dne metrics $*: message lacks '$word': $out"
}
g=$tmp/g.safetensors
refuse "--network is required" --data "$data" --metrics swd
refuse "--data is required" --network "$g" --metrics swd
refuse "--metrics is required" --network "$g" --data "$data"
refuse "unknown metric 'fid'" --network "$g" --data "$data" --metrics swd,fid
refuse "named twice" --network "$g" --data "$data" --metrics swd,swd
refuse "--num" --network "$g" --data "$data" --metrics swd --num 0
refuse "has only 1000 images" --network "$g" --data "$data" --metrics swd --num 1001
refuse "$tmp/none" --network "$g" --data "$tmp/none" --metrics swd
refuse "no images found" --network "$g" --data "$tmp" --metrics swd
refuse "the network makes 64 px" --network "$g" --data "$big" --metrics swd --num 4
refuse "unknown or incomplete option" --network "$g" --data "$data" --metrics swd --frobnicate
head -c 100 "$g" >"$tmp/cut.safetensors"
refuse "cut.safetensors" --network "$tmp/cut.safetensors" --data "$data" --metrics swd

# --- a failure while working (unwritable --out) exits 1
"${run[@]}" --out "$tmp/none/m.jsonl" >/dev/null 2>"$tmp/err4"
status=$?
[[ $status -eq 1 ]] || fail "unwritable --out: status $status"

[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
echo "ok"
