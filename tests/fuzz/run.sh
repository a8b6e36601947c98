#!/usr/bin/env bash
# Fuzzes the two readers of untrusted model files with libFuzzer (clang,
# with AddressSanitizer, leak checks and UndefinedBehaviorSanitizer) for a
# bounded time each, from the seed corpora in tests/fuzz/seeds (the pickle
# fixtures, hostile pickles, small safetensors files). Any crash, leak or
# sanitizer report fails; the input that caused it is kept in build-fuzz/.
#
#   tests/fuzz/run.sh [SECONDS]     (default 60 per target)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
command -v clang >/dev/null || { echo "fuzz: clang is not installed (tools/install-deps.sh installs it)" >&2; exit 1; }
out=build-fuzz
mkdir -p "$out"
flags=(-std=c11 -D_GNU_SOURCE -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
io=(gan/io/safetensors.c gan/io/file.c gan/error.c)
clang "${flags[@]}" tests/fuzz/fuzz_pickle.c gan/io/pickle.c gan/io/torch_pickle.c "${io[@]}" -lcjson -lm \
  -o "$out/fuzz_pickle"
clang "${flags[@]}" tests/fuzz/fuzz_safetensors.c "${io[@]}" -lcjson -lm -o "$out/fuzz_safetensors"

# Seeds: the committed corpora plus the test fixtures of each format.
for target in pickle safetensors; do
  rm -rf "$out/$target-corpus"
  mkdir -p "$out/$target-corpus"
  cp tests/fuzz/seeds/$target/* "$out/$target-corpus/"
done
cp tests/fixtures/pickle/*.pkl "$out/pickle-corpus/"
find tests/fixtures -name '*.safetensors' -size -64k -exec cp {} "$out/safetensors-corpus/" \;

for target in pickle safetensors; do
  echo "fuzz_$target: $seconds s"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$out/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 \
    -artifact_prefix="$out/fuzz_$target-" -print_final_stats=1 "$out/$target-corpus" 2>"$out/fuzz_$target.log" ||
    { tail -40 "$out/fuzz_$target.log"; echo "fuzz_$target: FAILED (see $out/fuzz_$target.log)" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|cov: " "$out/fuzz_$target.log" | tail -2
done
echo "fuzzing passed"
