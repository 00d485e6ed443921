#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_TIME seconds (default 10) on STABLE Rust.
#   FUZZ_TIME=180 scripts/fuzz-smoke.sh              # all targets, 3 minutes each
#   FUZZ_TARGETS="poller job_id" scripts/fuzz-smoke.sh
#   FUZZ_SANITIZER=address scripts/fuzz-smoke.sh     # ASan (RUSTC_BOOTSTRAP=1 makes it build on stable)
# New inputs go to fuzz/work/<target>/ (git-ignored); fuzz/corpus/<target>/ holds the
# committed seeds and is only read. Crashes land in fuzz/artifacts/<target>/; copy one
# to fuzz/regressions/<target>/ to make it a regression test (tests/fuzz_corpus.rs).
# Prints one summary line per target: runs, seconds, executions per second.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
time_s="${FUZZ_TIME:-10}"
sanitizer="${FUZZ_SANITIZER:-none}"
cd "$root/fuzz"
if ! cargo +stable fuzz --version >/dev/null 2>&1; then
  cargo +stable install cargo-fuzz --locked || exit 1
fi
targets="${FUZZ_TARGETS:-$(cargo +stable fuzz list)}"
export RUSTC_BOOTSTRAP=1 # only needed for sanitizers other than none; harmless otherwise
RUSTC_BOOTSTRAP=1 cargo +stable fuzz build --sanitizer "$sanitizer" || exit 1
failed=()
summary=()
for t in $targets; do
  mkdir -p "work/$t" "corpus/$t"
  dict=()
  case "$t" in
    parse_job) dict=(-dict=dict/json.dict) ;;
    parse_response|error_body) dict=(-dict=dict/http.dict) ;;
  esac
  log="work/$t.log"
  echo "== $t: ${time_s}s (sanitizer $sanitizer)"
  if cargo +stable fuzz run --sanitizer "$sanitizer" "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$time_s" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
      >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
    tail -40 "$log"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  corpus=$(ls "work/$t" | wc -l)
  summary+=("$t: $status, ${runs:-?} runs in ${secs:-$time_s}s, ${rate:-?} exec/s, ${cov:-cov: ?}, corpus $corpus")
done
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz-smoke: FAILED: ${failed[*]} (see fuzz/artifacts/ and fuzz/work/<target>.log)"
  exit 1
fi
echo "fuzz-smoke: all targets ok"
