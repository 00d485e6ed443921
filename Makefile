# libdeepidv, the C library of the deepidv SDK, built and installed the way C libraries are:
#
#   make                                  # release build: libdeepidv.so, libdeepidv.a (needs cargo)
#   sudo make install PREFIX=/usr/local   # lib/libdeepidv.so.X.Y.Z (+ .so.X, .so links), lib/libdeepidv.a,
#                                         # include/deepidv.h, lib/pkgconfig/deepidv.pc
#   cc prog.c $(pkg-config --cflags --libs deepidv)
#
# Variables: PREFIX (/usr/local), LIBDIR ($(PREFIX)/lib), INCLUDEDIR ($(PREFIX)/include), PKGCONFIGDIR
# ($(LIBDIR)/pkgconfig), DESTDIR (staging root, prepended to every installed path but not written into
# deepidv.pc), LIBRARY_TYPES ("shared static"; "static" installs no .so, so -ldeepidv links the .a),
# CARGO, CARGO_FLAGS (--locked), CARGO_TARGET_DIR (target). Linux only (the SONAME is an ELF feature).
# This is what cargo-c's `cargo cinstall` does; cargo-c itself is not used because installing it builds
# cargo (about 470 crates, with OpenSSL, libcurl and libgit2) -- too much for a CI run on 2 cores.

PREFIX        ?= /usr/local
LIBDIR        ?= $(PREFIX)/lib
INCLUDEDIR    ?= $(PREFIX)/include
PKGCONFIGDIR  ?= $(LIBDIR)/pkgconfig
DESTDIR       ?=
LIBRARY_TYPES ?= shared static
CARGO         ?= cargo
CARGO_FLAGS   ?= --locked
INSTALL       ?= install

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
OUT        := $(TARGET_DIR)/release
# The crate version, read from the header's DEEPIDV_VERSION (which the header test holds to the crate
# version), so that `sudo make install` after `make` needs no cargo. XYZ: without -pre/+build, for file names.
VERSION    := $(shell sed -n 's/^\#define DEEPIDV_VERSION "\(.*\)"/\1/p' include/deepidv.h)
XYZ        := $(firstword $(subst -, ,$(subst +, ,$(VERSION))))
MAJOR      := $(word 1,$(subst ., ,$(XYZ)))
SONAME     := libdeepidv.so.$(MAJOR)
REALNAME   := libdeepidv.so.$(XYZ)
# What rustc says the static library needs, kept from the build so `make install` does not rebuild.
NATIVE     := $(OUT)/deepidv-native-static-libs.txt
# deepidv.pc says ${prefix}/lib rather than the absolute path when it can (relocatable, as usual)
PC_LIBDIR     := $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR := $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
SOURCES    := Cargo.toml Cargo.lock $(shell find crates -name '*.rs' -o -name Cargo.toml)

all: $(NATIVE)

# One cargo invocation builds both libraries (the crate types of Cargo.toml) and prints the native libraries.
$(NATIVE): $(SOURCES)
	@mkdir -p $(OUT)
	@$(CARGO) rustc $(CARGO_FLAGS) -p deepidv-ffi --release -- --print native-static-libs 2>$@.log; \
	  rc=$$?; cat $@.log >&2; [ $$rc -eq 0 ] || exit $$rc; \
	  libs=$$(sed -n 's/^note: native-static-libs: //p' $@.log | tail -n1); \
	  [ -n "$$libs" ] || { echo "rustc printed no native-static-libs" >&2; exit 1; }; \
	  echo "$$libs" >$@

install: $(NATIVE)
	@case "$(VERSION)" in [0-9]*.[0-9]*.[0-9]*) ;; *) echo "cannot read the version: '$(VERSION)'" >&2; exit 1;; esac
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 include/deepidv.h $(DESTDIR)$(INCLUDEDIR)/deepidv.h
ifneq ($(filter shared,$(LIBRARY_TYPES)),)
	$(INSTALL) -m 755 $(OUT)/libdeepidv.so $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdeepidv.so
endif
ifneq ($(filter static,$(LIBRARY_TYPES)),)
	$(INSTALL) -m 644 $(OUT)/libdeepidv.a $(DESTDIR)$(LIBDIR)/libdeepidv.a
endif
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PC_LIBDIR)|' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e "s|@LIBS_PRIVATE@|$$(cat $(NATIVE))|" \
	    -e '/^#/d' crates/deepidv-ffi/deepidv.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/deepidv.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/deepidv.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libdeepidv.so \
	      $(DESTDIR)$(LIBDIR)/libdeepidv.a $(DESTDIR)$(INCLUDEDIR)/deepidv.h $(DESTDIR)$(PKGCONFIGDIR)/deepidv.pc

.PHONY: all install uninstall
