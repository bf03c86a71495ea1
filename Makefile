# SPDX-License-Identifier: MIT
# Build, test and package the WireGuard network driver for Docker.
#   make                 build/wireguard-driver
#   make test            every suite (installs what the tests need with apt first)
#   make plugin          build/plugin/ (config.json + rootfs/), no registry needed
#   make install         create and enable the managed plugin on $DOCKER_HOST
#   make push REGISTRY=HOST:PORT   push the plugin to a registry, as HOST:PORT/wireguard:latest
#   make demo            two containers pinging over WireGuard, then clean up
#   make bench           start time, throughput, memory and scale, then bench-cluster (not pass/fail)
#   make bench-cluster   convergence, full mesh and throughput across three simulated hosts
#   make bench-kernel    the kernel backend's scale run, in the qemu VM of test/vm
#   make SANITIZE=1 ...  AddressSanitizer + UndefinedBehaviorSanitizer build in build/asan/
#   make fuzz            every libFuzzer harness for FUZZ_SECONDS (test/fuzz/README.md)
#   make fuzz-smoke      the seed corpus once, then every harness for FUZZ_SMOKE_SECONDS

PKG_CONFIG ?= pkg-config
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
PLUGIN_NAME ?= wireguard
PLUGIN_TAG ?= latest
PLUGIN_DIR ?= build/plugin
REGISTRY ?=
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
SANITIZE ?= 0
V ?= 0

LIBS_PKG := libmicrohttpd jansson libmnl libsodium libcurl
ifeq ($(SANITIZE),1)
B ?= build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B ?= build
SAN_FLAGS :=
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wmissing-prototypes -Wformat=2 -Wstrict-prototypes \
	  -Wno-unused-parameter -pthread -MMD -MP $(SAN_FLAGS) \
	  -I. -Idriver -Ikeystore -Ikmod $(shell $(PKG_CONFIG) --cflags $(LIBS_PKG) 2>/dev/null)
ifeq ($(SANITIZE),0)
CFLAGS += -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDFLAGS += -pie -Wl,-z,relro,-z,now
endif
LDFLAGS += -pthread $(SAN_FLAGS)
LDLIBS += $(shell $(PKG_CONFIG) --libs $(LIBS_PKG) 2>/dev/null)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC := $(filter-out driver/main.c,$(wildcard driver/*.c)) $(wildcard keystore/*.c) \
	   $(wildcard kmod/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC := $(wildcard test/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(B)/unit/%)
HELPER_SRC := $(wildcard test/unit/helper_*.c)
HELPER_OBJ := $(HELPER_SRC:%.c=$(B)/obj/%.o)
WGCTL_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard wgctl/*.c))

all: $(B)/wireguard-driver $(B)/wgctl

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libwgdriver.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

# The version reaches main.o alone, through a file rewritten only when VERSION changes: a build
# with another VERSION recompiles one object.
$(B)/version: FORCE
	@mkdir -p $(dir $@)
	$(Q)[ "$$(cat $@ 2>/dev/null)" = '$(VERSION)' ] || echo '$(VERSION)' >$@

FORCE:

$(B)/obj/driver/main.o: $(B)/version
$(B)/obj/driver/main.o: CFLAGS += -DWGD_VERSION='"$(VERSION)"'

$(B)/wireguard-driver: $(B)/obj/driver/main.o $(B)/libwgdriver.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/wgctl: $(WGCTL_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests #include the .c they test; the archive supplies everything else.
$(B)/unit/%: test/unit/%.c $(HELPER_OBJ) $(B)/libwgdriver.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -Itest/unit -o $@ $< $(HELPER_OBJ) $(B)/libwgdriver.a $(LDLIBS)

unit-build: $(UNIT_BIN)

# Runs the C unit tests; test/unit/run prints their summary.
unit: $(UNIT_BIN)
	$(Q)test/unit/run $(UNIT_BIN)

deps:
	$(Q)scripts/install-deps.sh

test: deps
	$(Q)test/run-all

test-api: deps all
	$(Q)test/run-all api

test-docker: deps
	$(Q)test/run-all docker

# The kernel suite: the API suite and test/vm/kernel.bats on Debian's kernel under qemu.
test-kernel: deps
	$(Q)test/run-all kernel

# The fault suite: restarts, crashes, state safety and load.
test-faults: deps
	$(Q)test/run-all faults

# The plugin directory is remade only when what goes into it changed (mkplugin.sh writes
# wireguard-go.version last): a test suite or benchmark that reads build/plugin while another
# runs `make plugin` (test/run-all runs the kernel suite's VM beside the others) sees no change.
# $(PLUGIN_DIR).wggo holds WIREGUARD_GO, so naming another wireguard-go (or none) remakes it.
plugin: $(PLUGIN_DIR)/wireguard-go.version

$(PLUGIN_DIR)/wireguard-go.version: $(B)/wireguard-driver $(PLUGIN_DIR).wggo $(WIREGUARD_GO) \
		plugin/config.json scripts/mkplugin.sh scripts/debfetch.sh scripts/debs.lock
	$(Q)scripts/mkplugin.sh $(B) $(PLUGIN_DIR)

$(PLUGIN_DIR).wggo: FORCE
	@mkdir -p $(@D)
	$(Q)[ "$$(cat $@ 2>/dev/null)" = 'WIREGUARD_GO=$(WIREGUARD_GO)' ] || \
		echo 'WIREGUARD_GO=$(WIREGUARD_GO)' >$@

install: plugin
	$(Q)scripts/install-plugin.sh $(PLUGIN_DIR) $(PLUGIN_NAME):$(PLUGIN_TAG)

# Checked before anything is built: a push without a registry is a mistake, not a default.
ifneq ($(filter push,$(MAKECMDGOALS)),)
ifeq ($(REGISTRY),)
$(error make push needs REGISTRY=HOST[:PORT]; it pushes REGISTRY/$(PLUGIN_NAME):$(PLUGIN_TAG), \
	e.g. make push REGISTRY=127.0.0.1:5000)
endif
endif

push: plugin
	$(Q)scripts/push-plugin.sh $(PLUGIN_DIR) $(REGISTRY)/$(PLUGIN_NAME):$(PLUGIN_TAG)

install-bin: all
	install -D -m 0755 $(B)/wireguard-driver $(DESTDIR)$(PREFIX)/sbin/wireguard-driver

demo: deps
	$(Q)scripts/demo.sh

bench: deps
	$(Q)bench/run
	$(Q)bench/cluster

# Three simulated hosts (namespaces, each with its dockerd) and a 3-member etcd, as in the
# cluster suite: bench/README.md, "Across hosts".
bench-cluster: deps
	$(Q)bench/cluster

# BENCH_SCALE endpoints (200) on the kernel backend through the daemon's API, in the VM.
bench-kernel: deps all
	$(Q)test/vm/run --timeout 3600 --mem 2048 bench/kernel-scale

# Fuzzing: the harnesses of test/fuzz/ and the library they link, built with clang, libFuzzer,
# ASan and UBSan in build/fuzz/ by a second make of this file (CFLAGS from the environment is
# kept by its ?= and extended by its +=). FUZZ_JOBS harnesses run at once.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_JOBS ?= 1
FUZZ_HARNESSES ?= $(patsubst test/fuzz/%.c,%,$(wildcard test/fuzz/fuzz_*.c))

fuzz-build:
	$(Q)CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" $(MAKE) $(if $(Q),-s) --no-print-directory \
		SANITIZE=1 CC=$(FUZZ_CC) B=build/fuzz $(FUZZ_HARNESSES:%=build/fuzz/bin/%)

$(B)/bin/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz.h $(B)/libwgdriver.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -Itest/fuzz -o $@ $< $(B)/libwgdriver.a \
		$(LDLIBS)

# The generated seeds of test/fuzz/corpus/ (as root: namespaces, a TUN, wireguard-go).
$(B)/bin/mkcorpus: test/fuzz/mkcorpus.c $(B)/libwgdriver.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -Itest/unit -o $@ $< $(B)/libwgdriver.a $(LDLIBS)

fuzz-corpus: $(B)/bin/mkcorpus
	$(Q)test/fuzz/mkcorpus.sh $(B)/bin/mkcorpus

fuzz: fuzz-build
	$(Q)FUZZ_JOBS=$(FUZZ_JOBS) test/fuzz/run $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

# Two at a time: ten harnesses one after the other took over two minutes of make test.
FUZZ_SMOKE_JOBS ?= 2
fuzz-smoke: fuzz-build
	$(Q)FUZZ_JOBS=$(FUZZ_SMOKE_JOBS) test/fuzz/run --replay $(FUZZ_SMOKE_SECONDS) $(FUZZ_HARNESSES)

style:
	$(Q)clang-format --dry-run --Werror $(wildcard driver/*.[ch] keystore/*.[ch] kmod/*.[ch] wgctl/*.c \
		test/unit/*.[ch] test/fuzz/*.[ch])

clean:
	rm -rf build

.PHONY: all unit unit-build deps test test-api test-docker test-kernel test-faults plugin install push install-bin demo bench bench-cluster bench-kernel style clean FORCE

.PHONY: fuzz fuzz-build fuzz-corpus fuzz-smoke

# Keep the helper objects between runs (they would be deleted as intermediates).
.SECONDARY:

-include $(LIB_OBJ:.o=.d) $(B)/obj/driver/main.d $(WGCTL_OBJ:.o=.d) $(HELPER_OBJ:.o=.d) \
	 $(UNIT_BIN:=.d)
-include $(wildcard $(B)/bin/fuzz_*.d $(B)/bin/mkcorpus.d)
