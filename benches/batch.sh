#!/usr/bin/env bash
# Bulk screening benches (measured, never asserted): people per second end to end
# with SQLite (one process) and PostgreSQL (1 and 4 workers), peak RSS at 10,000 and
# 100,000 people, and the time to resume after kill -9 at 50,000; beside the SQLite runs, the
# same screenings with no store (benches/screen_many.rs), the outside baseline.
#
#   benches/batch.sh [N]        N people for the throughput runs (default 100000)
#
# Uses a release build of `deepidv` and its simulator (`deepidv mock`) with jobs that
# are ready at once and no rate limit. PostgreSQL parts run when pg_virtualenv is
# installed (a throwaway cluster), and say they were skipped otherwise.
# Prints one `RESULT name value unit` line per figure.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
cargo build --release --locked -p deepidv-cli >&2
BIN="$PWD/target/release/deepidv"
WORK="$(mktemp -d)"
trap 'kill "${MOCK_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

people() { # people N FILE
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("ref,firstName,lastName,email,dateOfBirth,country\n")
    for i in range(n):
        f.write(f"c{i},First{i},Last{i},p{i}@example.com,19{50 + i % 50:02d}-{1 + i % 12:02d}-{1 + i % 28:02d},US\n")
PY
}

start_mock() {
  "$BIN" mock --addr 127.0.0.1:0 --pending 0ms --processing 0ms --ttl 1h > "$WORK/mock.out" &
  MOCK_PID=$!
  for _ in $(seq 100); do grep -q listening "$WORK/mock.out" 2>/dev/null && break; sleep 0.05; done
  export DEEPIDV_BASE_URL; DEEPIDV_BASE_URL="$(sed -n 's/^listening on //p' "$WORK/mock.out")"
  export DEEPIDV_API_KEY=sk_test_deepidv_sandbox
}
stop_mock() { kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; }

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.0f}')" "$@"; }

# 1. SQLite, one process: people/s, and peak RSS (GNU time's %M, in KiB); beside it, in the same
#    run, the outside baseline: the same people screened by the async client alone, with no store
#    (benches/screen_many.rs, at batch's default concurrency of 256).
cargo bench -q --locked -p deepidv-benches --bench screen_many --no-run >&2
for n in "$N" 10000; do
  people "$n" "$WORK/p$n.csv"
  start_mock
  cargo bench -q --locked -p deepidv-benches --bench screen_many -- "$n" | grep '^RESULT'
  stop_mock
  start_mock
  t0=$(now)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" batch run --input "$WORK/p$n.csv" --state "$WORK/s$n.db" >/dev/null
  t1=$(now)
  stop_mock
  echo "RESULT sqlite_people_per_s_$n $(rate "$n" "$t0" "$t1") people/s"
  echo "RESULT peak_rss_$n $(( $(cat "$WORK/rss") / 1024 )) MB"
done

# 2. Resume after kill -9 at 50,000 people: time from the restart to the first new creation
#    (here: to the end of the rows, i.e. the time the restart spends before working).
RES=$(( N < 100000 ? N : 100000 ))
people "$RES" "$WORK/r.csv"
start_mock
"$BIN" batch run --input "$WORK/r.csv" --state "$WORK/r.db" >/dev/null &
RUN=$!
while :; do
  done_n=$("$BIN" batch status -o json --state "$WORK/r.db" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["ready"])' 2>/dev/null || echo 0)
  (( done_n >= RES / 2 )) && break
  sleep 0.2
done
kill -9 "$RUN"; wait "$RUN" 2>/dev/null || true
t0=$(now)
"$BIN" batch run --input "$WORK/r.csv" --state "$WORK/r.db" --concurrency 1 >/dev/null &
RUN=$!
# the first person finished by the new process
before=$done_n
while :; do
  n_now=$("$BIN" batch status -o json --state "$WORK/r.db" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["ready"])' 2>/dev/null || echo 0)
  (( n_now > before )) && break
  sleep 0.01
done
t1=$(now)
kill "$RUN" 2>/dev/null; wait "$RUN" 2>/dev/null || true
stop_mock
echo "RESULT resume_after_kill9_at_$((RES / 2)) $(python3 -c "print(f'{$t1 - $t0:.2f}')") s"

# 3. PostgreSQL, 1 and 4 workers.
if command -v pg_virtualenv >/dev/null 2>&1; then
  people "$N" "$WORK/pg.csv"
  export BIN WORK N
  # shellcheck disable=SC2016
  pg_virtualenv bash -c '
    set -euo pipefail
    url="host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD dbname=postgres"
    for workers in 1 4; do
      PGOPTIONS="-c client_min_messages=warning" psql -q -c "DROP TABLE IF EXISTS deepidv_batch_person, deepidv_batch_meta"
      "$BIN" mock --addr 127.0.0.1:0 --pending 0ms --processing 0ms --ttl 1h > "$WORK/pgmock.out" &
      mock=$!
      for _ in $(seq 100); do grep -q listening "$WORK/pgmock.out" 2>/dev/null && break; sleep 0.05; done
      export DEEPIDV_BASE_URL; DEEPIDV_BASE_URL="$(sed -n "s/^listening on //p" "$WORK/pgmock.out")"
      export DEEPIDV_API_KEY=sk_test_deepidv_sandbox
      t0=$(date +%s.%N)
      pids=()
      for _ in $(seq "$workers"); do
        "$BIN" batch run --input "$WORK/pg.csv" --database "$url" >/dev/null & pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p"; done
      t1=$(date +%s.%N)
      kill "$mock"; wait "$mock" 2>/dev/null || true
      echo "RESULT postgres_${workers}_workers_people_per_s_$N $(python3 -c "print(f\"{$N / ($t1 - $t0):.0f}\")") people/s"
    done
  '
else
  echo "skipped: PostgreSQL benches (pg_virtualenv not installed)"
fi
