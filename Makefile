# vmstatd — plain Makefile, everything built out of tree under build/ (build/san/ with SAN=1).
#   make run      build vmstatd, vmstatd-vm and vmstatctl and run the daemon with its embedded default
#                 VM (b13): the web page at http://127.0.0.1:9400/
#   make check    build and run every test; make check SAN=1 with ASan+UBSan; STRICT=1 fails on skips
#   make bench    benchmarks (not part of check)

SAN ?= 0
STRICT ?= 0
ifeq ($(SAN),1)
B := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
WORKER_LDFLAGS :=
else
B := build
SANFLAGS :=
# one vmstatd-vm per VM: static, it maps no shared libc or ld.so (RSS 1.2 MiB, not 2.0)
WORKER_LDFLAGS := -static
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -g -pthread -Ihv -Icollectors -Iworker -Ivmstatd -I. $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(SANFLAGS) $(EXTRA_LDFLAGS)
DEP_PKGS := libmicrohttpd jansson zlib libisal libsystemd inih
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(DEP_PKGS) 2>/dev/null)
DEP_LIBS = $(shell $(PKG_CONFIG) --libs $(DEP_PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

HV_SRCS := $(wildcard hv/*.c hv/devices/*.c hv/boot/*.c)
HV_OBJS := $(HV_SRCS:%.c=$(B)/%.o) $(B)/hv/guests/image.o
CL_SRCS := $(wildcard collectors/*.c)
CL_OBJS := $(CL_SRCS:%.c=$(B)/%.o)
WK_SRCS := $(filter-out worker/main.c,$(wildcard worker/*.c))
WK_OBJS := $(WK_SRCS:%.c=$(B)/%.o)
SECCOMP_LIBS = $(shell $(PKG_CONFIG) --libs libseccomp 2>/dev/null)
VS_SRCS := $(filter-out vmstatd/hvrun.c vmstatd/main.c vmstatd/vmstatctl.c,$(wildcard vmstatd/*.c))
VS_OBJS := $(VS_SRCS:%.c=$(B)/%.o) $(B)/vmstatd/web_assets.o
LIBS := $(B)/libvmstatd.a $(B)/libcollectors.a $(B)/libworker.a $(B)/libhv.a
GUEST_SRCS := hv/guests/rt.S $(filter-out hv/guests/rt.S hv/guests/image.S,$(wildcard hv/guests/*.S))
GUEST_OBJS := $(GUEST_SRCS:%.S=$(B)/%.o)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(B)/%)
TEST_HELPER_OBJS := $(B)/tests/unit/kvm_helper.o $(B)/tests/suite.o

INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(INTEG_SRCS:%.c=$(B)/%)
FUZZ_NAMES := router kernel config
FUZZ_BINS := $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)
FUZZ_SECONDS ?= 10

BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(B)/%)

.PHONY: all deps run check unit integration fuzz bench install clean linux-guest
.SECONDARY:
.DEFAULT_GOAL := all

all: deps $(LIBS) $(B)/bin/vmstatd $(B)/bin/vmstatd-vm $(B)/bin/vmstatctl $(B)/bin/hvrun $(UNIT_BINS) $(INTEG_BINS) $(BENCH_BINS) $(FUZZ_BINS)

deps:
	@scripts/deps.sh build

# ---- hv: the executor library -------------------------------------------------------------
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/hv/guests/%.o: hv/guests/%.S
	@mkdir -p $(dir $@)
	$(CC) -Ihv -MMD -MP -c -o $@ $<

$(B)/hv/guests/guests.elf: $(GUEST_OBJS) hv/guests/guests.ld
	ld -T hv/guests/guests.ld -o $@ $(GUEST_OBJS)

$(B)/hv/guests/guests.bin: $(B)/hv/guests/guests.elf
	objcopy -O binary $< $@

$(B)/hv/guests/image.o: hv/guests/image.S $(B)/hv/guests/guests.bin
	$(CC) -c -DGUEST_IMAGE='"$(B)/hv/guests/guests.bin"' -o $@ $<

$(B)/libhv.a: $(HV_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ---- collectors and the daemon's library -----------------------------------------------------
$(B)/libcollectors.a: $(CL_OBJS)
	@rm -f $@
	ar rcs $@ $^

# the per-VM executor process: hv/ plus its control socket and seccomp allowlist
$(B)/libworker.a: $(WK_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ---- the web page: web/ and uPlot (npm ci into build/web by scripts/deps.sh; SAN=1 shares it) --
# the lock file deps.sh copies into node_modules once npm ci has succeeded
WEB_STAMP := build/web/node_modules/vmstatd-installed-lock.json
UPLOT := build/web/node_modules/uplot
$(WEB_STAMP): web/package.json web/package-lock.json | deps
	@scripts/deps.sh web

$(B)/vmstatd/web_assets.o: vmstatd/web_assets.S web/index.html web/app.js web/app.css $(WEB_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -c -DWEB_INDEX_HTML='"web/index.html"' -DWEB_APP_JS='"web/app.js"' -DWEB_APP_CSS='"web/app.css"' \
		-DWEB_UPLOT_JS='"$(UPLOT)/dist/uPlot.iife.min.js"' -DWEB_UPLOT_CSS='"$(UPLOT)/dist/uPlot.min.css"' \
		-DWEB_UPLOT_LICENSE='"$(UPLOT)/LICENSE"' -o $@ $<

$(B)/libvmstatd.a: $(VS_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ---- programs --------------------------------------------------------------------------------
$(B)/bin/vmstatd: $(B)/vmstatd/main.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(SECCOMP_LIBS)

$(B)/bin/vmstatd-vm: $(B)/worker/main.o $(B)/libworker.a $(B)/libhv.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(WORKER_LDFLAGS) -o $@ $^ $(SECCOMP_LIBS)

# the client: its verb table, ctl/ (its verbs, only here), the runtime directory, the VM-name
# validator, the metric rows (its descriptions) and hv's names
CTL_OBJS := $(patsubst %.c,$(B)/%.o,vmstatd/vmstatctl.c $(wildcard vmstatd/ctl/*.c))
$(B)/bin/vmstatctl: $(CTL_OBJS) $(B)/vmstatd/paths.o $(B)/vmstatd/router.o $(B)/vmstatd/metrics.o $(B)/hv/counters.o \
                    $(B)/hv/names.o $(B)/hv/runstate.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libcurl jansson)

$(B)/bin/hvrun: $(B)/vmstatd/hvrun.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(SECCOMP_LIBS)

# ---- tests -------------------------------------------------------------------------------------
$(B)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/unit/test_%: $(B)/tests/unit/test_%.o $(TEST_HELPER_OBJS) $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(DEP_LIBS) $(SECCOMP_LIBS)

$(B)/tests/integration/%.o: tests/integration/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(CHECK_CFLAGS) $(shell $(PKG_CONFIG) --cflags libcurl) -MMD -MP -c -o $@ $<

$(B)/tests/suite.o: tests/suite.c tests/suite.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(B)/tests/integration/test_%: $(B)/tests/integration/test_%.o $(B)/tests/integration/daemon_helper.o $(B)/tests/suite.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(DEP_LIBS) $(shell $(PKG_CONFIG) --libs libcurl)

# runs vs_http, the sampler and a VM in-process
$(B)/tests/integration/test_control: $(LIBS)
# hv_e820_map: the map Linux must print back
$(B)/tests/integration/test_linux: $(LIBS)
# runs the soak benchmark's 20 s version
$(B)/tests/integration/test_soak: | $(B)/bench/soak

# libFuzzer targets (clang): the router and query parsing; the bzImage and ELF loaders
FUZZ_FLAGS := -std=gnu11 -g -O1 -Ihv -Ivmstatd -I. -fsanitize=fuzzer,address,undefined
$(B)/fuzz/fuzz_router: tests/fuzz/fuzz_router.c vmstatd/router.c vmstatd/router.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_router.c vmstatd/router.c

# the config parser with everything it checks names against: the guest image, the collectors
FUZZ_CONFIG_SRCS := $(wildcard vmstatd/config*.c) vmstatd/listen.c vmstatd/paths.c vmstatd/router.c $(HV_SRCS) $(CL_SRCS)
$(B)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(FUZZ_CONFIG_SRCS) $(B)/hv/guests/image.o
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -Icollectors -Wno-gnu-variable-sized-type-not-at-end -o $@ tests/fuzz/fuzz_config.c \
		$(FUZZ_CONFIG_SRCS) $(B)/hv/guests/image.o $(shell $(PKG_CONFIG) --libs inih)

$(B)/fuzz/fuzz_kernel: tests/fuzz/fuzz_kernel.c hv/boot/bzimage.c hv/boot/elf.c hv/boot/linux.h hv/boot/layout.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_kernel.c hv/boot/bzimage.c hv/boot/elf.c

# every target for $(1) seconds on a scratch copy of its seed corpus (tests/fuzz/corpus/NAME, if
# any; nothing is grown in git); a crash fails with the fuzzer's report
define run_fuzzers
	@for n in $(FUZZ_NAMES); do \
		c=$(B)/fuzz/corpus-$$n; rm -rf $$c && mkdir -p $$c || exit 1; \
		if [ -d tests/fuzz/corpus/$$n ]; then cp -r tests/fuzz/corpus/$$n/. $$c/; fi; \
		if $(B)/fuzz/fuzz_$$n -max_total_time=$(1) $$c > $(B)/fuzz/$$n.log 2>&1; \
		then echo "fuzz_$$n: $$(tail -n 1 $(B)/fuzz/$$n.log)"; \
		else tail -n 40 $(B)/fuzz/$$n.log; echo "fuzz_$$n FAILED (log: $(B)/fuzz/$$n.log)"; exit 1; fi; \
	done
endef

fuzz: deps $(FUZZ_BINS)
	$(call run_fuzzers,$${FUZZ_SECONDS:-300})

# ---- Linux test guest: Debian's cloud kernel (vmlinuz, vmlinux) + a busybox initramfs ----------
# always build/linux (SAN=1 shares it); the script is a quick no-op when up to date
linux-guest: deps
	@scripts/linux-guest.sh build/linux

# STRICT=1: a test that would skip fails instead (VMSTATD_STRICT=1 in its environment)
TEST_ENV := VMSTATD_BIN=$(B)/bin/vmstatd VMSTATD_WORKER=$(abspath $(B))/bin/vmstatd-vm VMSTATD_STRICT=$(STRICT)

unit: $(UNIT_BINS)
	@$(TEST_ENV) scripts/run-tests.sh $(UNIT_BINS)

integration: linux-guest $(B)/bin/vmstatd $(B)/bin/vmstatctl $(INTEG_BINS)
	@$(TEST_ENV) scripts/run-tests.sh $(INTEG_BINS)

check: deps all linux-guest
	$(call run_fuzzers,$(FUZZ_SECONDS))
	@$(TEST_ENV) scripts/run-tests.sh $(UNIT_BINS) $(INTEG_BINS)

# ---- benchmarks ----------------------------------------------------------------------------------
$(B)/bench/%: $(B)/bench/%.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(SECCOMP_LIBS)

# -- bench/exitpath's QEMU firmware: qemu-bios.S has no relocations, its .text is the image --
$(B)/bench/qemu-bios.bin: bench/qemu-bios.S hv/boot/layout.h
	@mkdir -p $(dir $@)
	$(CC) -Ihv -c -o $(B)/bench/qemu-bios.o $<
	objcopy -O binary -j .text $(B)/bench/qemu-bios.o $@

$(B)/bench/exitpath: | $(B)/bench/qemu-bios.bin
# -- end of exitpath's firmware --

bench: deps all linux-guest
	@scripts/deps.sh bench
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

run: deps $(B)/bin/vmstatd $(B)/bin/vmstatd-vm $(B)/bin/vmstatctl
	$(B)/bin/vmstatd --no-config

PREFIX ?= /usr/local
install: deps $(B)/bin/vmstatd $(B)/bin/vmstatd-vm $(B)/bin/vmstatctl
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BUILD="$(B)" scripts/install.sh

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
