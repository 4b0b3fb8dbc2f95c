#!/usr/bin/env bash
# The main job: builds cmlx and runs the example program, which shows lazy
# evaluation, MLX's printing and error reporting through the mlx-c API.
# Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target example_basics >/dev/null
./build/example_basics "$@"
