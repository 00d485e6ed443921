#!/usr/bin/env bash
# Builds libdeepidv (release) and the simulator, starts the simulator on a free port (and a TLS one with a CA made
# at start-up, --tls-self-signed), then runs the C
# tests twice: compiled with ASan+UBSan (leak detection on), and a plain build under valgrind. Also runs
# the two examples. (Linking from an installed prefix with pkg-config: install-test.sh.) Exits non-zero on any
# failure; the last line is "C tests: N passed, M failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
LIB="$TARGET_DIR/release/libdeepidv.a"
MOCK_BIN="$TARGET_DIR/debug/deepidv-mock"
CARGO_FLAGS=${CARGO_FLAGS:-}

echo "== building libdeepidv (release) and deepidv-mock"
# (through the root Makefile: the same cargo command as `make install`, so the two never rebuild each other)
make -B -s -C "$ROOT" CARGO_FLAGS="$CARGO_FLAGS"
(cd "$ROOT" && cargo build $CARGO_FLAGS -p deepidv-mock)

WORK="$(mktemp -d)"
MOCK_PID=""
TLS_MOCK_PID=""
cleanup() {
    for pid in $MOCK_PID $TLS_MOCK_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting the simulator"
"$MOCK_BIN" --addr 127.0.0.1:0 --pending 100ms --processing 200ms >"$WORK/mock.out" 2>"$WORK/mock.err" &
MOCK_PID=$!
URL=""
for _ in $(seq 1 100); do
    if [ -s "$WORK/mock.out" ]; then
        URL="$(head -n1 "$WORK/mock.out" | sed -n 's/^listening on //p')"
        [ -n "$URL" ] && break
    fi
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.err" >&2; echo "simulator exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "simulator did not say where it listens" >&2; exit 1; }
echo "simulator at $URL"

echo "== starting a TLS simulator with a CA made now (--tls-self-signed)"
"$MOCK_BIN" --addr 127.0.0.1:0 --tls-self-signed "$WORK/pki" >"$WORK/tls-mock.out" 2>"$WORK/tls-mock.err" &
TLS_MOCK_PID=$!
TLS_URL=""
for _ in $(seq 1 100); do
    TLS_URL="$(head -n1 "$WORK/tls-mock.out" 2>/dev/null | sed -n 's/^listening on //p')"
    [ -n "$TLS_URL" ] && break
    kill -0 "$TLS_MOCK_PID" 2>/dev/null || { cat "$WORK/tls-mock.err" >&2; echo "TLS simulator exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$TLS_URL" ] || { echo "the TLS simulator did not say where it listens" >&2; exit 1; }
TLS_CA="$WORK/pki/ca.pem"
echo "TLS simulator at $TLS_URL, its CA in $TLS_CA"

TOTAL_PASSED=0
TOTAL_FAILED=0
count() { # adds the "C tests: N passed, M failed" line of a log to the totals
    local line p f
    line="$(grep -E '^C tests: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n1 || true)"
    p="$(echo "$line" | sed -n 's/^C tests: \([0-9]*\) passed.*/\1/p')"
    f="$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')"
    TOTAL_PASSED=$((TOTAL_PASSED + ${p:-0}))
    TOTAL_FAILED=$((TOTAL_FAILED + ${f:-1}))
}
STATUS=0
run() { # name, command...: runs, keeps going on failure, remembers it
    local name="$1"; shift
    echo "== $name"
    if "$@" >"$WORK/$name.log" 2>&1; then
        tail -n 12 "$WORK/$name.log" | cut -c1-300
    else
        cat "$WORK/$name.log"
        echo "!! $name failed" >&2
        STATUS=1
    fi
}

echo "== compiling with -fsanitize=address,undefined"
make -s -C "$HERE" LIB="$LIB" SANITIZE=1 BUILD=build/asan
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$HERE/lsan.supp:print_suppressions=0"
run asan-test_ffi "$HERE/build/asan/test_ffi" "$URL" "$TLS_URL" "$TLS_CA"
count "$WORK/asan-test_ffi.log"
run asan-custom_loop "$HERE/build/asan/custom_loop" "$URL"
run asan-wait env DEEPIDV_API_KEY=sk_test_deepidv_sandbox DEEPIDV_BASE_URL="$URL" "$HERE/build/asan/wait"
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

echo "== compiling without sanitizers"
make -s -C "$HERE" LIB="$LIB" BUILD=build/plain
if command -v valgrind >/dev/null; then
    run valgrind-test_ffi valgrind -q --error-exitcode=1 --leak-check=full \
        --suppressions="$HERE/valgrind.supp" "$HERE/build/plain/test_ffi" "$URL" "$TLS_URL" "$TLS_CA"
    count "$WORK/valgrind-test_ffi.log"
    run valgrind-custom_loop valgrind -q --error-exitcode=1 --leak-check=full \
        --suppressions="$HERE/valgrind.supp" "$HERE/build/plain/custom_loop" "$URL"
else
    echo "!! valgrind is not installed (apt-get install -y valgrind)" >&2
    STATUS=1
fi

if [ "$STATUS" -ne 0 ] && [ "$TOTAL_FAILED" -eq 0 ]; then TOTAL_FAILED=1; fi
echo "C tests: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$STATUS" -eq 0 ] && [ "$TOTAL_FAILED" -eq 0 ]
