# unetpipe: one non-recursive Makefile.
# Targets: all check install demo bench lint clean (and unit, deps).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
PKGS    := netpbm jansson openblas libpng
OPT     ?= -O3 -march=native
CFLAGS  ?= $(OPT) -g
WARN    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -Wall -Wextra -Werror
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN) -Icommon $(PKG_CFLAGS) -pthread
LDLIBS  := $(PKG_LIBS) -lm -pthread

# SANITIZE=1 builds everything with AddressSanitizer and UBSan.
ifeq ($(SANITIZE),1)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

FILTERS  := $(basename $(notdir $(wildcard filters/*.c)))
BINS     := $(addprefix bin/,$(FILTERS))
PIPES    := $(wildcard pipelines/*)
COMMON   := $(wildcard common/*.c)
COMMON_O := $(COMMON:%.c=build/%.o)
UNITS    := $(basename $(notdir $(wildcard tests/unit/test_*.c)))
UNIT_BIN := $(addprefix build/tests/,$(UNITS))
MAN1     := $(wildcard man/*.1)
MAN5     := $(wildcard man/*.5)
MAN7     := $(wildcard man/*.7)

all: $(BINS) $(UNIT_BIN)

build/common/%.o: common/%.c $(wildcard common/*.h) | build/common
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/filters/%.o: filters/%.c $(wildcard common/*.h) | build/filters
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/libunetpipe.a: $(COMMON_O)
	rm -f $@
	ar rcs $@ $^

bin/%: build/filters/%.o build/libunetpipe.a | bin
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libunetpipe.a $(LDLIBS)

build/tests/%: tests/unit/%.c tests/unit/tap.h build/libunetpipe.a | build/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< build/libunetpipe.a $(LDLIBS)

bin build/common build/filters build/tests:
	mkdir -p $@

deps:
	scripts/install-deps build

# The test command of the README: unit tests, then every bats file.
check:
	scripts/install-deps test
	$(MAKE) all
	tests/run

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(PIPES) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7

demo:
	scripts/install-deps build
	$(MAKE) all
	scripts/demo

bench:
	scripts/install-deps bench
	$(MAKE) all
	bench/run

lint:
	mandoc -T lint -W warning $(MAN1) $(MAN5) $(MAN7)
	bash -n $(PIPES) scripts/* tests/run

clean:
	rm -rf bin build

.PHONY: all deps check install demo bench lint clean
.SECONDARY:
