#!/usr/bin/env bash
# README command 1: install dependencies, build, run pvring's main job.
# For now that is the shared-ring benchmark (our ring and the Xen public
# macros side by side); the daemon demo replaces it once pvringd exists.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build/release"
make -C "$top/build/release" bench BENCH_ARGS="${BENCH_ARGS:-}"
