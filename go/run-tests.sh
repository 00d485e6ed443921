#!/usr/bin/env bash
# The Go module's tests, against libdeepidv installed by `make install` (found with pkg-config, as a Go
# user's build finds it): go vet, go test under GODEBUG=cgocheck=2, go test -race, then examples/go (a
# program using the module through a replace directive) built and run against the simulator.
# DEEPIDV_INSTALL_PREFIX=dir: use the install there (scripts/test passes the one examples/c/install-test.sh
# made); otherwise this runs `make install` into a temporary prefix itself.
# No network: GOPROXY=off, GOFLAGS=-mod=mod, no third-party modules. Needs Go >= 1.19 and pkg-config.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
CARGO_FLAGS=${CARGO_FLAGS:---locked}

command -v go >/dev/null || { echo "go is not installed: apt-get install -y golang-go" >&2; exit 1; }
command -v pkg-config >/dev/null || { echo "pkg-config is not installed: apt-get install -y pkg-config" >&2; exit 1; }
WORK="$(mktemp -d)"
MOCK_PID=""
cleanup() {
    if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PREFIX="${DEEPIDV_INSTALL_PREFIX:-}"
if [ -z "$PREFIX" ] || [ ! -f "$PREFIX/lib/pkgconfig/deepidv.pc" ]; then
    PREFIX="${PREFIX:-$WORK/prefix}"
    echo "== make install PREFIX=$PREFIX"
    make -B -s -C "$ROOT" CARGO_FLAGS="$CARGO_FLAGS" install PREFIX="$PREFIX" >/dev/null
fi
echo "== the simulator"
(cd "$ROOT" && cargo build $CARGO_FLAGS -p deepidv-mock)

# What a Go user with libdeepidv in $PREFIX sets (nothing at all for /usr/local after ldconfig). The rpath
# also matters to Go's build cache, which hashes CGO_LDFLAGS but not pkg-config's output: without it, a
# package built against an earlier (now deleted) temporary prefix would be reused and fail to link.
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib"
echo "cgo flags: $(pkg-config --cflags --libs deepidv)"
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
go build -o "$WORK/go-example" .
"$DEEPIDV_MOCK_BIN" --addr 127.0.0.1:0 --pending 100ms --processing 100ms >"$WORK/mock.out" &
MOCK_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL="$(sed -n 's/^listening on //p' "$WORK/mock.out" | head -n1)"
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { echo "the simulator did not say where it listens" >&2; exit 1; }
out="$(DEEPIDV_API_KEY=sk_test_deepidv_sandbox DEEPIDV_BASE_URL="$URL" "$WORK/go-example")"
echo "$out"
echo "$out" | grep -qx "ready job_[0-9a-f]* risk=LOW hits=0" || { echo "examples/go did not print a ready LOW-risk job" >&2; exit 1; }

echo "== examples/go linked statically: a static-only install, CGO_LDFLAGS from pkg-config --static"
make -s -C "$ROOT" CARGO_FLAGS="$CARGO_FLAGS" install PREFIX="$WORK/static" LIBRARY_TYPES=static >/dev/null
CGO_LDFLAGS="$(PKG_CONFIG_PATH="$WORK/static/lib/pkgconfig" pkg-config --static --libs deepidv)" \
    PKG_CONFIG_PATH="$WORK/static/lib/pkgconfig" go build -o "$WORK/go-example-static" .
if readelf -d "$WORK/go-example-static" | grep -q 'NEEDED.*libdeepidv'; then
    echo "the static build needs libdeepidv.so" >&2; exit 1
fi
out="$(DEEPIDV_API_KEY=sk_test_deepidv_sandbox DEEPIDV_BASE_URL="$URL" "$WORK/go-example-static")"
echo "$out"
echo "$out" | grep -qx "ready job_[0-9a-f]* risk=LOW hits=0" || { echo "the static examples/go did not print a ready LOW-risk job" >&2; exit 1; }
echo "Go tests passed"
