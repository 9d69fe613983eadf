# obtrace - one non-recursive build.
#
#   make              build everything into build/
#   make check        build, then run the unit and end-to-end suites
#   make demo         record a sample driver scenario and print its verdict
#   make bench        run the benchmarks (ratios, side by side)
#   make check SANITIZE=address,undefined   the same under sanitizers (build-san/)
#
# Sources are found by wildcard: a new file in framework/, tracer/,
# analyzer/, samples/<name>/, tests/unit/, tests/drivers/ or bench/ is built
# without touching this file.

SHELL := /bin/bash
CC ?= cc
O ?= build$(if $(SANITIZE),-san)

PKGS := libunwind libdw libelf json-c check
HAVE_PKGS := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wpointer-arith -Wvla \
        -Wstrict-prototypes -Wmissing-prototypes -Wno-multichar
BASE_CFLAGS := -std=gnu11 -g -O2 -fno-omit-frame-pointer -fPIC -MMD -MP -D_GNU_SOURCE
SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=undefined)
CFLAGS ?=
LDFLAGS ?=

CPPFLAGS_ALL := -Iinclude -Iinclude/ntsim
CFLAGS_ALL := $(BASE_CFLAGS) $(WARN) $(SAN_FLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SAN_FLAGS) $(LDFLAGS)

# Driver code is written against the WDK: 16-bit L"" literals, no
# missing-prototype warnings for DriverEntry and friends.
# Code whose stacks a trace explains keeps every caller frame: no tail calls,
# so `IoDeleteDevice` as the last statement of DriverUnload still shows
# DriverUnload as its caller.
STACK_CFLAGS := -fno-omit-frame-pointer -fno-optimize-sibling-calls
DRIVER_CFLAGS := $(BASE_CFLAGS) $(STACK_CFLAGS) -fshort-wchar -Wall -Wextra -Werror -Wno-multichar \
                 -Wno-unused-parameter $(SAN_FLAGS) $(CFLAGS)

pkg_cflags = $(shell pkg-config --cflags $(1))
pkg_libs = $(shell pkg-config --libs $(1))

# ---- libntsim ------------------------------------------------------------
# The simulated kernel is libntsim; the scenario runner (scn_*.c) is the
# host side, linked into the ntsim program, so a trace tells kernel frames
# (libntsim.so) from the host's by module.
NTSIM_MAIN := framework/ntsim_main.c $(wildcard framework/scn_*.c)
NTSIM_SRC := $(filter-out $(NTSIM_MAIN),$(wildcard framework/*.c))
NTSIM_OBJ := $(NTSIM_SRC:%.c=$(O)/%.o)
LIBNTSIM := $(O)/lib/libntsim.so
NTSIM_BIN := $(O)/bin/ntsim

$(O)/framework/%.o: framework/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Iframework -fvisibility=hidden -fshort-wchar $(CFLAGS_ALL) $(STACK_CFLAGS) -c $< -o $@

$(LIBNTSIM): $(NTSIM_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ $(LDFLAGS_ALL) -Wl,-soname,libntsim.so -ldl -lpthread

$(NTSIM_BIN): $(NTSIM_MAIN:%.c=$(O)/%.o) $(LIBNTSIM)
	@mkdir -p $(@D)
	$(CC) -o $@ $(NTSIM_MAIN:%.c=$(O)/%.o) $(LDFLAGS_ALL) -L$(O)/lib -lntsim -Wl,-rpath,'$$ORIGIN/../lib' -lpthread

# ---- libobtrace ------------------------------------------------------------
TRACER_REC_SRC := $(wildcard tracer/record*.c)
TRACER_SRC := $(filter-out $(TRACER_REC_SRC),$(wildcard tracer/*.c))
TRACER_OBJ := $(TRACER_SRC:%.c=$(O)/%.o)
LIBOBTRACE := $(O)/lib/libobtrace.so

$(O)/tracer/%.o: tracer/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Itracer -fvisibility=hidden $(call pkg_cflags,libunwind) $(CFLAGS_ALL) -c $< -o $@

$(LIBOBTRACE): $(TRACER_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ $(LDFLAGS_ALL) $(call pkg_libs,libunwind) -ldl -lpthread

# ---- obtrace (analyzer + record) --------------------------------------------
ANALYZER_MAIN := analyzer/main.c
ANALYZER_SRC := $(filter-out $(ANALYZER_MAIN),$(wildcard analyzer/*.c))
# `obtrace check` records through tracer/record*.c: every link of the analyzer takes it.
ANALYZER_OBJ := $(ANALYZER_SRC:%.c=$(O)/%.o) $(TRACER_REC_SRC:%.c=$(O)/%.o)
OBTRACE_BIN := $(O)/bin/obtrace
ANALYZER_LIBS = $(call pkg_libs,libdw libelf json-c) -lpthread

$(O)/analyzer/%.o: analyzer/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Ianalyzer -Itracer $(call pkg_cflags,libdw libelf json-c) $(CFLAGS_ALL) -c $< -o $@

$(OBTRACE_BIN): $(O)/analyzer/main.o $(ANALYZER_OBJ) | $(LIBOBTRACE)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(ANALYZER_LIBS)

# ---- driver images: samples/<name>/<image>.c -> $(O)/samples/<name>/<image>.so
SAMPLE_SRC := $(wildcard samples/*/*.c)
SAMPLE_SO := $(SAMPLE_SRC:%.c=$(O)/%.so)
TEST_DRIVER_SRC := $(wildcard tests/drivers/*.c)
TEST_DRIVER_SO := $(TEST_DRIVER_SRC:%.c=$(O)/%.so)
# Conformance drivers written from the WDK documentation: tests/conformance/<name>/<image>.c
CONFORMANCE_SRC := $(wildcard tests/conformance/*/*.c)
CONFORMANCE_SO := $(CONFORMANCE_SRC:%.c=$(O)/%.so)
# Red-team drivers written blind against the analyzer: tests/redteam/<case>/<image>.c
REDTEAM_SRC := $(filter-out %/host.c,$(wildcard tests/redteam/*/*.c))
REDTEAM_SO := $(REDTEAM_SRC:%.c=$(O)/%.so)
# Red-team host programs (C hosts instead of a scenario): tests/redteam/<case>/host.c
# -> $(O)/tests/redteam/<case>/host, linked with libntsim; their stacks are
# explained like a driver's (frame pointers, no tail calls).
REDTEAM_HOST_SRC := $(wildcard tests/redteam/*/host.c)
REDTEAM_HOST_BIN := $(REDTEAM_HOST_SRC:%.c=$(O)/%)

$(O)/%.so: %.c $(LIBNTSIM)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(DRIVER_CFLAGS) -shared -o $@ $< $(LDFLAGS_ALL) \
	    -L$(O)/lib -lntsim -Wl,-rpath,'$$ORIGIN/../../lib' -Wl,-rpath,'$$ORIGIN/../../../lib'

$(REDTEAM_HOST_BIN): $(O)/%: %.c $(LIBNTSIM)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(STACK_CFLAGS) -fshort-wchar -o $@ $< $(LDFLAGS_ALL) \
	    -L$(O)/lib -lntsim -Wl,-rpath,'$$ORIGIN/../../../lib' -lpthread

# ---- LD_PRELOAD test libraries: tests/preload/<name>.c -> $(O)/tests/preload/<name>.so
PRELOAD_SRC := $(wildcard tests/preload/*.c)
PRELOAD_SO := $(PRELOAD_SRC:%.c=$(O)/%.so)

$(O)/tests/preload/%.so: tests/preload/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fshort-wchar -shared -o $@ $< $(LDFLAGS_ALL) -ldl

# ---- unit tests: tests/unit/<part>_<name>.c, part = ntsim|tracer|analyzer ----
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:%.c=$(O)/%)
UNIT_HELPER_SRC := $(wildcard tests/lib/*.c)
UNIT_HELPER_OBJ := $(UNIT_HELPER_SRC:%.c=$(O)/%.o)

$(O)/tests/lib/%.o: tests/lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Itests/lib $(call pkg_cflags,check) $(CFLAGS_ALL) -c $< -o $@

$(O)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Iframework -Itracer -Ianalyzer -Itests/lib -fshort-wchar \
	    $(call pkg_cflags,check libdw json-c) $(CFLAGS_ALL) -Wno-missing-prototypes -c $< -o $@

$(O)/tests/unit/ntsim_%: $(O)/tests/unit/ntsim_%.o $(UNIT_HELPER_OBJ) $(LIBNTSIM)
	$(CC) -o $@ $< $(UNIT_HELPER_OBJ) $(LDFLAGS_ALL) -L$(O)/lib -lntsim -Wl,-rpath,'$$ORIGIN/../../lib' \
	    $(call pkg_libs,check) -ldl -lpthread
$(O)/tests/unit/tracer_%: $(O)/tests/unit/tracer_%.o $(UNIT_HELPER_OBJ) $(TRACER_OBJ)
	$(CC) -o $@ $< $(UNIT_HELPER_OBJ) $(TRACER_OBJ) $(LDFLAGS_ALL) $(call pkg_libs,check libunwind) -ldl -lpthread
$(O)/tests/unit/analyzer_%: $(O)/tests/unit/analyzer_%.o $(UNIT_HELPER_OBJ) $(ANALYZER_OBJ)
	$(CC) -o $@ $< $(UNIT_HELPER_OBJ) $(ANALYZER_OBJ) $(LDFLAGS_ALL) $(call pkg_libs,check) $(ANALYZER_LIBS)

# ---- tracer test programs: tests/tracer/ (a libntsim stand-in, a tracee, two images)
TT := $(O)/tests/tracer
TRACER_TEST_BINS := $(TT)/libfakentsim.so $(TT)/libfakentsim_symbolic.so $(TT)/tracee $(TT)/tracee_symbolic \
                    $(TT)/image_a.so $(TT)/image_b.so
TT_CFLAGS = $(CPPFLAGS_ALL) $(BASE_CFLAGS) $(WARN) -Wno-missing-prototypes -fshort-wchar $(SAN_FLAGS) $(CFLAGS)

$(TT)/libfakentsim.so: tests/tracer/fake_ntsim.c
	@mkdir -p $(@D)
	$(CC) $(TT_CFLAGS) -shared -o $@ $< $(LDFLAGS_ALL) -Wl,-soname,libfakentsim.so -ldl -lpthread
$(TT)/libfakentsim_symbolic.so: tests/tracer/fake_ntsim.c
	@mkdir -p $(@D)
	$(CC) $(TT_CFLAGS) -shared -o $@ $< $(LDFLAGS_ALL) -Wl,-Bsymbolic -Wl,-soname,libfakentsim_symbolic.so -ldl -lpthread
$(TT)/tracee: tests/tracer/tracee.c $(TT)/libfakentsim.so
	$(CC) $(TT_CFLAGS) -rdynamic -o $@ $< $(LDFLAGS_ALL) -L$(TT) -lfakentsim -Wl,-rpath,'$$ORIGIN' -ldl -lpthread
$(TT)/tracee_symbolic: tests/tracer/tracee.c $(TT)/libfakentsim_symbolic.so
	$(CC) $(TT_CFLAGS) -rdynamic -o $@ $< $(LDFLAGS_ALL) -L$(TT) -lfakentsim_symbolic -Wl,-rpath,'$$ORIGIN' -ldl -lpthread
$(TT)/image_%.so: tests/tracer/image_%.c $(TT)/libfakentsim.so
	$(CC) $(TT_CFLAGS) -shared -o $@ $< $(LDFLAGS_ALL) -L$(TT) -lfakentsim -Wl,-rpath,'$$ORIGIN'

# The tracer's unit tests run these and the preloadable library.
$(filter $(O)/tests/unit/tracer_%,$(UNIT_BIN)): | $(TRACER_TEST_BINS) $(LIBOBTRACE)

# ntsim unit tests load the test drivers and preload libraries at run time
$(filter $(O)/tests/unit/ntsim_%,$(UNIT_BIN)): | $(TEST_DRIVER_SO) $(PRELOAD_SO)

# ---- benchmarks --------------------------------------------------------------
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:%.c=$(O)/%)
ANALYZER_BENCH_BIN := $(filter $(O)/bench/analyzer_%,$(BENCH_BIN))
NTSIM_BENCH_BIN := $(filter-out $(ANALYZER_BENCH_BIN),$(BENCH_BIN))
# Static pattern rules: each benchmark has exactly one way to be built.
$(NTSIM_BENCH_BIN): $(O)/bench/%: bench/%.c $(LIBNTSIM)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Iframework -Itracer -Ianalyzer $(BASE_CFLAGS) $(WARN) -Wno-missing-prototypes \
	    -fshort-wchar $(call pkg_cflags,libunwind) -o $@ $< $(filter %.o,$^) $(LDFLAGS_ALL) -L$(O)/lib -lntsim \
	    -Wl,-rpath,'$$ORIGIN/../lib' $(call pkg_libs,libunwind) -ldl -lpthread

# Analyzer benchmarks link the analyzer and the synthetic trace writer, not libntsim.
$(ANALYZER_BENCH_BIN): $(O)/bench/analyzer_%: bench/analyzer_%.c $(ANALYZER_OBJ) $(O)/tests/lib/synth_trace.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Ianalyzer -Itests/lib $(call pkg_cflags,libdw json-c) $(BASE_CFLAGS) $(WARN) \
	    -Wno-missing-prototypes -o $@ $< $(ANALYZER_OBJ) $(O)/tests/lib/synth_trace.o $(LDFLAGS_ALL) $(ANALYZER_LIBS)

# The tracer benchmark's call chain (two shared objects calling each other), and a
# build of the benchmark against the tracer tests' libntsim stand-in.
$(O)/bench/libtrchain_%.so: bench/tracer_chain/chain.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(WARN) -Wno-missing-prototypes -DCHAIN_SIDE=$* -shared -o $@ $< $(LDFLAGS_ALL)
# The tracer benchmark's floor recorder is built from the tracer's own stack walk and intern table.
BENCH_FLOOR_OBJ := $(O)/tracer/unwind.o $(O)/tracer/cfi.o $(O)/tracer/intern.o
$(O)/bench/tracer_bench: $(BENCH_FLOOR_OBJ)
$(O)/bench/tracer_bench_fake: bench/tracer_bench.c $(TT)/libfakentsim.so $(BENCH_FLOOR_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Itracer $(BASE_CFLAGS) $(WARN) -Wno-missing-prototypes -fshort-wchar -DTRACER_BENCH_FAKE \
	    $(call pkg_cflags,libunwind) -o $@ $< $(BENCH_FLOOR_OBJ) $(LDFLAGS_ALL) -L$(TT) -lfakentsim -Wl,-rpath,'$$ORIGIN/../tests/tracer' \
	    $(call pkg_libs,libunwind) -ldl -lpthread
BENCH_BIN += $(O)/bench/libtrchain_a.so $(O)/bench/libtrchain_b.so $(O)/bench/tracer_bench_fake $(LIBOBTRACE)

# ---- top-level targets -------------------------------------------------------
ALL := $(LIBNTSIM) $(NTSIM_BIN) $(SAMPLE_SO) $(TEST_DRIVER_SO)
ALL += $(CONFORMANCE_SO)
ALL += $(REDTEAM_SO)
ALL += $(REDTEAM_HOST_BIN)
ALL += $(PRELOAD_SO)
ALL += $(if $(TRACER_SRC),$(LIBOBTRACE))
ALL += $(if $(wildcard $(ANALYZER_MAIN)),$(OBTRACE_BIN))

.PHONY: all deps check demo bench clean unit-tests
# Keep the objects of chained rules (unit tests, benchmarks): no rebuild on the next make.
.SECONDARY:
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build-all

.PHONY: build-all
build-all: $(ALL)

# Installs the Debian packages the build needs when they are missing.
deps:
	@scripts/ensure-deps.sh

unit-tests: $(UNIT_BIN)

check: deps
	@$(MAKE) --no-print-directory build-all unit-tests
	@O=$(O) SANITIZE=$(SANITIZE) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory build-all
	@O=$(O) scripts/demo.sh

bench:
	@scripts/ensure-deps.sh bench || scripts/ensure-deps.sh
	@$(MAKE) --no-print-directory build-all $(BENCH_BIN)
	@O=$(O) bench/run.sh

clean:
	rm -rf build build-san

-include $(shell find $(O) -name '*.d' 2>/dev/null)
