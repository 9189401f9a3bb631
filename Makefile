# ferry: one static multicall binary (musl, BearSSL, LZ4). Read top to bottom:
# variables, dependencies, the binary, tests, fuzzing, benchmarks, size,
# install, the rescue image, clean.

# ---- Overridable variables ----------------------------------------------
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
DESTDIR   ?=
BUILD     ?= build
MUSL_CC   ?= musl-gcc
HOST_CC   ?= gcc
FUZZ_CC   ?= clang
OPTFLAGS  ?= -Os
# Seconds each fuzz target runs in `make check` (longer runs: `make fuzz`).
FUZZ_CHECK_SECONDS ?= 10
FUZZ_SECONDS       ?= 300
# Test selection for `make check`: shell glob over test names, e.g. TESTS='tree*'.
TESTS     ?= *
# Parallel compile jobs inside `make check`.
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

.DEFAULT_GOAL := all

# ---- Sources (every .c of a directory belongs to the build) -------------
APPLET_SRC := $(sort $(wildcard applets/*.c))
CORE_SRC   := $(filter-out core/main.c,$(sort $(wildcard core/*.c)))
CRYPTO_SRC := $(sort $(wildcard crypto/*.c))
LIB_SRC    := $(CORE_SRC) $(CRYPTO_SRC)
UNIT_SRC   := $(sort $(wildcard test/unit/test_*.c))
FUZZ_SRC   := $(sort $(wildcard test/fuzz/fuzz_*.c))

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
BASEFLAGS := -std=gnu11 -D_GNU_SOURCE -I. $(WARN)

# ---- Dependencies: BearSSL and LZ4 from Debian's source packages --------
# .ci/deps fetches the pinned versions, checks their hashes and builds the
# static libraries once per compiler; later builds reuse them.
DEPS_MUSL := $(BUILD)/deps/musl
DEPS_HOST := $(BUILD)/deps/host
DEP_LIBS   = $(1)/libbearssl.a $(1)/liblz4.a

$(BUILD)/.prereqs-build: .ci/prereqs
	.ci/prereqs build
	@mkdir -p $(BUILD) && touch $@

$(DEPS_MUSL)/libbearssl.a $(DEPS_HOST)/libbearssl.a: $(BUILD)/.prereqs-build .ci/deps
	.ci/deps bearssl $(if $(findstring musl,$@),$(MUSL_CC),$(HOST_CC)) $(@D)
$(DEPS_MUSL)/liblz4.a $(DEPS_HOST)/liblz4.a: $(BUILD)/.prereqs-build .ci/deps
	.ci/deps lz4 $(if $(findstring musl,$@),$(MUSL_CC),$(HOST_CC)) $(@D)

deps: $(call DEP_LIBS,$(DEPS_MUSL))

# ---- The binary ----------------------------------------------------------
# The binary is linked static and not position-independent (musl-gcc -static),
# so our code is compiled -fno-pie too: absolute addresses instead of
# RIP-relative ones and pointer tables in .rodata (6 KiB). Static musl never
# applies PT_GNU_RELRO, so -z norelro only drops the page-alignment padding
# before the data segment (~2 KiB on average); nothing that was read-only
# becomes writable. SIZEFLAGS: a tail call repeats the function's epilogue
# at each call site, and jump tables (8 bytes a case without PIE) outweigh
# compare trees in code that is not in the data path (4 KiB together).
# Sizes and how they were measured: docs/architecture.md, "Size".
SIZEFLAGS := -fno-optimize-sibling-calls -fno-tree-switch-conversion -fno-jump-tables
MUSL_CFLAGS := $(BASEFLAGS) $(OPTFLAGS) $(SIZEFLAGS) -fno-pie -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables -I$(DEPS_MUSL)/include
MUSL_LDFLAGS := -static -s -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none -Wl,-Map=$(BUILD)/ferry.map
MUSL_OBJ := $(patsubst %.c,$(BUILD)/musl/%.o,core/main.c $(APPLET_SRC) $(LIB_SRC))

all: $(BUILD)/ferry

# Objects depend on the Makefile too: a change of flags rebuilds them.
$(BUILD)/musl/%.o: %.c Makefile | $(call DEP_LIBS,$(DEPS_MUSL))
	@mkdir -p $(@D)
	$(MUSL_CC) $(MUSL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/ferry: $(MUSL_OBJ) $(call DEP_LIBS,$(DEPS_MUSL))
	$(MUSL_CC) $(MUSL_LDFLAGS) $(MUSL_OBJ) $(call DEP_LIBS,$(DEPS_MUSL)) -o $@

# ---- Tests ---------------------------------------------------------------
# Unit tests: core and crypto compiled again for the host with ASan/UBSan.
HOST_CFLAGS := $(BASEFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -I$(DEPS_HOST)/include
HOST_OBJ := $(patsubst %.c,$(BUILD)/host/%.o,$(LIB_SRC))
UNIT_BIN := $(patsubst test/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

$(BUILD)/host/%.o: %.c | $(call DEP_LIBS,$(DEPS_HOST))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/unit/%: test/unit/%.c test/unit/check.h $(HOST_OBJ) $(call DEP_LIBS,$(DEPS_HOST))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -MMD -MP $< $(HOST_OBJ) $(call DEP_LIBS,$(DEPS_HOST)) -lpthread -o $@

# Fuzz targets: libFuzzer with ASan/UBSan over the same sources.
FUZZ_CFLAGS := $(BASEFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -I$(DEPS_HOST)/include
FUZZ_BIN := $(patsubst test/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

FUZZ_OBJ := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRC))

$(BUILD)/fuzzobj/%.o: %.c | $(call DEP_LIBS,$(DEPS_HOST))
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/fuzz/%: test/fuzz/%.c $(FUZZ_OBJ) $(call DEP_LIBS,$(DEPS_HOST))
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP $< $(FUZZ_OBJ) $(call DEP_LIBS,$(DEPS_HOST)) -lpthread -o $@

$(BUILD)/.prereqs-check: .ci/prereqs
	.ci/prereqs build check
	@mkdir -p $(BUILD) && touch $@

# What the tests run is built first, on every core (a plain `make check` is the CI's command).
check: $(BUILD)/.prereqs-check format-check
	$(MAKE) -s $(call DEP_LIBS,$(DEPS_MUSL)) $(call DEP_LIBS,$(DEPS_HOST))
	$(MAKE) -s -j$(JOBS) $(BUILD)/ferry $(UNIT_BIN) $(FUZZ_BIN)
	FERRY=$(abspath $(BUILD)/ferry) BUILD=$(abspath $(BUILD)) \
	FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS) test/run '$(TESTS)'

fuzz: $(BUILD)/.prereqs-check $(FUZZ_BIN)
	FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=$(abspath $(BUILD)) test/run-fuzz $(FUZZ_BIN)

# Formatting of our C (not the dependencies') with the project's .clang-format.
FORMAT_SRC = $(sort $(wildcard applets/*.c core/*.[ch] crypto/*.[ch] test/unit/*.[ch] test/fuzz/*.c bench/*.c))
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	@clang-format --dry-run -Werror $(FORMAT_SRC) 2>&1 | head -20; \
	 clang-format --dry-run -Werror $(FORMAT_SRC) >/dev/null 2>&1 || \
	 { echo "format-check: run 'make format'"; exit 1; }

# ---- Main job: a real demo migration between two local nodes -------------
demo: $(BUILD)/.prereqs-check $(BUILD)/ferry
	FERRY=$(abspath $(BUILD)/ferry) test/demo.sh

# ---- Benchmarks (not tests: they print ratios against baselines) ---------
bench: $(BUILD)/ferry
	.ci/prereqs build check bench
	FERRY=$(abspath $(BUILD)/ferry) bench/run

# ---- Size ----------------------------------------------------------------
size: $(BUILD)/ferry
	@test/size.sh $(BUILD)/ferry $(BUILD)/ferry.map

# ---- Install ---------------------------------------------------------------
install: $(BUILD)/ferry
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/ferry $(DESTDIR)$(BINDIR)/ferry
	for a in $$($(BUILD)/ferry --list); do ln -sf ferry $(DESTDIR)$(BINDIR)/$$a; done

# ---- Rescue / netboot image ----------------------------------------------
initramfs: $(BUILD)/ferry
	.ci/prereqs build initramfs
	BUILD=$(abspath $(BUILD)) FERRY=$(abspath $(BUILD)/ferry) initramfs/build.sh

clean:
	rm -rf $(BUILD)/musl $(BUILD)/host $(BUILD)/unit $(BUILD)/fuzz $(BUILD)/fuzzobj $(BUILD)/ferry $(BUILD)/ferry.map

distclean:
	rm -rf $(BUILD)

.PHONY: all deps check fuzz format format-check demo bench size install initramfs clean distclean
.DELETE_ON_ERROR:
.SECONDARY:

-include $(MUSL_OBJ:.o=.d) $(HOST_OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_OBJ:.o=.d) $(FUZZ_BIN:=.d)
