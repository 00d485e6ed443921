#!/usr/bin/env bash
# Builds libdeepidv (release) and the simulator, then runs the Go module's tests against it, and builds and
# runs examples/go (a program using the module through a replace directive):
# no network (GOPROXY=off, GOFLAGS=-mod=mod, no third-party modules), GODEBUG=cgocheck=2.
# Needs Go >= 1.19 (Debian: apt-get install -y golang-go).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
CARGO_FLAGS=${CARGO_FLAGS:-}

command -v go >/dev/null || { echo "go is not installed: apt-get install -y golang-go" >&2; exit 1; }
echo "== building libdeepidv (release) and deepidv-mock"
(cd "$ROOT" && cargo build $CARGO_FLAGS -p deepidv-ffi --release && cargo build $CARGO_FLAGS -p deepidv-mock)

# The package links ${SRCDIR}/../target/release/libdeepidv.a; with another target dir, point cgo at it.
if [ "$TARGET_DIR" != "$ROOT/target" ]; then
    export CGO_LDFLAGS="$TARGET_DIR/release/libdeepidv.a -lpthread -ldl -lm"
fi
export DEEPIDV_MOCK_BIN="$TARGET_DIR/debug/deepidv-mock"
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GODEBUG=cgocheck=2 CGO_ENABLED=1
cd "$HERE"
echo "== go vet"
go vet ./...
echo "== go test (GODEBUG=$GODEBUG)"
go test -count=1 -v ./...
echo "== go test -race"
go test -count=1 -race ./...
echo "== examples/go (uses the module through replace => ../../go), against the simulator"
cd "$ROOT/examples/go"
go vet ./...
go build -o "$TARGET_DIR/go-example" .
LOG="$(mktemp)"
"$DEEPIDV_MOCK_BIN" --addr 127.0.0.1:0 --pending 100ms --processing 100ms >"$LOG" &
MOCK_PID=$!
trap 'kill $MOCK_PID 2>/dev/null || true; rm -f "$LOG"' EXIT
URL=""
for _ in $(seq 1 100); do
    URL="$(sed -n 's/^listening on //p' "$LOG" | head -n1)"
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { echo "the simulator did not say where it listens" >&2; exit 1; }
out="$(DEEPIDV_API_KEY=sk_test_deepidv_sandbox DEEPIDV_BASE_URL="$URL" "$TARGET_DIR/go-example")"
echo "$out"
case "$out" in "ready job_"*'"riskLevel":"LOW"'*) ;; *) echo "examples/go did not print a ready LOW-risk job" >&2; exit 1 ;; esac
