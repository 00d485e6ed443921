#!/usr/bin/env bash
# The blocking side, each figure beside its baseline, against one simulator process (jobs ready
# at once); prints the figures BENCHMARKS.md records. Normally run through benches/run.sh.
#   benches/blocking.sh [core] [client] [cli]     # no argument: all three
#     core    the core's criterion micro-benches (deepidv-core: parse, poller)
#     client  get_job (deepidv-ureq) vs curl: criterion (get_job.rs) and curl's own per-request
#             time by script (CURL_N), then wrk against the same endpoint (skipped if missing)
#     cli     `deepidv jobs get` vs `curl -s` as whole processes (hyperfine; skipped if missing)
#   BENCH_QUICK=1 benches/blocking.sh   # criterion --quick, fewer curl/hyperfine runs
# Needs curl; hyperfine for the CLI comparison, wrk for the endpoint baseline.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
parts=" ${*:-core client cli} "
want() { [[ "$parts" == *" $1 "* ]]; }
crit=()
curl_n="${CURL_N:-2000}"
hf_runs=50
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then crit=(--quick); curl_n=500; hf_runs=20; fi
out="$root/target/bench-results.txt"
mkdir -p target
: >"$out"
say() { echo "$*" | tee -a "$out"; }

say "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); $(uname -sr)"
say "rustc: $(rustc --version)"

# --- the simulator, in its own process, jobs ready at once
if want cli; then cargo build --release -q -p deepidv-mock -p deepidv-cli; else cargo build --release -q -p deepidv-mock; fi
log="$(mktemp)"
./target/release/deepidv-mock --addr 127.0.0.1:0 --pending 0ms --processing 0ms >"$log" &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 200); do grep -q '^listening on' "$log" && break; sleep 0.05; done
url="$(sed -n 's/^listening on //p' "$log")"
key=sk_test_deepidv_sandbox
job="$(curl -s -X POST "$url/__mock/jobs" -d '{"outcome":"ready"}' | sed -n 's/.*"jobId":"\([^"]*\)".*/\1/p')"
export DEEPIDV_BENCH_URL="$url" DEEPIDV_BENCH_JOB="$job"
job_url="$url/v1/async-jobs/$job"
say "simulator: $url, job $job ($(curl -s -H "x-api-key: $key" "$job_url" | wc -c) byte answer)"

crit_run() { # crate bench
  say "== cargo bench -p $1 --bench $2 -- ${crit[*]}"
  cargo bench -q -p "$1" --bench "$2" -- "${crit[@]}" 2>&1 | tee -a "$out" | grep -E '^[a-z_]+/|time:|thrpt:' || true
}
if want core; then
  crit_run deepidv-core parse
  crit_run deepidv-core poller
fi

# --- curl's own per-request time on one kept-alive connection: (t(N) - t(1)) / (N - 1)
curl_time() { # n -> nanoseconds for n GETs on one connection (URLs via a config file: no argv limit)
  local list i s e
  list="$(mktemp)"
  printf 'header = "x-api-key: %s"\nsilent\n' "$key" >"$list"
  for ((i = 0; i < $1; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$job_url"; done >>"$list"
  s=$(date +%s%N)
  curl -K "$list"
  e=$(date +%s%N)
  rm -f "$list"
  echo $((e - s))
}
if want client; then
  crit_run deepidv-benches get_job
  t1=$(curl_time 1); tn=$(curl_time "$curl_n")
  say "curl: 1 URL $((t1 / 1000)) µs, $curl_n URLs $((tn / 1000)) µs => $(((tn - t1) / (curl_n - 1) / 1000)).$((((tn - t1) / (curl_n - 1)) % 1000 / 100)) µs per request on one connection"
fi

# --- the CLI as a whole process vs curl
cli=./target/release/deepidv
if ! want cli; then
  :
elif command -v hyperfine >/dev/null && [[ -x $cli ]] && DEEPIDV_API_KEY=$key "$cli" --base-url "$url" jobs get "$job" >/dev/null 2>&1; then
  say "== hyperfine: deepidv jobs get vs curl -s"
  DEEPIDV_API_KEY=$key hyperfine -N --warmup 5 --runs "$hf_runs" --export-markdown target/hyperfine-cli.md \
    "$cli --base-url $url jobs get $job" \
    "curl -s -H 'x-api-key: $key' $job_url" 2>&1 | tee -a "$out"
else
  say "hyperfine CLI comparison skipped: needs hyperfine and a working $cli"
fi

# --- wrk against the endpoint (the simulator's own throughput, a ceiling for any client)
if want client && command -v wrk >/dev/null; then
  lua="$(mktemp --suffix .lua)"
  printf 'wrk.headers["x-api-key"] = "%s"\n' "$key" >"$lua"
  say "== wrk -t2 -c100 -d5s (baseline throughput of the simulator endpoint)"
  wrk -t2 -c100 -d5s -s "$lua" "$job_url" 2>&1 | tee -a "$out"
  rm -f "$lua"
fi
say "results in $out"
