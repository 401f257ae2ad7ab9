/* test_config.c - blanket.conf parsing and allowed-paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char err[512];

static void test_defaults(void **state)
{
	struct bl_config c;

	(void)state;
	assert_int_equal(bl_config_parse(&c, "", err, sizeof(err)), 0);
	assert_string_equal(c.socket, BL_DEFAULT_SOCKET);
	assert_int_equal(c.log_level, BL_LOG_INFO);
	assert_int_equal(c.vbd.max_queues, 0);
	assert_int_equal(c.vbd.max_ring_page_order, 4);
	assert_int_equal(c.vbd.max_indirect_segments, 256);
	assert_true(c.vbd.persistent_grants);
	assert_int_equal(c.vbd.max_persistent_grants, 1056);
	assert_true(c.vbd.discard);
	assert_true(c.vbd.direct_io);
	assert_int_equal(c.vbd.n_allowed, 0);
	assert_int_equal(c.n_kshim, 0);
	assert_null(bl_config_kshim_pci(&c, "disk0"));
	assert_string_equal(c.vif.tap, "");
	assert_int_equal(c.vif.max_queues, 0);
	assert_false(c.vif.allow_mac_spoof);
	assert_int_equal(c.vif.fdb_ageing, 300);
	assert_int_equal(c.vif.fdb_max, 4096);
	assert_int_equal(c.vif.rx_backlog, 256);
	assert_int_equal(c.vif.vhost, BL_VHOST_AUTO);
	bl_config_free(&c);
}

static void test_vif(void **state)
{
	struct bl_config c;
	const char *text = "[vif]\nuplink = tap:blanket0\nmax-queues = 2\nallow-mac-spoof = yes\n"
			   "fdb-ageing = 60\nfdb-size = 128\nrx-backlog = 32\nvhost = no\n";

	(void)state;
	assert_int_equal(bl_config_parse(&c, text, err, sizeof(err)), 0);
	assert_string_equal(c.vif.tap, "blanket0");
	assert_int_equal(c.vif.max_queues, 2);
	assert_true(c.vif.allow_mac_spoof);
	assert_int_equal(c.vif.fdb_ageing, 60);
	assert_int_equal(c.vif.fdb_max, 128);
	assert_int_equal(c.vif.rx_backlog, 32);
	assert_int_equal(c.vif.vhost, BL_VHOST_NO);
	bl_config_free(&c);
	assert_int_equal(bl_config_parse(&c, "[vif]\nvhost = yes\n", err, sizeof(err)), 0);
	assert_int_equal(c.vif.vhost, BL_VHOST_YES);
	bl_config_free(&c);
	assert_int_equal(bl_config_parse(&c, "[vif]\nvhost = no\nvhost = auto\n", err, sizeof(err)), 0);
	assert_int_equal(c.vif.vhost, BL_VHOST_AUTO);
	bl_config_free(&c);
	assert_int_equal(bl_config_parse(&c, "[vif]\nuplink = tap:x\nuplink = none\n", err,
					 sizeof(err)), 0);
	assert_string_equal(c.vif.tap, "");
	bl_config_free(&c);
	/* kshim:NAME names a [kshim] device, which may come after [vif]. */
	assert_int_equal(bl_config_parse(&c, "[vif]\nuplink = kshim:nic0\n[kshim]\nnic0 = 00:06.0\n",
					 err, sizeof(err)), 0);
	assert_string_equal(c.vif.kshim, "nic0");
	assert_string_equal(c.vif.tap, "");
	assert_string_equal(bl_config_kshim_pci(&c, c.vif.kshim), "0000:00:06.0");
	bl_config_free(&c);
	/* The last uplink line wins, of either kind. */
	assert_int_equal(bl_config_parse(&c, "[kshim]\nnic0 = 00:06.0\n[vif]\nuplink = kshim:nic0\n"
					 "uplink = tap:t0\n", err, sizeof(err)), 0);
	assert_string_equal(c.vif.kshim, "");
	assert_string_equal(c.vif.tap, "t0");
	bl_config_free(&c);
}

static void test_full(void **state)
{
	struct bl_config c;
	const char *text =
		"# comment\n"
		"[daemon]\nsocket = /tmp/x.sock\nlog-level = debug\n"
		"[vbd]\nallowed-paths = /srv/ /dev/vg0,/var/lib/xen\n"
		"max-queues = 2\nmax-ring-page-order = 2\nmax-indirect-segments = 0\n"
		"persistent-grants = no\nmax-persistent-grants = 64\ndiscard = off\ndirect-io = false\n"
		"[kshim]\ndisk0 = 0000:00:05.0\nfast_disk-2 = 01:1F.7\n";

	(void)state;
	assert_int_equal(bl_config_parse(&c, text, err, sizeof(err)), 0);
	assert_string_equal(c.socket, "/tmp/x.sock");
	assert_int_equal(c.log_level, BL_LOG_DEBUG);
	assert_int_equal(c.vbd.n_allowed, 3);
	assert_string_equal(c.vbd.allowed[0], "/srv");
	assert_string_equal(c.vbd.allowed[1], "/dev/vg0");
	assert_string_equal(c.vbd.allowed[2], "/var/lib/xen");
	assert_int_equal(c.vbd.max_queues, 2);
	assert_int_equal(c.vbd.max_ring_page_order, 2);
	assert_int_equal(c.vbd.max_indirect_segments, 0);
	assert_false(c.vbd.persistent_grants);
	assert_int_equal(c.vbd.max_persistent_grants, 64);
	assert_false(c.vbd.discard);
	assert_false(c.vbd.direct_io);
	assert_int_equal(c.n_kshim, 2);
	assert_string_equal(bl_config_kshim_pci(&c, "disk0"), "0000:00:05.0");
	/* The domain is added and hex is lower case, as sysfs names devices. */
	assert_string_equal(bl_config_kshim_pci(&c, "fast_disk-2"), "0000:01:1f.7");
	assert_null(bl_config_kshim_pci(&c, "disk1"));
	assert_null(bl_config_kshim_pci(&c, "Disk0"));
	bl_config_free(&c);
}

/* Each bad input: one line naming the line number and the problem. */
static void expect_error(const char *text, const char *line, const char *words)
{
	struct bl_config c;

	assert_int_equal(bl_config_parse(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, line));
	assert_non_null(strstr(err, words));
	assert_null(strchr(err, '\n'));
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[vbd]\nmax-queues = lots\n", ":2:", "max-queues");
	expect_error("[vbd]\nmax-ring-page-order = 5\n", ":2:", "0 to 4");
	expect_error("[vbd]\nmax-indirect-segments = 5\n", ":2:", "11 to 256");
	expect_error("[vbd]\nmax-indirect-segments = 257\n", ":2:", "11 to 256");
	expect_error("[vbd]\npersistent-grants = maybe\n", ":2:", "yes or no");
	expect_error("[vbd]\nallowed-paths = srv\n", ":2:", "'srv' is not absolute");
	expect_error("[vbd]\n\nbogus = 1\n", ":3:", "unknown key 'bogus'");
	expect_error("[nope]\nx = 1\n", ":2:", "unknown section");
	expect_error("[daemon]\nsocket = relative\n", ":2:", "absolute");
	expect_error("[daemon]\nlog-level = loud\n", ":2:", "log-level");
	expect_error("[vbd\n", ":1:", "syntax");
	expect_error("[kshim]\ndisk0 = 00:05\n", ":2:", "not a PCI address");
	expect_error("[kshim]\ndisk0 = 0000:00:20.0\n", ":2:", "not a PCI address");
	expect_error("[kshim]\ndisk0 = 0000:00:05.8\n", ":2:", "not a PCI address");
	expect_error("[kshim]\ndisk0 = 0000:00:05.0 x\n", ":2:", "not a PCI address");
	expect_error("[kshim]\ndisk0 = -0:00:05.0\n", ":2:", "not a PCI address");
	expect_error("[kshim]\ndisk0 = 0000:00:05.0\ndisk0 = 0000:00:06.0\n", ":3:", "named twice");
	expect_error("[kshim]\na = 0000:00:05.0\nb = 00:05.0\n", ":3:", "already has a name");
	expect_error("[kshim]\nbad/name = 0000:00:05.0\n", ":2:", "device name");
	expect_error("[vif]\nuplink = eth0\n", ":2:", "tap:IFNAME");
	expect_error("[vif]\nuplink = tap:\n", ":2:", "tap:IFNAME");
	expect_error("[vif]\nuplink = tap:0123456789abcdef\n", ":2:", "tap:IFNAME");
	expect_error("[vif]\nuplink = tap:a/b\n", ":2:", "tap:IFNAME");
	expect_error("[vif]\nuplink = kshim:\n", ":2:", "kshim:NAME");
	expect_error("[vif]\nuplink = kshim:a/b\n", ":2:", "kshim:NAME");
	expect_error("[vif]\nuplink = kshim:nic9\n[kshim]\nnic0 = 00:06.0\n", "<string>",
		     "no device 'nic9' in [kshim]");
	expect_error("[vif]\nuplink = ta\n", ":2:", "tap:IFNAME");
	expect_error("[vif]\nmax-queues = 65\n", ":2:", "max-queues");
	expect_error("[vif]\nallow-mac-spoof = perhaps\n", ":2:", "yes or no");
	expect_error("[vif]\nfdb-ageing = 0\n", ":2:", "fdb-ageing");
	expect_error("[vif]\nrx-backlog = 0\n", ":2:", "rx-backlog");
	expect_error("[vif]\nvhost = on\n", ":2:", "vhost: 'on' is not auto, yes or no");
	expect_error("[vif]\nfdb-size = 1\n", ":2:", "fdb-size");
	expect_error("[vif]\nmtu = 9000\n", ":2:", "unknown key 'mtu' in [vif]");
	/* The first error is the one reported. */
	expect_error("[vbd]\nmax-queues = x\nmax-ring-page-order = 9\n", ":2:", "max-queues");
}

static void test_missing_file(void **state)
{
	struct bl_config c;

	(void)state;
	assert_int_equal(bl_config_load(&c, "/nonexistent/blanket.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/blanket.conf"));
	assert_non_null(strstr(err, "cannot open"));
}

static void test_load_sample(void **state)
{
	struct bl_config c;

	(void)state;
	/* The shipped sample must parse and say what the defaults say. */
	assert_int_equal(bl_config_load(&c, "conf/blanket.conf", err, sizeof(err)), 0);
	assert_int_equal(c.vbd.max_indirect_segments, 256);
	assert_int_equal(c.vbd.n_allowed, 0);
	bl_config_free(&c);
}

static void test_allowed_paths(void **state)
{
	struct bl_config c;

	(void)state;
	assert_int_equal(bl_config_parse(&c, "[vbd]\nallowed-paths = /srv /dev/vg0\n", err, sizeof(err)), 0);
	assert_true(bl_config_path_allowed(&c, "/srv/disk.img"));
	assert_true(bl_config_path_allowed(&c, "/srv/a/b.img"));
	assert_true(bl_config_path_allowed(&c, "/dev/vg0/guest1"));
	assert_false(bl_config_path_allowed(&c, "/srv2/disk.img"));
	assert_false(bl_config_path_allowed(&c, "/etc/shadow"));
	assert_false(bl_config_path_allowed(&c, "/dev/vg01"));
	bl_config_free(&c);
	assert_int_equal(bl_config_parse(&c, "[vbd]\nallowed-paths = /\n", err, sizeof(err)), 0);
	assert_true(bl_config_path_allowed(&c, "/anything"));
	bl_config_free(&c);
	assert_int_equal(bl_config_parse(&c, "", err, sizeof(err)), 0);
	assert_true(bl_config_path_allowed(&c, "/anything"));
	bl_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_vif),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_load_sample),
		cmocka_unit_test(test_allowed_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
