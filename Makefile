# unetpipe: one non-recursive Makefile.
# Targets: all check deps install demo bench recipes lint clean, fuzz;
# NATIVE=1 builds for this machine's CPU only (see OPT below).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
PKGS    := netpbm jansson openblas libpng libtiff-4 libjpeg

# The build is portable: the binaries run on any CPU of the compiler's
# target (any x86-64), and the vector kernels of the network
# (common/convdirect_isa.c) are compiled once per instruction set, AVX-512
# and AVX2 with FMA, into every binary, which picks the best its CPU runs
# at start (common/isa.c; UNETPIPE_ISA=avx512|avx2|plain forces one). The
# rest is plain C that GCC vectorises for the baseline; -std=c11 keeps
# multiply-adds unfused, so it computes the same bits whatever -march.
# NATIVE=1 builds everything for this machine's CPU (-march=native): the
# binaries may then not run on another CPU. OPT overrides both.
ifeq ($(NATIVE),1)
OPT     ?= -O3 -march=native
else
OPT     ?= -O3
endif
CFLAGS  ?= $(OPT) -g
WARN    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -Wall -Wextra -Werror

# OpenBLAS: Debian's serial build (libopenblas-serial-dev), through its own
# pkg-config file and an rpath to its folder, since every build of it is
# libopenblas.so.0 and the system's default is the pthread one. Our threads
# do the parallel work (common/nn.c, which also makes the serial build safe
# to call from several threads at once); the pthread build would start
# threads of its own when loaded, before main, and under a tight
# `ulimit -v` that fails with messages of its own and exit status 130.
# Without the serial build, the default `openblas` is used (correct, minus
# that).
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BLAS_PC   ?= $(wildcard /usr/lib/$(MULTIARCH)/openblas-serial/pkgconfig)
PKG_CONFIG := PKG_CONFIG_PATH=$(BLAS_PC)$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH} pkg-config
ifneq ($(BLAS_PC),)
BLAS_RPATH := -Wl,-rpath,$(shell $(PKG_CONFIG) --variable=libdir openblas)
else
$(warning libopenblas-serial-dev missing (scripts/install-deps build): using the default OpenBLAS)
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(BLAS_RPATH)
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN) -Icommon $(PKG_CFLAGS) -pthread
LDLIBS  := $(PKG_LIBS) -lm -pthread

# Open MPI (training on several processes, see unet-train(1)): optional.
# On when pkg-config's ompi-c or `mpicc --showme` finds it (make deps
# installs it), off otherwise, or with MPI=0; only common/dist.c and the
# programs that use it (unet-train) are built and linked with it.
ifneq ($(MPI),0)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null)
endif
ifneq ($(strip $(MPI_LIBS)),)
MPI_DEFS   := -DUNETPIPE_MPI
ifeq ($(MAKELEVEL),0)
$(info MPI: Open MPI found, unet-train trains on several processes under mpirun)
endif
else
ifeq ($(MAKELEVEL),0)
$(info MPI: off ($(if $(filter 0,$(MPI)),MPI=0,Open MPI not found: make deps installs it)), unet-train is built for one process)
endif
endif

# SANITIZE=1 builds everything with AddressSanitizer and UBSan into
# build-san/ and bin-san/ (never mixed with the normal build), and
# `make check SANITIZE=1` (or `make check-sanitize`) runs the whole suite
# against those binaries. A sanitizer report exits 99, never a status a
# test expects. LeakSanitizer runs on the unit tests and on the filters'
# successful runs (hostile.bats, UNETPIPE_SANITIZED): a filter that dies
# with one line leaves its memory to exit(), that is no leak. Leaks inside
# libnetpbm/libopenblas are suppressed (tests/lsan.supp).
ifeq ($(SANITIZE),1)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BUILD := build-san
BIN := bin-san
else
BUILD := build
BIN := bin
endif
SAN_ENV := ASAN_OPTIONS=exitcode=99:detect_leaks=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99 \
	UNETPIPE_SANITIZED=1

# The per-ISA kernels, x86-64 only (elsewhere the one path is plain):
# convdirect_isa.c and winograd_isa.c compiled as
# build/common/convdirect-ISA.o and build/common/winograd-ISA.o with the
# flags of ISA appended after OPT (so that they win over a -march), the
# AVX2 one without AVX-512 even under NATIVE=1; winograd_isa.c once more
# as winograd-avx512bf16.o, the bf16 forward (used only where isa_bf16()).
X86_64   := $(filter x86_64-%,$(shell $(CC) -dumpmachine))
ISAS     := $(if $(X86_64),avx512 avx2)
ISA_FLAGS_avx512 := -mavx512f -mavx2 -mfma
ISA_FLAGS_avx2   := -mavx2 -mfma -mno-avx512f
ISA_FLAGS_avx512bf16 := $(ISA_FLAGS_avx512) -mavx512bf16
KERNELS  := common/convdirect_isa.c common/winograd_isa.c
KERNEL_O  = $(foreach k,convdirect winograd,$(ISAS:%=$(1)/common/$(k)-%.o)) \
	$(if $(X86_64),$(1)/common/winograd-avx512bf16.o)

FILTERS  := $(basename $(notdir $(wildcard filters/*.c)))
BINS     := $(addprefix $(BIN)/,$(FILTERS))
PIPES    := $(wildcard pipelines/*)
COMMON   := $(filter-out $(KERNELS),$(wildcard common/*.c))
COMMON_O := $(COMMON:%.c=$(BUILD)/%.o) $(call KERNEL_O,$(BUILD))
UNITS    := $(basename $(notdir $(wildcard tests/unit/test_*.c)))
UNIT_BIN := $(addprefix $(BUILD)/tests/,$(UNITS))
MAN1     := $(wildcard man/*.1)
MAN5     := $(wildcard man/*.5)
MAN7     := $(wildcard man/*.7)

all: $(BINS) $(UNIT_BIN)

# $(BUILD)/cflags holds the flags of the objects in $(BUILD), rewritten
# when they change (make NATIVE=1 after make): every object is then
# rebuilt, never a binary of objects from two builds. $(BUILD)/mpiflags
# does the same for MPI's flags (make MPI=0 after make): common/dist.c and
# unet-train.
CFLAGS_STAMP := $(BUILD)/cflags
$(shell mkdir -p $(BUILD) && echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $(CFLAGS_STAMP) || \
	echo '$(CC) $(ALL_CFLAGS)' >$(CFLAGS_STAMP))

$(BUILD)/common/%.o: common/%.c $(wildcard common/*.h) $(CFLAGS_STAMP) | $(BUILD)/common
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

MPI_STAMP := $(BUILD)/mpiflags
$(shell echo '$(MPI_CFLAGS) $(MPI_DEFS) $(MPI_LIBS)' | cmp -s - $(MPI_STAMP) || \
	echo '$(MPI_CFLAGS) $(MPI_DEFS) $(MPI_LIBS)' >$(MPI_STAMP))
$(BUILD)/common/dist.o: ALL_CFLAGS += $(MPI_CFLAGS) $(MPI_DEFS)
$(BUILD)/common/dist.o $(BIN)/unet-train: $(MPI_STAMP)
$(BIN)/unet-train: LDLIBS += $(MPI_LIBS)

$(BUILD)/common/convdirect-%.o: common/convdirect_isa.c $(wildcard common/*.h) $(CFLAGS_STAMP) | $(BUILD)/common
	$(CC) $(ALL_CFLAGS) $(ISA_FLAGS_$*) -DCONVDIRECT_OPS=convdirect_$* -c -o $@ $<

$(BUILD)/common/winograd-%.o: common/winograd_isa.c $(wildcard common/*.h) $(CFLAGS_STAMP) | $(BUILD)/common
	$(CC) $(ALL_CFLAGS) $(ISA_FLAGS_$*) -DWINOGRAD_OPS=winograd_$* -c -o $@ $<

$(BUILD)/filters/%.o: filters/%.c $(wildcard common/*.h) $(CFLAGS_STAMP) | $(BUILD)/filters
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libunetpipe.a: $(COMMON_O)
	rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/filters/%.o $(BUILD)/libunetpipe.a | $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libunetpipe.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libunetpipe.a | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libunetpipe.a $(LDLIBS)

# Helpers of `make bench` (bench/run builds them): bench/NAME.c -> build/bench/NAME.
$(BUILD)/bench/%: bench/%.c $(BUILD)/libunetpipe.a | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libunetpipe.a $(LDLIBS)

# fma-peak measures this machine's ceiling: its widest vectors.
$(BUILD)/bench/fma-peak: ALL_CFLAGS += -march=native

$(BIN) $(BUILD)/common $(BUILD)/filters $(BUILD)/tests $(BUILD)/bench:
	mkdir -p $@

# Installing packages is `make deps` alone: the Debian packages of the
# build and the tests (scripts/install-deps test: apt-get, as root or with
# sudo). demo, bench and recipes also install what they need when
# something is missing; check never does.
deps:
	scripts/install-deps test

# The test command of the README: unit tests, then every bats file; a
# missing package stops it at once with one line naming `make deps`.
# With SANITIZE=1 the same suite runs on the sanitized build (tests/run
# takes the binaries from UNETPIPE_BIN and the unit tests from
# UNETPIPE_BUILD).
check:
	@scripts/install-deps --check test
	$(MAKE) all
ifeq ($(SANITIZE),1)
	$(SAN_ENV) UNETPIPE_BIN=$(CURDIR)/$(BIN) UNETPIPE_BUILD=$(BUILD) tests/run
else
	tests/run
endif

check-sanitize:
	$(MAKE) check SANITIZE=1

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

# The training recipes on the full data set beside the clone (about an
# hour on 2 Zen 5 cores): see bench/README.md.
recipes:
	scripts/install-deps build
	$(MAKE) all
	bench/recipes

lint:
	mandoc -T lint -W warning $(MAN1) $(MAN5) $(MAN7)
	bash -n $(PIPES) scripts/* tests/run bench/run bench/recipes bench/workers bench/mpi

# libFuzzer harnesses (fuzz/fuzz_*.c, see fuzz/README.md), built with
# clang into build-fuzz/ with ASan and UBSan; `make fuzz` runs each for
# FUZZ_SECONDS on the seeds of fuzz/corpus/NAME (and the crash inputs of
# fuzz/regressions/NAME), `make fuzz-regress` replays only those inputs.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  = $(WARN) -Wno-unknown-attributes -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
	-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-Icommon $(PKG_CFLAGS) -pthread
FUZZERS  := $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
FUZZ_BIN := $(addprefix build-fuzz/,$(FUZZERS))
FUZZ_O   := $(COMMON:%.c=build-fuzz/%.o) $(call KERNEL_O,build-fuzz)

build-fuzz/common/%.o: common/%.c $(wildcard common/*.h) Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# The kernels without UBSan: its checks over their unrolled vector loops
# take clang 14 a quarter of an hour and more; the fuzzers never reach the
# network.
build-fuzz/common/convdirect-%.o: common/convdirect_isa.c $(wildcard common/*.h) Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ISA_FLAGS_$*) -DCONVDIRECT_OPS=convdirect_$* \
		-fno-sanitize=undefined -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/common/winograd-%.o: common/winograd_isa.c $(wildcard common/*.h) Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ISA_FLAGS_$*) -DWINOGRAD_OPS=winograd_$* \
		-fno-sanitize=undefined -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/libunetpipe.a: $(FUZZ_O)
	rm -f $@
	ar rcs $@ $^

build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h build-fuzz/libunetpipe.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Wl,--wrap=exit -o $@ $< \
		build-fuzz/libunetpipe.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz-deps:
	scripts/install-deps fuzz

fuzz: fuzz-deps $(FUZZ_BIN)
	fuzz/run $(FUZZ_SECONDS) $(FUZZERS)

fuzz-regress: $(FUZZ_BIN)
	fuzz/run 0 $(FUZZERS)

clean:
	rm -rf bin build bin-san build-san build-fuzz

.PHONY: all deps check check-sanitize install demo bench recipes lint clean \
	fuzz fuzz-build fuzz-deps fuzz-regress
.SECONDARY:
