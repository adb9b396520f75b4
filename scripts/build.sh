#!/usr/bin/env bash
# Configure and build one build tree: scripts/build.sh DIR [configure options...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] || autoreconf -fi
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] && [ config.status -nt "$top/configure" ] || "$top/configure" -q "$@"
make -j"$(nproc)"
