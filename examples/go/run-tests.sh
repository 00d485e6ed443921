#!/usr/bin/env bash
# Builds libdeepidv (release) and the simulator, then runs the Go package's tests against it:
# no network (GOPROXY=off, GOFLAGS=-mod=mod, no third-party modules), GODEBUG=cgocheck=2.
# Needs Go >= 1.19 (Debian: apt-get install -y golang-go).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
CARGO_FLAGS=${CARGO_FLAGS:-}

command -v go >/dev/null || { echo "go is not installed: apt-get install -y golang-go" >&2; exit 1; }
echo "== building libdeepidv (release) and deepidv-mock"
(cd "$ROOT" && cargo build $CARGO_FLAGS -p deepidv-ffi --release && cargo build $CARGO_FLAGS -p deepidv-mock)

# The package links ${SRCDIR}/../../target/release/libdeepidv.a; with another target dir, point cgo at it.
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
