# Blanket: Xen PV device backends in userspace.  See README.md.
#
#   make            build libblanket, blanketd, blanketctl (into build/)
#   make kshim      build kshim/kshim.ko (the kernel shim)
#   make deps       install every build, test and test-bed dependency (apt-get)
#   make check      unit tests, fuzzers (bounded), the nested e2e test bed
#   make demo       the nested stack: an L2 guest doing I/O through blanketd and kshim
#   make bench      blanketd against the kernel's blkback, side by side (file and L0 disks)
#   make install    binaries, unit, config, hotplug script, modprobe.d file

CC       ?= cc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Ilibblanket -Ikshim
FUZZ_CC  ?= clang
FUZZ_SECONDS ?= 60
PREFIX   ?= /usr/local
DESTDIR  ?=
B        := build
SHELL    := /bin/bash

LIB_SRC  := libblanket/blkif.c libblanket/config.c libblanket/xenbus.c libblanket/state.c libblanket/netif.c
XEN_SRC  := libblanket/xen.c
D_SRC    := blanketd/main.c blanketd/log.c blanketd/ctl.c blanketd/uring.c blanketd/notify.c \
            blanketd/uplink_file.c blanketd/pgrant.c blanketd/xs_util.c blanketd/xbdev.c blanketd/vbd.c blanketd/vbd_ring.c \
            blanketd/vbd_stats.c blanketd/kshim_chain.c blanketd/kshim_dev.c blanketd/kshim_blk.c blanketd/uplink_kshim.c \
            blanketd/switch.c blanketd/sw_parse.c blanketd/sw_uplink.c blanketd/vnet_hdr.c blanketd/uplink_tap.c \
            blanketd/vring.c blanketd/vhost_net.c \
            blanketd/kshim_net.c blanketd/sw_gso.c blanketd/sw_gro.c blanketd/uplink_kshim_net.c \
            blanketd/uplink_kshim_net_tx.c blanketd/uplink_kshim_net_rx.c \
            blanketd/vif.c blanketd/vif_ring.c blanketd/vif_rx.c blanketd/vif_stats.c
UNIT     := test_blkif test_blkif_ring test_xenbus test_config test_vbd test_vbd_io test_vbd_grants \
            test_vbd_hostile test_kshim_chain test_cli test_netif_tx test_netif_ring test_netif_ctrl \
            test_switch test_vif test_kshim_net test_sw_gso test_sw_gro test_uplink_tap test_vif_uplink test_vring
FUZZ     := fuzz_blkif fuzz_config fuzz_netif fuzz_gro fuzz_gso

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
XEN_OBJ  := $(XEN_SRC:%.c=$(B)/obj/%.o)
D_OBJ    := $(D_SRC:%.c=$(B)/obj/%.o)
D_LIBS   := -lxengnttab -lxenevtchn -lxencall -lxenstore -lev -luring -lsystemd -linih

# Every package the build, the tests and the test bed need.
DEB_DEPS := build-essential pkg-config libxen-dev libev-dev liburing-dev libsystemd-dev \
            libinih-dev libcmocka-dev clang libclang-rt-14-dev valgrind
E2E_DEPS  = $(shell cat tests/e2e/deps.txt 2>/dev/null)

.PHONY: all deps kshim check unit fuzz e2e kshim-test demo bench instr install clean
all: $(B)/blanketd $(B)/blanketctl

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -MMD -MP -c $< -o $@

$(B)/libblanket.a: $(LIB_OBJ) $(XEN_OBJ)
	ar rcs $@ $^

$(B)/blanketd: $(D_OBJ) $(B)/libblanket.a
	$(CC) $(CFLAGS) -o $@ $^ $(D_LIBS)

$(B)/blanketctl: $(B)/obj/blanketd/blanketctl.o
	$(CC) $(CFLAGS) -o $@ $^

# --- dependencies -----------------------------------------------------------
# Installs only what is missing, so it is cheap to run every time.  kshim
# builds against the headers of the kernel Debian's linux-image-amd64 points
# at, the same kernel the test beds boot.
KERNEL_ABI = $(shell apt-cache depends linux-image-amd64 2>/dev/null | \
               sed -n 's/.*Depends: linux-image-\(.*\)-amd64$$/\1/p' | head -n1)
deps:
	@set -e; need() { for p in "$$@"; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done; }; \
	if [ -z "$(KERNEL_ABI)" ] || [ -n "$$(need $(DEB_DEPS) $(E2E_DEPS))" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get install)"; exit 1; fi; \
		apt-get update -qq; fi; \
	abi=$$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: linux-image-\(.*\)-amd64$$/\1/p' | head -n1); \
	missing=$$(need $(DEB_DEPS) $(E2E_DEPS) linux-headers-$$abi-amd64); \
	if [ -n "$$missing" ]; then echo "make deps: installing $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

kshim: deps
	$(MAKE) -C kshim

# --- tests -------------------------------------------------------------------
# Unit tests link libblanket's portable part with a fake of xen.c.
UNIT_BIN := $(UNIT:%=$(B)/tests/%)
FAKE_XEN := tests/unit/fake_xen.c tests/unit/fake_xs.c tests/unit/fake_xen.h tests/unit/fake_xen_priv.h
VBD_TESTS := $(B)/tests/test_vbd $(B)/tests/test_vbd_io $(B)/tests/test_vbd_grants $(B)/tests/test_vbd_hostile
$(VBD_TESTS): $(B)/tests/%: tests/unit/%.c tests/unit/vbd_harness.c tests/unit/vbd_harness.h tests/unit/test_loop.c tests/unit/test_loop.h $(FAKE_XEN) $(filter-out $(B)/obj/blanketd/main.o,$(D_OBJ)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $(filter %.c %.o,$^) -lcmocka -lev -luring -linih
# blanketd's vif code on the fake hypervisor (tests/unit/vif_harness.c).
VIF_HARNESS := tests/unit/vif_harness.c tests/unit/vif_harness.h tests/unit/test_loop.c tests/unit/test_loop.h \
               $(FAKE_XEN) $(filter-out $(B)/obj/blanketd/main.o,$(D_OBJ)) $(LIB_OBJ)
$(B)/tests/test_vif $(B)/tests/test_vif_uplink: $(B)/tests/%: tests/unit/%.c $(VIF_HARNESS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $(filter %.c %.o,$^) -lcmocka -lev -luring -linih
BLKIF_TESTS := $(B)/tests/test_blkif $(B)/tests/test_blkif_ring
$(BLKIF_TESTS): $(B)/tests/%: tests/unit/%.c tests/unit/blkif_harness.c tests/unit/blkif_harness.h $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $(filter %.c %.o,$^) -lcmocka -linih
NETIF_TESTS := $(B)/tests/test_netif_tx $(B)/tests/test_netif_ring $(B)/tests/test_netif_ctrl
$(NETIF_TESTS): $(B)/tests/%: tests/unit/%.c tests/unit/netif_harness.c tests/unit/netif_harness.h $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $(filter %.c %.o,$^) -lcmocka -linih
$(B)/tests/test_switch: tests/unit/test_switch.c $(B)/obj/blanketd/switch.o $(B)/obj/blanketd/sw_parse.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $^ -lcmocka -linih
$(B)/tests/test_kshim_chain: tests/unit/test_kshim_chain.c $(B)/obj/blanketd/kshim_chain.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $^ -lcmocka
$(B)/tests/test_kshim_net: tests/unit/test_kshim_net.c $(B)/obj/blanketd/kshim_net.o $(B)/obj/blanketd/vnet_hdr.o $(B)/obj/blanketd/kshim_chain.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $^ -lcmocka
$(B)/tests/test_vring: tests/unit/test_vring.c $(B)/obj/blanketd/vring.o $(B)/obj/blanketd/vhost_net.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $^ -lcmocka
$(B)/tests/test_uplink_tap: tests/unit/test_uplink_tap.c $(B)/obj/blanketd/uplink_tap.o $(B)/obj/blanketd/vring.o $(B)/obj/blanketd/vhost_net.o $(B)/obj/blanketd/vnet_hdr.o $(B)/obj/blanketd/uring.o $(B)/obj/blanketd/notify.o $(B)/obj/blanketd/log.o $(FAKE_XEN) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $(filter %.c %.o,$^) -lcmocka -lev -luring -linih
$(B)/tests/test_sw_gso: tests/unit/test_sw_gso.c $(B)/obj/blanketd/sw_gso.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $^ -lcmocka
$(B)/tests/test_sw_gro: tests/unit/test_sw_gro.c $(B)/obj/blanketd/sw_gro.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $^ -lcmocka
$(B)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -o $@ $^ -lcmocka -linih

# The vif data path's userspace instructions per 64-byte frame, counted by callgrind (deterministic,
# where the test bed's throughput moves by 20-30% between runs): tests/perf/instr.sh.
$(B)/perf/vif_path: tests/perf/vif_path.c $(VIF_HARNESS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iblanketd -Itests/unit -o $@ $(filter %.c %.o,$^) -lcmocka -lev -luring -linih

instr: deps $(B)/perf/vif_path
	tests/perf/instr.sh $(B)/perf/vif_path

unit: deps all $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

FUZZ_BIN := $(FUZZ:%=$(B)/fuzz/%)
# The daemon's own parsers: fuzz_gro, received frames (sw_gro.c); fuzz_gso, guests' TX frames
# (sw_parse.c, sw_gso.c).
$(B)/fuzz/fuzz_gro: blanketd/sw_gro.c
$(B)/fuzz/fuzz_gso: blanketd/sw_gso.c blanketd/sw_parse.c
$(B)/fuzz/fuzz_gro $(B)/fuzz/fuzz_gso: $(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilibblanket -Iblanketd \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $(filter %.c,$^)
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC) tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilibblanket -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ $(filter %.c,$^) -linih

# Each fuzzer runs for FUZZ_SECONDS, from tests/fuzz/seeds/NAME too if there is one; a crash
# fails the build.
fuzz: deps $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do echo "== $$f ($(FUZZ_SECONDS) s)"; \
		mkdir -p $(B)/fuzz/corpus-$$(basename $$f); \
		seeds=tests/fuzz/seeds/$$(basename $$f); test -d $$seeds || seeds=; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus-$$(basename $$f) $$seeds 2>&1 | tail -n 12; \
		test $${PIPESTATUS[0]} -eq 0; done

# Both data paths: image files on dom0 (io_uring), and the L0 virtio-blk through kshim (~1 min each).
# blanketd-kshim twice: an L0 NIC without offloads (software GSO, checksums and GRO in blanketd)
# and one with them, as clouds' virtio-net has (frames pass whole, zero-copy).
e2e: deps all
	tests/e2e/run.sh --backend blanketd
	tests/e2e/run.sh --backend blanketd-kshim
	tests/e2e/run.sh --backend blanketd-kshim --l0-offloads on

# kshim alone: QEMU boots Debian's kernel with kshim and drives virtio-blk/net.
kshim-test: deps
	tests/kshim/run.sh

check: deps all unit fuzz kshim-test e2e

demo: deps all
	tests/e2e/demo.sh

bench: deps all
	tests/e2e/bench.sh

# --- install -------------------------------------------------------------------
install: all
	install -D -m 0755 $(B)/blanketd $(DESTDIR)$(PREFIX)/sbin/blanketd
	install -D -m 0755 $(B)/blanketctl $(DESTDIR)$(PREFIX)/sbin/blanketctl
	install -D -m 0755 blanketd/blanket-hotplug $(DESTDIR)/etc/xen/scripts/blanket
	install -D -m 0644 systemd/blanketd.service $(DESTDIR)/lib/systemd/system/blanketd.service
	install -D -m 0644 conf/modprobe-blanket.conf $(DESTDIR)/etc/modprobe.d/blanket.conf
	install -D -m 0644 conf/blanket.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/blanket.conf.5
	@if [ -e $(DESTDIR)/etc/blanket.conf ]; then echo "keeping existing /etc/blanket.conf"; \
	else install -D -m 0644 conf/blanket.conf $(DESTDIR)/etc/blanket.conf; fi
	sed -i 's|^ExecStart=.*|ExecStart=$(PREFIX)/sbin/blanketd -c /etc/blanket.conf|' \
		$(DESTDIR)/lib/systemd/system/blanketd.service

clean:
	rm -rf $(B)/blanketd $(B)/blanketctl $(B)/obj $(B)/tests $(B)/fuzz $(B)/libblanket.a
	-$(MAKE) -C kshim clean

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
