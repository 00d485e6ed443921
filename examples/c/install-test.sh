#!/usr/bin/env bash
# The C library as a C user gets it: `make install` into temporary prefixes, then examples/c built from
# there with nothing but pkg-config, and run against the simulator.
#   shared: make install PREFIX=$P                     cc ... $(pkg-config --cflags --libs deepidv)
#   static: make install DESTDIR=$S LIBRARY_TYPES=static   cc ... $(pkg-config --static --cflags --libs deepidv)
#           (a staged install: PKG_CONFIG_SYSROOT_DIR=$S, as a cross or package build would use it)
# Checks the installed files, the SONAME (readelf -d), that a program records it as NEEDED, that the
# header's DEEPIDV_VERSION equals deepidv_version(), and `make uninstall`.
# DEEPIDV_INSTALL_PREFIX=dir: do the shared install there and keep it (scripts/test hands it to the Go test).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
CARGO_FLAGS=${CARGO_FLAGS:---locked}
export CARGO_FLAGS
command -v pkg-config >/dev/null || { echo "pkg-config is not installed: apt-get install -y pkg-config" >&2; exit 1; }
command -v readelf >/dev/null || { echo "readelf is not installed: apt-get install -y binutils" >&2; exit 1; }

WORK="$(mktemp -d)"
MOCK_PID=""
cleanup() {
    if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
PREFIX="${DEEPIDV_INSTALL_PREFIX:-$WORK/prefix}"
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
STAGE="$WORK/stage"
FAILED=0
fail() { echo "!! $*" >&2; FAILED=$((FAILED + 1)); }
check() { # description, command...
    local what="$1"; shift
    if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

echo "== make (release build) and the simulator"
make -B -s -C "$ROOT" CARGO_FLAGS="$CARGO_FLAGS" # -B: let cargo decide what is stale
(cd "$ROOT" && cargo build $CARGO_FLAGS -p deepidv-mock)
VERSION="$(cd "$ROOT" && cargo pkgid -p deepidv-ffi | sed 's/.*[#@]//')"
XYZ="${VERSION%%[-+]*}"
MAJOR="${XYZ%%.*}"

echo "== make install PREFIX=$PREFIX (without cargo on PATH, as \`sudo make install\` after \`make\`)"
env PATH=/usr/local/bin:/usr/bin:/bin CARGO=/nonexistent/cargo make -s -C "$ROOT" install PREFIX="$PREFIX" >/dev/null
for f in "lib/libdeepidv.so.$XYZ" lib/libdeepidv.a include/deepidv.h lib/pkgconfig/deepidv.pc; do
    check "installed $f" test -f "$PREFIX/$f"
done
check "libdeepidv.so.$MAJOR -> libdeepidv.so.$XYZ" \
    test "$(readlink "$PREFIX/lib/libdeepidv.so.$MAJOR")" = "libdeepidv.so.$XYZ"
check "libdeepidv.so -> libdeepidv.so.$MAJOR" test "$(readlink "$PREFIX/lib/libdeepidv.so")" = "libdeepidv.so.$MAJOR"
soname="$(readelf -d "$PREFIX/lib/libdeepidv.so.$XYZ" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
check "readelf -d: SONAME libdeepidv.so.$MAJOR (got '$soname')" test "$soname" = "libdeepidv.so.$MAJOR"

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
check "pkg-config --modversion deepidv = $VERSION" test "$(pkg-config --modversion deepidv)" = "$VERSION"
SHARED_FLAGS="$(pkg-config --cflags --libs deepidv)"
STATIC_FLAGS_PREFIX="$(pkg-config --static --cflags --libs deepidv)"
check "pkg-config --static adds the native libraries" \
    test "$STATIC_FLAGS_PREFIX" != "$SHARED_FLAGS"
echo "shared: cc prog.c $SHARED_FLAGS"

echo "== make install DESTDIR=$STAGE PREFIX=/usr/local LIBRARY_TYPES=static"
make -s -C "$ROOT" install DESTDIR="$STAGE" PREFIX=/usr/local LIBRARY_TYPES=static >/dev/null
check "staged libdeepidv.a, header and .pc under DESTDIR" test -f "$STAGE/usr/local/lib/libdeepidv.a" \
    -a -f "$STAGE/usr/local/include/deepidv.h" -a -f "$STAGE/usr/local/lib/pkgconfig/deepidv.pc"
check "LIBRARY_TYPES=static installs no shared library" \
    test -z "$(find "$STAGE" -name 'libdeepidv.so*')"
check "deepidv.pc names the real prefix, not DESTDIR" \
    grep -qx 'prefix=/usr/local' "$STAGE/usr/local/lib/pkgconfig/deepidv.pc"
STATIC_FLAGS="$(PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$STAGE/usr/local/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$STAGE" \
    pkg-config --static --cflags --libs deepidv)"
echo "static: cc prog.c $STATIC_FLAGS"

CFLAGS="-O1 -g -std=c11 -Wall -Wextra -Werror -Wno-unused-function"
mkdir -p "$WORK/shared" "$WORK/static"
echo "== building examples/c from the installs (nothing but pkg-config's flags)"
for p in wait custom_loop test_ffi; do
    # shellcheck disable=SC2086 # the flags are words
    cc $CFLAGS -o "$WORK/shared/$p" "$HERE/$p.c" $SHARED_FLAGS
    # shellcheck disable=SC2086
    cc $CFLAGS -o "$WORK/static/$p" "$HERE/$p.c" $STATIC_FLAGS
done
# The header's compile-time version equals the library's run-time version (both installs).
cat >"$WORK/version.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <deepidv.h>
#if !defined(DEEPIDV_VERSION_MAJOR) || !defined(DEEPIDV_VERSION_MINOR) || !defined(DEEPIDV_VERSION_PATCH)
#error "deepidv.h lacks the version macros"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
int main(void) {
    const char *numbers = STR(DEEPIDV_VERSION_MAJOR) "." STR(DEEPIDV_VERSION_MINOR) "." STR(DEEPIDV_VERSION_PATCH);
    if (strcmp(deepidv_version(), DEEPIDV_VERSION) != 0) {
        fprintf(stderr, "deepidv_version() %s != DEEPIDV_VERSION %s\n", deepidv_version(), DEEPIDV_VERSION);
        return 1;
    }
    if (strncmp(DEEPIDV_VERSION, numbers, strlen(numbers)) != 0) {
        fprintf(stderr, "DEEPIDV_VERSION %s does not start with %s\n", DEEPIDV_VERSION, numbers);
        return 1;
    }
    printf("%s\n", deepidv_version());
    return 0;
}
EOF
# shellcheck disable=SC2086
cc $CFLAGS -o "$WORK/shared/version" "$WORK/version.c" $SHARED_FLAGS
# shellcheck disable=SC2086
cc $CFLAGS -o "$WORK/static/version" "$WORK/version.c" $STATIC_FLAGS

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(libdeepidv[^]]*\)\]/\1/p'; }
check "a shared build records NEEDED libdeepidv.so.$MAJOR" test "$(needed "$WORK/shared/wait")" = "libdeepidv.so.$MAJOR"
check "a static build needs no libdeepidv.so" test -z "$(needed "$WORK/static/wait")"

echo "== starting the simulator"
"$TARGET_DIR/debug/deepidv-mock" --addr 127.0.0.1:0 --pending 100ms --processing 200ms >"$WORK/mock.out" 2>"$WORK/mock.err" &
MOCK_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL="$(sed -n 's/^listening on //p' "$WORK/mock.out" | head -n1)"
    [ -n "$URL" ] && break
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.err" >&2; echo "simulator exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "simulator did not say where it listens" >&2; exit 1; }
echo "simulator at $URL"

runs() { # kind (shared|static), program, args...
    local kind="$1" prog="$2"; shift 2
    local log="$WORK/$kind-$prog.log"
    if env LD_LIBRARY_PATH="$PREFIX/lib" DEEPIDV_API_KEY=sk_test_deepidv_sandbox DEEPIDV_BASE_URL="$URL" \
        "$WORK/$kind/$prog" "$@" >"$log" 2>&1; then
        echo "ok: $kind $prog: $(tail -n1 "$log" | cut -c1-160)"
    else
        cat "$log" >&2
        fail "$kind $prog"
    fi
}
for kind in shared static; do
    runs "$kind" version
    runs "$kind" wait
    runs "$kind" custom_loop "$URL"
    runs "$kind" test_ffi "$URL"
done

echo "== make uninstall (the staged install)"
make -s -C "$ROOT" uninstall DESTDIR="$STAGE" PREFIX=/usr/local >/dev/null
check "make uninstall removes every file" test -z "$(find "$STAGE" -type f -o -type l)"

echo "install tests: $FAILED failed"
[ "$FAILED" -eq 0 ]
