# shellcheck shell=bash
# Sourced by the benchmarks: the median of numbers, and the ratio of two ("-" over zero).
median() { python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print('%.2f' % (a / b) if b else '-')" "$@"; }
