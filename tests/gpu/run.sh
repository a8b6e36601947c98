#!/usr/bin/env bash
# The GPU suite: on a machine with an NVIDIA GPU and nothing prepared, builds
# dne's CUDA backend, runs (1) every op's CUDA-vs-CPU parity test forward and
# backward, (2) generator parity, (3) one training step against the CPU, all
# in tests/test_cuda_parity.c; then (4) benchmarks dne beside the PyTorch
# reference (tools/reference) on the same GPU: generator images/s at 256 and
# 512 px, batch 1, 16, 64, training sec/kimg at 256 px, paper256, batch 32,
# and BigGAN training images/s at 128 px (ch 32, batch 32).
# Prints one summary table (also in $OUT/gpu-summary.txt when OUT is set).
#
# The C libraries libgan links travel as Debian packages in .gpu-deps/
# (tests/gpu/fetch-deps.sh, run where packages can be fetched) and are
# unpacked into a private prefix, since the GPU machine reaches no registry.
# Exit status: 0 all parity checks passed, 1 a check or the build failed,
# 77 no GPU. Meant to finish within 5 minutes on an H100.
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
out=${OUT:-build-gpu/results}
mkdir -p "$out"
exec > >(tee "$out/gpu-suite.log") 2>&1
py=${PYTHON:-python3}
step() { printf '\n== %s (%d s)\n' "$*" $((SECONDS - start)); }

step "machine"
if ! gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1) || [[ -z $gpu ]]; then
  echo "no NVIDIA GPU here: nothing to run"
  exit 77
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nvcc --version | tail -1

unpack_deb() { # a .deb's files into a folder, with or without dpkg-deb
  if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$1" "$2"; return; fi
  local member
  member=$(ar t "$1" | grep '^data\.tar')
  ar p "$1" "$member" | tar -x -C "$2" --auto-compress -f - 2>/dev/null ||
    ar p "$1" "$member" | tar -x -C "$2" -I unzstd -f -
}

cmake_deps=()
if compgen -G ".gpu-deps/*.deb" >/dev/null; then
  step "unpacking the libraries of .gpu-deps"
  deps=/tmp/dne-deps arch=x86_64-linux-gnu
  mkdir -p "$deps"
  for f in .gpu-deps/*.deb; do unpack_deb "$f" "$deps" || { echo "cannot unpack $f"; exit 1; }; done
  export PKG_CONFIG_LIBDIR=$deps/usr/lib/$arch/pkgconfig:$deps/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$deps
  export LD_LIBRARY_PATH=$deps/usr/lib/$arch:$deps/usr/lib/$arch/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  command -v pkg-config >/dev/null || export PKG_CONFIG=$deps/usr/bin/pkgconf
  cmake_deps=(-DCMAKE_PREFIX_PATH="$deps/usr" -DOPENBLAS_LIB="$deps/usr/lib/$arch/openblas-openmp/libopenblas.so"
              -DOPENBLAS_INCLUDE="$deps/usr/include/$arch/openblas-openmp")
fi

step "build (CUDA for this GPU, $(nproc) jobs)"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DDNE_CUDA=ON -DDNE_GPU_SUITE=ON \
  -DCMAKE_CUDA_ARCHITECTURES=native "${cmake_deps[@]}" >"$out/cmake.log" 2>&1 || { cat "$out/cmake.log"; exit 1; }
cmake --build build-gpu -j"$(nproc)" 2>&1 | grep -E "error:|warning:|Error [0-9]" ; [[ ${PIPESTATUS[0]} -eq 0 ]] || exit 1

step "(1-3) parity: every op, the generator, one training step, CUDA against the CPU"
build-gpu/tests/test_cuda_parity | tee "$out/parity.txt"
parity=${PIPESTATUS[0]}

step "(4) benchmarks, dne and PyTorch on the same GPU"
torch_gpu=0
$py -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null && torch_gpu=1
[[ $torch_gpu == 1 ]] || echo "PyTorch with CUDA is not available here: the reference columns stay empty"
field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "-" }'; }
rows=()
for spec in "paper256 256" "stylegan2 512"; do
  read -r preset res <<<"$spec"
  net=build-gpu/$preset-$res.safetensors
  for batch in 1 16 64; do
    save=()
    [[ -e $net ]] || save=(--save "$net")
    d=$(build-gpu/bench/bench_generate --preset "$preset" --res "$res" "${save[@]}" --batch "$batch" --reps 10 \
        --device cuda)
    dne_ips=$(awk -v ms="$(field ms_per_image "$d")" 'BEGIN { if (ms > 0) printf "%.1f", 1000 / ms }')
    ref_ips=-
    if [[ $torch_gpu == 1 ]]; then
      r=$($py tools/reference/bench_generate.py --network "$net" --batch "$batch" --reps 10 --device cuda 2>/dev/null)
      ref_ips=$(awk -v ms="$(field ms_per_image "$r")" 'BEGIN { if (ms > 0) printf "%.1f", 1000 / ms; else print "-" }')
    fi
    rows+=("$(printf '| generate %s %d px, batch %d | %s img/s | %s img/s | %s |' "$preset" "$res" "$batch" \
              "${dne_ips:--}" "$ref_ips" "$(ratio "${dne_ips:-0}" "$ref_ips")")")
  done
done
d=$(build-gpu/bench/bench_train --resolutions 256 --cfg paper256 --batch 32 --reps 3 --device cuda)
r=
[[ $torch_gpu == 1 ]] && r=$($py tools/reference/bench_train.py --resolutions 256 --cfg paper256 --batch 32 --reps 3 \
                             --device cuda 2>/dev/null)
for phases in main all; do
  dk=$(awk -v ips="$(field "images_per_s_${phases}_phases" "$d")" 'BEGIN { if (ips > 0) printf "%.1f", 1000 / ips }')
  rk=$(awk -v ips="$(field "images_per_s_${phases}_phases" "$r")" 'BEGIN { if (ips > 0) printf "%.1f", 1000 / ips; else print "-" }')
  rows+=("$(printf '| train paper256 256 px, batch 32, %s phases | %s s/kimg | %s s/kimg | %s |' "$phases" \
            "${dk:--}" "$rk" "$(ratio "$rk" "${dk:-0}")")")
done

d=$(build-gpu/bench/bench_train_biggan --res 128 --ch 32 --batch 32 --reps 3 --device cuda)
r=
[[ $torch_gpu == 1 ]] && r=$($py tools/reference/bench_train_biggan.py --res 128 --ch 32 --batch 32 --reps 3 \
                             --device cuda 2>/dev/null)
rows+=("$(printf '| train BigGAN 128 px, ch 32, batch 32 | %s img/s | %s img/s | %s |' "$(field images_per_s "$d")" \
          "$(field images_per_s "$r")" "$(ratio "$(field images_per_s "$d")" "$(field images_per_s "$r")")")")

step "summary"
{
  echo "GPU: $gpu; parity: $([[ $parity == 0 ]] && echo passed || echo FAILED)"
  grep -E "^(ops|generator|one training step|BigGAN)" "$out/parity.txt"
  echo
  echo "| measurement | dne | PyTorch reference | dne speed-up |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "($((SECONDS - start)) s in all)"
} | tee "$out/gpu-summary.txt"
[[ $parity == 0 ]] && exit 0 || exit 1
