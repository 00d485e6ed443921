#!/usr/bin/env bash
# C `deepidv_client_get_job` (benches/c/bench_c_get.c, linked against the release libdeepidv.a)
# vs the Rust blocking call `deepidv_ureq::Client::get_job` (benches/ureq_get_loop.rs), timed
# the same way, on one kept-alive connection each to the same simulator process (a ready job),
# alternating C and Rust in the same run.
#   benches/c.sh                 # N=5000 calls per round, 3 rounds per side per pass, 2 passes
#   N=2000 ROUNDS=2 PASSES=1 benches/c.sh   (normally run through benches/run.sh)
# Prints the median over all rounds of each side's per-call mean and median, and the C/Rust ratio
# (target <= 1.05). Needs cc.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
n="${N:-5000}"; rounds="${ROUNDS:-3}"; passes="${PASSES:-2}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); $(uname -sr); $(rustc --version)"
cargo build --release -q -p deepidv-ffi -p deepidv-mock
cargo bench -q -p deepidv-benches --bench ureq_get_loop --no-run 2>/dev/null
rust_bin="$(cargo bench -q -p deepidv-benches --bench ureq_get_loop --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*ureq_get_loop[^"]*\)".*/\1/p' | tail -1)"
[[ -x "$rust_bin" ]] || { echo "could not find the ureq_get_loop bench binary" >&2; exit 1; }
work="$(mktemp -d)"
cc -O2 -std=c11 -Wall -Wextra -I"$root/include" -o "$work/bench_c_get" "$root/benches/c/bench_c_get.c" \
  "$target_dir/release/libdeepidv.a" -lpthread -ldl -lm

: >"$work/mock.log" # exists before the simulator writes it: the loop below reads it
"$target_dir/release/deepidv-mock" --addr 127.0.0.1:0 --pending 0ms --processing 0ms >"$work/mock.log" &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do grep -q '^listening on' "$work/mock.log" && break; sleep 0.05; done
url="$(sed -n 's/^listening on //p' "$work/mock.log")"
job="$(curl -s -X POST "$url/__mock/jobs" -d '{"outcome":"ready"}' | sed -n 's/.*"jobId":"\([^"]*\)".*/\1/p')"
bytes="$(curl -s -H 'x-api-key: sk_test_deepidv_sandbox' "$url/v1/async-jobs/$job" | wc -c)"
echo "simulator $url, ready job $job ($bytes byte answer); $n calls per round, $rounds rounds per side, $passes passes"

: >"$work/c.txt"; : >"$work/rust.txt"
for p in $(seq "$passes"); do
  "$work/bench_c_get" "$url" "$job" "$n" "$rounds" | tee -a "$work/c.txt" | sed "s/^/pass $p C    /"
  "$rust_bin" "$url" "$job" "$n" "$rounds" | tee -a "$work/rust.txt" | sed "s/^/pass $p Rust /"
done
med() { # file field -> median value in µs
  sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$1" | sort -n | awk '{v[NR]=$1} END {printf "%.2f", v[int((NR+1)/2)]/1000}'
}
for f in mean median; do
  c=$(med "$work/c.txt" "${f}_ns"); r=$(med "$work/rust.txt" "${f}_ns")
  printf 'RESULT per-call %-6s C %s µs, Rust %s µs, C/Rust %s\n' "$f" "$c" "$r" "$(awk -v c="$c" -v r="$r" 'BEGIN {printf "%.3f", c / r}')"
done
