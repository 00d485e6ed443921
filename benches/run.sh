#!/usr/bin/env bash
# The one entry point for the benchmarks BENCHMARKS.md records; each figure is measured
# beside its baseline in the same run, against a `deepidv-mock` process.
#   benches/run.sh [MODE...]          # no MODE: all
#     all     every mode below, in this order
#     core    the core's micro-benches: parsing, one poller step (criterion; deepidv-core)
#     client  blocking get_job (ureq) vs curl per request, and wrk on the same endpoint
#     cli     `deepidv jobs get` vs `curl -s` as whole processes (hyperfine)
#     async   async polling rate, wait_many(1 000 jobs), vs wrk -c64 and -c1000
#     memory  heap and RSS per parked async wait (1 000 and 10 000 waits)
#     c       C deepidv_client_get_job vs the Rust blocking get_job, same loop
#   BENCH_QUICK=1 benches/run.sh ...  # a fast pass: criterion --quick, fewer requests and rounds,
#                                     # shorter windows (same code measured; figures are rougher)
# Knobs of each driver (CURL_N, WRK_SECONDS, BENCH_ROUNDS, BENCH_WINDOW_MS, BENCH_POLL_MS,
# BENCH_WORKERS, BENCH_ONLY, BENCH_MEMORY_JOBS, N, ROUNDS, PASSES) pass through; see
# blocking.sh, async.sh and c.sh beside this file.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
modes=(all core client cli async memory c)
usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }

[[ $# -eq 0 ]] && set -- all
blocking=() async=() c=0
for m in "$@"; do
  case "$m" in
    all) blocking+=(core client cli); async+=(async memory); c=1 ;;
    core | client | cli) blocking+=("$m") ;;
    async | memory) async+=("$m") ;;
    c) c=1 ;;
    -h | --help | help) usage; exit 0 ;;
    *) echo "benches/run.sh: unknown mode '$m' (one of: ${modes[*]})" >&2; exit 2 ;;
  esac
done

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  export WRK_SECONDS="${WRK_SECONDS:-2}" BENCH_ROUNDS="${BENCH_ROUNDS:-1}"
  export BENCH_MEMORY_JOBS="${BENCH_MEMORY_JOBS:-1000}"
  export N="${N:-1000}" ROUNDS="${ROUNDS:-1}" PASSES="${PASSES:-1}"
fi
if [[ ${#blocking[@]} -gt 0 ]]; then bash "$here/blocking.sh" "${blocking[@]}"; fi
if [[ ${#async[@]} -gt 0 ]]; then bash "$here/async.sh" "${async[@]}"; fi
if [[ $c == 1 ]]; then bash "$here/c.sh"; fi
