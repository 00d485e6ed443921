#!/usr/bin/env bash
# The async adapter's polling throughput and memory per waiting job, beside wrk on the same
# simulator process, in one run:
#   1. wrk -t1 -c64   -d5s  GET /v1/async-jobs/{id} (x-api-key via a Lua script) on a processing job
#   2. benches/wait_many.rs: Client::wait_many(1000 processing jobs, 1000),
#      polled every 1 ms, requests the simulator recorded / wall time (median of BENCH_ROUNDS)
#   3. wrk -t1 -c1000 -d5s  (the same concurrency as the 1 000 waits)
#   4. benches/wait_memory.rs: heap and RSS per parked wait (1 000 and 10 000)
# Prints each figure and the ratios to wrk (target: >= 50 % of wrk's requests/s; <= 4 KiB per job).
#   benches/async.sh [async] [memory]   (no argument: both; about 45 s once built)
#     async   steps 1-3 (polling rate vs wrk); memory   step 4
#   WRK_SECONDS=3 BENCH_ROUNDS=1 benches/async.sh
# Normally run through benches/run.sh (BENCH_QUICK=1 there shortens the windows).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wrk_s="${WRK_SECONDS:-5}"
key=sk_test_deepidv_sandbox
parts=" ${*:-async memory} "
want() { [[ "$parts" == *" $1 "* ]]; }
want async && { command -v wrk >/dev/null || { echo "wrk is missing (apt-get install -y wrk)" >&2; exit 1; }; }

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); $(uname -sr); $(rustc --version)"
cargo build --release -q -p deepidv-mock
cargo bench -q -p deepidv-benches --bench wait_many --bench wait_memory --no-run 2>/dev/null
work="$(mktemp -d)"
: >"$work/mock.log" # exists before the simulator writes it: the loop below reads it
"$target_dir/release/deepidv-mock" --addr 127.0.0.1:0 >"$work/mock.log" &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do grep -q '^listening on' "$work/mock.log" && break; sleep 0.05; done
url="$(sed -n 's/^listening on //p' "$work/mock.log")"
export DEEPIDV_BENCH_URL="$url"
# wrk polls a job that stays processing: the same answer the waits get
job="$(curl -s -X POST "$url/__mock/jobs" -d '{"outcome":"ready","pendingMs":0,"processingMs":600000}' |
  sed -n 's/.*"jobId":"\([^"]*\)".*/\1/p')"
job_url="$url/v1/async-jobs/$job"
echo "simulator (its own process): $url; wrk polls $job: $(curl -s -H "x-api-key: $key" "$job_url")"
printf 'wrk.headers["x-api-key"] = "%s"\n' "$key" >"$work/key.lua"

wrk_rps() { # connections -> requests/s
  wrk -t1 -c"$1" -d"${wrk_s}s" -s "$work/key.lua" "$job_url" >"$work/wrk$1.txt" 2>&1
  sed 's/^/  /' "$work/wrk$1.txt" >&2
  awk '/^Requests\/sec:/ {print int($2)}' "$work/wrk$1.txt"
}
if want async; then
  echo "== wrk -t1 -c64 -d${wrk_s}s"
  w64="$(wrk_rps 64)"
  echo "== cargo bench -p deepidv-benches --bench wait_many"
  cargo bench -q -p deepidv-benches --bench wait_many 2>&1 | tee "$work/wait_many.txt"
  echo "== wrk -t1 -c1000 -d${wrk_s}s"
  w1000="$(wrk_rps 1000)"
fi
if want memory; then
  echo "== cargo bench -p deepidv-benches --bench wait_memory"
  cargo bench -q -p deepidv-benches --bench wait_memory 2>&1 | tee "$work/wait_memory.txt"
fi

echo
if want async; then
  echo "RESULT wrk -t1 -c64: $w64 requests/s; wrk -t1 -c1000: $w1000 requests/s"
  grep '^RESULT' "$work/wait_many.txt" | while read -r _ rest; do
    rps="${rest##*requests_per_s=}"; label="${rest% requests_per_s=*}"
    awk -v l="$label" -v r="$rps" -v a="$w64" -v b="$w1000" 'BEGIN {
      printf "RESULT %s: %d requests/s = %.1f %% of wrk -c64, %.1f %% of wrk -c1000 (target >= 50 %%)\n", l, r, 100 * r / a, 100 * r / b }'
  done
fi
if want memory; then
  grep '^RESULT' "$work/wait_memory.txt" | while read -r _ rest; do
    heap="$(echo "$rest" | sed -n 's/.*heap_bytes_per_job=\([0-9]*\).*/\1/p')"
    echo "RESULT memory per parked wait, ${rest%% *}: heap $heap bytes ($(awk -v h="$heap" 'BEGIN {printf "%.2f", h / 1024}') KiB, target <= 4 KiB), RSS growth $(echo "$rest" | sed -n 's/.*rss_bytes_per_job=\([0-9]*\).*/\1/p') bytes"
  done
fi
