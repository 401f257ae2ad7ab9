/*
 * test_uplink_tap.c - the TAP uplink against a real TAP interface (root and
 * /dev/net/tun, as CI has): frames queued in one loop pass leave in one
 * io_uring submit with their bytes and offload state, from the guests'
 * pages or from the uplink's copy buffers; frames the kernel
 * sends on the interface come back through rx(), and a reader that ran
 * out of buffers reads again when one is released; closing with writes
 * queued still completes each of them.  A packet socket on the interface
 * is the far side.  These are blanketd's own reads and writes ([vif] vhost
 * = no); vhost = yes without /dev/vhost-net is one line naming the module.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "uplink.h"
#include "uring.h"

static const uint8_t OUR_MAC[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01 };
static const uint8_t FAR_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };
#define ETHERTYPE_TEST 0x88b5   /* IEEE local experimental: the stack ignores it */

static struct {
	struct ev_loop *loop;
	struct net_uplink *u;
	int ps;                  /* packet socket on the interface */
	unsigned done, done_err;
	void *cookies[8];
	uint8_t rx[2048];
	size_t rx_len;
	unsigned rx_frames;
	bool hold;                          /* keep received buffers */
	struct net_uplink_buf *held[512];
	unsigned nheld;
} T;

static void on_tx_done(struct net_uplink *u, void *cookie, int res)
{
	(void)u;
	T.cookies[T.done++ % 8] = cookie;
	T.done_err += res != 0;
}

static void on_rx(struct net_uplink *u, struct net_uplink_buf *b)
{
	const uint8_t *d = b->data;

	/* Only our test frames (the kernel may send ND/MLD on its own). */
	if (b->len >= 14 && d[12] == (ETHERTYPE_TEST >> 8) && d[13] == (ETHERTYPE_TEST & 0xff)) {
		T.rx_len = b->len < sizeof(T.rx) ? b->len : sizeof(T.rx);
		memcpy(T.rx, d, T.rx_len);
		T.rx_frames++;
		if (T.hold) {
			T.held[T.nheld++] = b;
			return;
		}
	}
	u->ops->rx_release(u, b);
}

static int setup(void **state)
{
	char err[256];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };

	(void)state;
	memset(&T, 0, sizeof(T));
	log_level = BL_LOG_ERR;
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK)) {
		print_message("needs root and /dev/net/tun\n");
		return -1;
	}
	T.loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(uring_init(T.loop, 64), 0);
	T.u = uplink_tap_open(T.loop, NULL, "bltest%d", BL_VHOST_NO, err, sizeof(err));
	if (!T.u)
		print_message("%s\n", err);
	assert_non_null(T.u);
	T.u->tx_done = on_tx_done;
	T.u->rx = on_rx;
	T.ps = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	assert_true(T.ps >= 0);
	sll.sll_ifindex = (int)if_nametoindex(T.u->name);
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(T.ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (T.u)
		T.u->ops->close(T.u);
	if (T.ps > 0)
		close(T.ps);
	if (T.loop) {
		uring_exit(T.loop);
		ev_loop_destroy(T.loop);
	}
	return 0;
}

static void frame(uint8_t *p, size_t len, const uint8_t *dst, const uint8_t *src, uint8_t seed)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = ETHERTYPE_TEST >> 8;
	p[13] = ETHERTYPE_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the loop until *count reaches want (or 3 s pass). */
static void run_until(const unsigned *count, unsigned want)
{
	double end = now() + 3;

	while (*count < want && now() < end)
		ev_run(T.loop, EVRUN_NOWAIT);
}

/* The next frame the interface received (from the TAP fd), or 0. */
static ssize_t far_recv(uint8_t *buf, size_t cap)
{
	double end = now() + 3;

	while (now() < end) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(T.ps, buf, cap, 0, (struct sockaddr *)&from, &fl);

		if (n < 0 && errno == EAGAIN) {
			usleep(1000);
			continue;
		}
		assert_true(n >= 0);
		if (from.sll_pkttype != PACKET_OUTGOING && n >= 14 &&
		    buf[12] == (ETHERTYPE_TEST >> 8) && buf[13] == (ETHERTYPE_TEST & 0xff))
			return n;
	}
	return 0;
}

static void test_tx_batched(void **state)
{
	static uint8_t a[1000], b[3000], got[4000];
	struct iovec va[1] = { { a, sizeof(a) } };
	struct iovec vb[2] = { { b, 1200 }, { b + 1200, sizeof(b) - 1200 } };
	struct net_meta m = { .data_validated = true };
	struct uring_stats before = uring_stats;

	(void)state;
	frame(a, sizeof(a), FAR_MAC, OUR_MAC, 1);
	frame(b, sizeof(b), FAR_MAC, OUR_MAC, 2);
	assert_int_equal(T.u->ops->tx_async(T.u, va, 1, &m, (void *)1), 0);
	assert_int_equal(T.u->ops->tx_async(T.u, vb, 2, &m, (void *)2), 0);
	assert_int_equal(T.u->stats.tx_inflight, 2);
	assert_int_equal(T.done, 0);           /* queued, not written */
	run_until(&T.done, 2);
	assert_int_equal(T.done, 2);
	assert_int_equal(T.done_err, 0);
	assert_ptr_equal(T.cookies[0], (void *)1);
	assert_ptr_equal(T.cookies[1], (void *)2);
	/* Both in one io_uring_enter. */
	assert_int_equal(uring_stats.submits - before.submits, 1);
	assert_int_equal(uring_stats.sqes - before.sqes, 2);
	assert_int_equal(T.u->stats.tx_pkts, 2);
	assert_int_equal(T.u->stats.tx_bytes, sizeof(a) + sizeof(b));
	assert_int_equal(T.u->stats.tx_inflight, 0);
	assert_int_equal(far_recv(got, sizeof(got)), sizeof(a));
	assert_memory_equal(got, a, sizeof(a));
	assert_int_equal(far_recv(got, sizeof(got)), sizeof(b));
	assert_memory_equal(got, b, sizeof(b));
}

/* Guests' frames as copies (tx_buffer): a buffer of NET_UPLINK_COPY_PAGES
 * pages, fragment i in page i at its own offset, written out whole; the
 * buffer is the uplink's again when the write completes, or at once when
 * tx_async refuses the frame.  With every buffer in use: NULL (the switch
 * then maps the guest's pages). */
static void test_tx_copy_buffers(void **state)
{
	static uint8_t want[3000], got[4000];
	struct net_meta m = { .data_validated = true };
	void *bufs[256];
	unsigned n = 0;
	uint8_t *buf;
	struct iovec v[2];

	(void)state;
	assert_non_null(T.u->ops->tx_buffer);
	while (n < 256 && (bufs[n] = T.u->ops->tx_buffer(T.u, sizeof(want), &m)))
		n++;
	assert_true(n >= 16 && n < 256);
	/* Distinct, page-aligned, NET_UPLINK_COPY_PAGES pages each. */
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal((uintptr_t)bufs[i] % 4096, 0);
		for (unsigned j = 0; j < i; j++)
			assert_true((uint8_t *)bufs[i] >= (uint8_t *)bufs[j] + NET_UPLINK_COPY_PAGES * 4096 ||
				    (uint8_t *)bufs[j] >= (uint8_t *)bufs[i] + NET_UPLINK_COPY_PAGES * 4096);
	}
	for (unsigned i = 1; i < n; i++)
		T.u->ops->tx_buffer_put(T.u, bufs[i]);
	buf = bufs[0];
	/* Two fragments: 1000 bytes at offset 3000 of page 0, the rest at
	 * offset 100 of page 1 (as the switch's grant copy lays them out). */
	frame(want, sizeof(want), FAR_MAC, OUR_MAC, 9);
	memcpy(buf + 3000, want, 1000);
	memcpy(buf + 4096 + 100, want + 1000, sizeof(want) - 1000);
	v[0] = (struct iovec){ buf + 3000, 1000 };
	v[1] = (struct iovec){ buf + 4096 + 100, sizeof(want) - 1000 };
	/* Taken again, all but the one in flight. */
	for (n = 0; n < 256 && (bufs[n] = T.u->ops->tx_buffer(T.u, sizeof(want), &m)); n++)
		;
	assert_int_equal(T.u->ops->tx_async(T.u, v, 2, &m, (void *)3), 0);
	assert_null(T.u->ops->tx_buffer(T.u, sizeof(want), &m));
	run_until(&T.done, 1);
	assert_int_equal(T.done_err, 0);
	assert_ptr_equal(T.cookies[0], (void *)3);
	assert_int_equal(far_recv(got, sizeof(got)), sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	/* Written: the buffer is free again. */
	assert_ptr_equal(T.u->ops->tx_buffer(T.u, sizeof(want), &m), buf);
	/* Refused (too many pieces): free again at once, no tx_done. */
	{
		struct iovec many[NET_UPLINK_MAX_FRAGS + 1];

		for (unsigned i = 0; i <= NET_UPLINK_MAX_FRAGS; i++)
			many[i] = (struct iovec){ buf + i * 4096, 64 };
		assert_true(T.u->ops->tx_async(T.u, many, NET_UPLINK_MAX_FRAGS + 1, &m, (void *)4) < 0);
		assert_ptr_equal(T.u->ops->tx_buffer(T.u, sizeof(want), &m), buf);
		assert_int_equal(T.done, 1);
	}
	T.u->ops->tx_buffer_put(T.u, buf);
	while (n)
		T.u->ops->tx_buffer_put(T.u, bufs[--n]);
}

static void test_rx(void **state)
{
	static uint8_t f[1500];
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };

	(void)state;
	frame(f, sizeof(f), OUR_MAC, FAR_MAC, 3);
	to.sll_ifindex = (int)if_nametoindex(T.u->name);
	memcpy(to.sll_addr, OUR_MAC, 6);
	assert_int_equal(sendto(T.ps, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)sizeof(f));
	run_until(&T.rx_frames, 1);
	assert_int_equal(T.rx_frames, 1);
	assert_int_equal(T.rx_len, sizeof(f));
	assert_memory_equal(T.rx, f, sizeof(f));
	assert_true(T.u->stats.rx_pkts >= 1);
}

/* With every buffer held by "guests" the reader stops (counted), and goes
 * on when they come back: nothing the kernel queued meanwhile is lost. */
static void test_rx_pool_exhausted(void **state)
{
	static uint8_t f[200];
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	const unsigned total = 300;

	(void)state;
	to.sll_ifindex = (int)if_nametoindex(T.u->name);
	memcpy(to.sll_addr, OUR_MAC, 6);
	T.hold = true;
	for (unsigned i = 0; i < total; i++) {
		frame(f, sizeof(f), OUR_MAC, FAR_MAC, (uint8_t)i);
		assert_int_equal(sendto(T.ps, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(f));
	}
	run_until(&T.rx_frames, total);
	/* The pool is 256 buffers; a few may have gone to the kernel's own
	 * frames (ND, MLD), which on_rx released. */
	assert_true(T.rx_frames <= 256);
	assert_true(T.rx_frames >= 250);
	assert_true(T.u->stats.rx_pool_empty > 0);
	T.hold = false;
	while (T.nheld)
		T.u->ops->rx_release(T.u, T.held[--T.nheld]);
	run_until(&T.rx_frames, total);
	assert_int_equal(T.rx_frames, total);
	/* In order: the last one is the last sent. */
	assert_memory_equal(T.rx, f, sizeof(f));
}

/* Writes queued but not submitted when the uplink closes still complete,
 * each with its tx_done, before the fd goes. */
static void test_close_completes_queued(void **state)
{
	static uint8_t a[200];
	struct iovec va[1] = { { a, sizeof(a) } };
	struct net_meta m = { 0 };

	(void)state;
	frame(a, sizeof(a), FAR_MAC, OUR_MAC, 4);
	assert_int_equal(T.u->ops->tx_async(T.u, va, 1, &m, (void *)7), 0);
	assert_int_equal(T.u->ops->tx_async(T.u, va, 1, &m, (void *)8), 0);
	T.u->ops->close(T.u);
	T.u = NULL;
	assert_int_equal(T.done, 2);
	assert_ptr_equal(T.cookies[1], (void *)8);
}

/* vhost = yes: the worker writes the frames, or, without /dev/vhost-net,
 * no uplink and one line that says what to load. */
static void test_vhost_required(void **state)
{
	struct net_uplink *u;
	char err[256] = "";

	(void)state;
	u = uplink_tap_open(T.loop, NULL, "bltest%d", BL_VHOST_YES, err, sizeof(err));
	if (access("/dev/vhost-net", R_OK | W_OK) == 0) {
		assert_non_null(u);
		assert_string_equal(u->engine, "vhost-net");
		u->ops->close(u);
		return;
	}
	assert_null(u);
	assert_non_null(strstr(err, "vhost = yes"));
	assert_non_null(strstr(err, "modprobe vhost_net"));
	assert_null(strchr(err, '\n'));
	/* auto carries on with writes of its own */
	u = uplink_tap_open(T.loop, NULL, "bltest%d", BL_VHOST_AUTO, err, sizeof(err));
	assert_non_null(u);
	assert_null(u->engine);
	u->ops->close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_batched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_copy_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_pool_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_completes_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vhost_required, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
