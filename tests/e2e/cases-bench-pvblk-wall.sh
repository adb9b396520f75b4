# shellcheck shell=sh
# The pvblk benchmark's QD1 rows on wall-clock time: run.sh boots this suite with multi-threaded
# TCG (no -icount), so dom0's and the guest's vCPUs run at once on the host's cores. Under -icount
# one TCG thread runs the vCPUs in turn, and a poller spinning in the guest holds it from the back
# end it waits for: polled I/O measures nothing there. Wall-clock figures are noisy (a shared
# machine): more rounds, alternated, medians; read the ratios.
WORKLOADS="randread-4k-qd1 randread-4k-qd1-hipri"
ROUNDS=7
BENCH_CLOCK="wall clock, multi-threaded TCG"
# shellcheck source=cases-bench-pvblk.sh
. /e2e/cases-bench-pvblk.sh
