/*
 * test_netif_ring.c - unit tests of the netif parser (libblanket/netif.c):
 * the shared rings themselves.  Ring sizes and unconsumed counts; a TX
 * packet copied once, each of its slots read once and nothing else read
 * or written; the layout of TX responses; RX requests, responses and
 * extras.  The frontend side and the access tracer are netif_harness.c.
 */
#include <stdlib.h>
#include <string.h>

#include "netif_harness.h"

/* ---- rings ---- */

static void test_ring_sizes(void **state)
{
	(void)state;
	/* ring.h's own arithmetic for one page. */
	assert_int_equal(netif_tx_ring_size(1), __CONST_RING_SIZE(netif_tx, PAGE));
	assert_int_equal(netif_rx_ring_size(1), __CONST_RING_SIZE(netif_rx, PAGE));
	assert_int_equal(netif_ctrl_ring_size(1), __CONST_RING_SIZE(xen_netif_ctrl, PAGE));
	assert_int_equal(netif_tx_ring_size(1), 256);
	assert_int_equal(netif_rx_ring_size(1), 256);
	assert_int_equal(netif_ctrl_ring_size(1), 128);
	assert_int_equal(netif_tx_ring_size(2), 512);
	assert_int_equal(netif_rx_ring_size(4), 1024);
	assert_int_equal(netif_tx_ring_size(0), 0);
}

static void test_ring_unconsumed(void **state)
{
	(void)state;
	assert_int_equal(netif_ring_unconsumed(10, 10, 10, 256), 0);
	assert_int_equal(netif_ring_unconsumed(266, 10, 10, 256), 256);
	assert_int_equal(netif_ring_unconsumed(267, 10, 10, 256), -1);
	/* Ahead of cons by less than a ring, but of what we answered by more. */
	assert_int_equal(netif_ring_unconsumed(267, 20, 10, 256), -1);
	assert_int_equal(netif_ring_unconsumed(266, 20, 10, 256), 246);
	/* Behind cons. */
	assert_int_equal(netif_ring_unconsumed(9, 10, 10, 256), -1);
	/* Across the 32-bit wrap. */
	assert_int_equal(netif_ring_unconsumed(3, UINT32_MAX - 4, UINT32_MAX - 9, 256), 8);
}

/* ---- TX: copy once ---- */

static void test_tx_copy_once(void **state)
{
	struct ctx *c = *state;
	struct netif_tx_pkt before;
	RING_IDX i;

	c->prod = put_packet(c, c->cons, 100, 5, 1000, NETTXF_extra_info | NETTXF_csum_blank, 1);
	put_gso(c, c->cons + 1, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 7);
	memcpy(&before, &c->pkt, sizeof(before));

	/* The frontend rewrites every slot: bigger sizes, crossing offsets,
	 * more slots, bad extras.  What was validated does not change. */
	for (i = c->cons; i != c->prod; i++)
		memset(tx_at(c, i), 0xff, TXE);
	assert_memory_equal(&before, &c->pkt, sizeof(before));
}

/* The parser reads each slot of the packet once, in order, and nothing
 * else of the ring: not the header, not the slots after the packet. */
static void test_tx_reads_each_slot_once(void **state)
{
#if defined(__x86_64__) && defined(__linux__)
	struct ctx *c = *state;
	struct trace t;
	enum netif_tx_verdict v;
	unsigned k;
	static const struct { unsigned further, extras; RING_IDX at; } cases[] = {
		{ 0, 0, 7 }, { 5, 2, 250 }, { 18, 1, 100 }, { 20, 1, 240 }, { 30, 0, 3 },
	};

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		unsigned e;

		memset(c->ring, FILL, PAGE);
		c->cons = c->rsp = cases[k].at;
		c->prod = put_packet(c, c->cons, 100, cases[k].further, 100,
				     cases[k].extras ? NETTXF_extra_info : 0, cases[k].extras);
		for (e = 1; e <= cases[k].extras; e++)
			put_gso(c, c->cons + e, e < cases[k].extras ? XEN_NETIF_EXTRA_FLAG_MORE : 0,
				1000, XEN_NETIF_GSO_TYPE_TCPV4);
		c->prod += 5; /* more produced after the packet: not to be read */

		trace_start(&t, c->ring);
		v = netif_tx_copy_packet(c->ring, c->size, c->cons, c->prod, c->rsp, &c->pkt);
		trace_stop(&t);
		if (cases[k].further <= NETIF_TX_FATAL_SLOTS) {
			assert_int_equal(v, cases[k].further <= 18 ? NETIF_TX_OK : NETIF_TX_ERROR);
			check_trace(TXE, c->size, c->cons & (c->size - 1), c->pkt.consumed);
		} else {
			/* Fatal at the 21st further slot, before reading it. */
			assert_int_equal(v, NETIF_TX_FATAL);
			check_trace(TXE, c->size, c->cons & (c->size - 1),
				    1 + cases[k].extras + NETIF_TX_FATAL_SLOTS);
		}
	}
#else
	(void)state;
	skip();
#endif
}

/* Nothing around *pkt is written, whatever the ring holds. */
static void test_tx_writes_only_pkt(void **state)
{
	struct ctx *c = *state;
	struct {
		unsigned char before[64];
		struct netif_tx_pkt pkt;
		unsigned char after[64];
	} box;
	unsigned char canary[64];
	unsigned k, i;

	memset(canary, 0x3c, sizeof(canary));
	memset(&box, 0x3c, sizeof(box));
	srand(1);
	for (k = 0; k < 20000; k++) {
		for (i = 0; i < 40; i++) {
			unsigned char *e = tx_at(c, c->cons + i);
			unsigned b;

			for (b = 0; b < TXE; b++)
				e[b] = (unsigned char)rand();
			/* Mostly chains, with extras of plausible types. */
			if (rand() % 4)
				e[6] |= NETTXF_more_data;
			if (rand() % 2)
				e[0] = (unsigned char)(rand() % 7);
		}
		c->prod = c->cons + (unsigned)(rand() % 40);
		netif_tx_copy_packet(c->ring, c->size, c->cons, c->prod, c->rsp, &box.pkt);
	}
	assert_memory_equal(box.before, canary, sizeof(canary));
	assert_memory_equal(box.after, canary, sizeof(canary));
}

/* ---- TX responses ---- */

static void test_tx_response_layout(void **state)
{
	struct ctx *c = *state;
	RING_IDX r = 254; /* the responses wrap around the ring */
	unsigned k, n;

	c->prod = put_packet(c, c->cons, 100, 19, 100, NETTXF_extra_info, 2);
	put_gso(c, c->cons + 1, XEN_NETIF_EXTRA_FLAG_MORE, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	put_gso(c, c->cons + 2, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_SLOTS_TOO_MANY, 22);

	memset(c->ring, FILL, PAGE);
	n = netif_tx_respond(c->ring, c->size, r, &c->pkt, NETIF_RSP_ERROR);
	assert_int_equal(n, 22);
	/* id @0, status @2; the slot's other 8 bytes untouched. */
	assert_int_equal(get16(tx_at(c, r)), ID0);
	assert_int_equal((int16_t)get16(tx_at(c, r) + 2), NETIF_RSP_ERROR);
	for (k = 1; k <= 2; k++)
		assert_int_equal((int16_t)get16(tx_at(c, r + k) + 2), NETIF_RSP_NULL);
	for (k = 1; k <= 19; k++) {
		unsigned char *e = tx_at(c, r + 2 + k);
		unsigned b;

		assert_int_equal(get16(e), ID0 + k);
		assert_int_equal((int16_t)get16(e + 2), NETIF_RSP_ERROR);
		for (b = 4; b < TXE; b++)
			assert_int_equal(e[b], FILL);
	}
	/* Nothing after. */
	assert_int_equal(tx_at(c, r + 22)[0], FILL);
	assert_int_equal(get32(c->ring), 0xa5a5a5a5); /* header */

	netif_tx_rsp(c->ring, c->size, 3, 0xbeef, NETIF_RSP_OKAY);
	assert_int_equal(get16(tx_at(c, 3)), 0xbeef);
	assert_int_equal(get16(tx_at(c, 3) + 2), NETIF_RSP_OKAY);
	assert_int_equal(tx_at(c, 3)[4], FILL);
}

/* ---- RX ---- */

static unsigned char *rx_at(struct ctx *c, unsigned size, RING_IDX i)
{
	return c->ring + HDR + (size_t)(i & (size - 1)) * RXE;
}

static void test_rx_request(void **state)
{
	struct ctx *c = *state;
	unsigned size = netif_rx_ring_size(1);
	struct netif_rx_req req;
	RING_IDX i = UINT32_MAX;

	/* id @0, pad @2, gref @4 */
	put16(rx_at(c, size, i), 0x1234);
	put16(rx_at(c, size, i) + 2, 0xffff);
	put32(rx_at(c, size, i) + 4, 0xdeadbeef);
	netif_rx_copy_request(c->ring, size, i, &req);
	assert_int_equal(req.id, 0x1234);
	assert_int_equal(req.gref, 0xdeadbeef);

#if defined(__x86_64__) && defined(__linux__)
	{
		struct trace t;

		trace_start(&t, c->ring);
		netif_rx_copy_request(c->ring, size, i, &req);
		trace_stop(&t);
		check_trace(RXE, size, i & (size - 1), 1);
	}
#endif
	/* Copied: a later rewrite does not reach it. */
	memset(rx_at(c, size, i), 0, RXE);
	assert_int_equal(req.gref, 0xdeadbeef);
}

static void test_rx_response_layout(void **state)
{
	struct ctx *c = *state;
	unsigned size = netif_rx_ring_size(1);
	unsigned char *e = rx_at(c, size, 300);

	/* id @0, offset @2, flags @4, status @6, in the request's own slot. */
	netif_rx_rsp(c->ring, size, 300, 0x1234, 64,
		     NETRXF_data_validated | NETRXF_csum_blank | NETRXF_more_data, 1514);
	assert_int_equal(get16(e), 0x1234);
	assert_int_equal(get16(e + 2), 64);
	assert_int_equal(get16(e + 4), 7);
	assert_int_equal((int16_t)get16(e + 6), 1514);
	assert_int_equal(e[8], FILL);
	assert_int_equal(e[-1], FILL);
	netif_rx_rsp(c->ring, size, 300, 1, 0, 0, NETIF_RSP_ERROR);
	assert_int_equal((int16_t)get16(e + 6), -1);
}

static void test_rx_extra_layout(void **state)
{
	struct ctx *c = *state;
	unsigned size = netif_rx_ring_size(1);
	unsigned char *e = rx_at(c, size, 5);
	struct netif_extra x;
	static const uint8_t gso[8] = { 1, 1, 0xa8, 0x05, 2, 0, 0, 0 };
	static const uint8_t hash[8] = { 4, 0, 3, 1, 0x78, 0x56, 0x34, 0x12 };
	static const uint8_t xdp[8] = { 5, 0, 0xc8, 0x00, 0, 0, 0, 0 };

	memset(&x, 0x77, sizeof(x)); /* fields not of the type are not written */
	x.type = XEN_NETIF_EXTRA_TYPE_GSO;
	x.flags = XEN_NETIF_EXTRA_FLAG_MORE;
	x.u.gso.size = 1448;
	x.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV6;
	x.u.gso.features = 0;
	netif_rx_put_extra(c->ring, size, 5, &x);
	assert_memory_equal(e, gso, 8);

	memset(&x, 0x77, sizeof(x));
	x.type = XEN_NETIF_EXTRA_TYPE_HASH;
	x.flags = 0;
	x.u.hash.type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
	x.u.hash.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	x.u.hash.value = 0x12345678;
	netif_rx_put_extra(c->ring, size, 5, &x);
	assert_memory_equal(e, hash, 8);

	memset(&x, 0x77, sizeof(x));
	x.type = NETIF_EXTRA_TYPE_XDP;
	x.flags = 0;
	x.u.xdp.headroom = 200;
	netif_rx_put_extra(c->ring, size, 5, &x);
	assert_memory_equal(e, xdp, 8);
	assert_int_equal(e[8], FILL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_sizes),
		cmocka_unit_test(test_ring_unconsumed),
		TX_TEST(test_tx_copy_once),
		TX_TEST(test_tx_reads_each_slot_once),
		TX_TEST(test_tx_writes_only_pkt),
		TX_TEST(test_tx_response_layout),
		TX_TEST(test_rx_request),
		TX_TEST(test_rx_response_layout),
		TX_TEST(test_rx_extra_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
