#!/usr/bin/env bash
# The main job: builds cmlx and its `cmlx` program, then runs
#   ./run.sh            `cmlx demo`: a small GPT-OSS-shaped model with random
#                       weights (fixed seed, no download) in float32, mxfp4,
#                       affine 4-bit and 8-bit: speed and agreement with float;
#   ./run.sh ARGS...    `cmlx ARGS...` (e.g. ./run.sh generate --model DIR
#                       --prompt "Hello"; ./run.sh help).
# Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target cmlx_tool example_basics >/dev/null
if [ "$#" -eq 0 ]; then
  exec ./build/tools/cmlx demo
fi
exec ./build/tools/cmlx "$@"
