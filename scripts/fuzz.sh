#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (AddressSanitizer and
# UBSan, in build-fuzz/) and runs them one after another, sharing SECONDS
# (default 60) equally. Installs clang and libFuzzer first if missing.
#
# Each target reads its seed corpus tests/fuzz/corpus/<name> (never written
# to) and its dictionary tests/fuzz/<name>.dict; the inputs it finds go to
# build-fuzz/corpus/<name> and are kept for the next run, and a crashing,
# leaking or hanging input is saved under build-fuzz/artifacts/. Exits 1 if
# any target failed, after running them all.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   e.g. scripts/fuzz.sh 600 fuzz_npy
# Reproduce a failure: build-fuzz/tests/fuzz/<target> <artifact file>
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-60}
[ $# -gt 0 ] && shift
bash scripts/deps.sh --fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi

# -O1: fast enough to fuzz, still precise reports. Warnings are the gcc
# builds' business (test.sh); here they must not stop the fuzzing.
echo "== Fuzz build (clang, ASan + UBSan)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMLX_SANITIZE=ON -DCMLX_FUZZ=ON \
  -DCMLX_WERROR=OFF -DCMLX_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

each=$((total / ${#targets[@]}))
[ "$each" -lt 1 ] && each=1
mkdir -p build-fuzz/artifacts
failed=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  mkdir -p "build-fuzz/corpus/$name"
  args=(-max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="build-fuzz/artifacts/$name-")
  [ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
  echo "== $t for ${each}s"
  # libFuzzer stops itself at max_total_time; timeout is the backstop
  if ! timeout $((each + 120)) "build-fuzz/tests/fuzz/$t" "${args[@]}" \
       "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" 2>"build-fuzz/$name.log"; then
    failed+=("$t")
  fi
  grep -E '^(Done|stat::|==[0-9]+==ERROR|SUMMARY)' "build-fuzz/$name.log" || true
done
if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo "== $t FAILED; the end of build-fuzz/${t#fuzz_}.log:"
    tail -n 60 "build-fuzz/${t#fuzz_}.log"
  done
  echo "== inputs that failed are in build-fuzz/artifacts/"
  exit 1
fi
echo "== fuzzing found nothing"
