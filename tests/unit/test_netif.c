/*
 * test_netif.c - unit tests of the netif parsing layer (libblanket/netif.c).
 *
 * Requests are written the way a frontend would, byte by byte at the
 * offsets netif.h's diagrams give (not through the parser's structs, so that
 * a layout mistake there cannot hide), into rings in ordinary memory.  The
 * expected verdicts are xen-netback's (netback.c, hash.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "netif.h"

#define PAGE NETIF_PAGE_SIZE
#define HDR 64u     /* struct *_sring header */
#define TXE 12u     /* TX slot */
#define RXE 8u      /* RX slot */
#define CTE 16u     /* ctrl slot */
#define FILL 0xa5u  /* what unused ring bytes hold: never zero by luck */

#define ID0 1000u   /* id of a packet's first slot; further slot i has ID0 + i */
#define GREF0 500u

struct ctx {
	unsigned char *ring;  /* one page of its own (mmap), so it can be protected */
	unsigned size;        /* entries */
	RING_IDX cons, prod, rsp;
	struct netif_tx_pkt pkt;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->ring = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(c->ring != MAP_FAILED);
	memset(c->ring, FILL, PAGE);
	c->size = netif_tx_ring_size(1);
	c->cons = c->prod = c->rsp = 7;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	munmap(c->ring, PAGE);
	free(c);
	return 0;
}

/* ---- the frontend side ---- */

static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static uint16_t get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, sizeof(v)); return v; }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, sizeof(v)); return v; }

static unsigned char *tx_at(struct ctx *c, RING_IDX i)
{
	return c->ring + HDR + (size_t)(i & (c->size - 1)) * TXE;
}

/* tx request: gref @0, offset @4, flags @6, id @8, size @10 */
static void put_tx(struct ctx *c, RING_IDX i, uint32_t gref, uint16_t off, uint16_t flags,
		   uint16_t id, uint16_t size)
{
	unsigned char *e = tx_at(c, i);

	put32(e, gref);
	put16(e + 4, off);
	put16(e + 6, flags);
	put16(e + 8, id);
	put16(e + 10, size);
}

/* extra info: type @0, flags @1, 6 bytes of type-specific data @2 */
static void put_extra(struct ctx *c, RING_IDX i, uint8_t type, uint8_t flags, const uint8_t d[6])
{
	unsigned char *e = tx_at(c, i);

	e[0] = type;
	e[1] = flags;
	memcpy(e + 2, d, 6);
}

/* GSO: size @2, type @4, pad @5, features @6 */
static void put_gso(struct ctx *c, RING_IDX i, uint8_t flags, uint16_t size, uint8_t type)
{
	uint8_t d[6] = { 0 };

	memcpy(d, &size, 2);
	d[2] = type;
	d[4] = 0x34; /* features: ignored */
	put_extra(c, i, XEN_NETIF_EXTRA_TYPE_GSO, flags, d);
}

/*
 * A data packet at index at: the first slot (own share `own` bytes), then
 * `further` slots of `frag` bytes each, chained with more_data; first_flags
 * adds to the first slot's flags (more_data is set as needed).  Extras are
 * not written: with NETTXF_extra_info the caller writes them at at + 1 and
 * passes their count.  Returns the index after the packet.
 */
static RING_IDX put_packet(struct ctx *c, RING_IDX at, uint16_t own, unsigned further,
			   uint16_t frag, uint16_t first_flags, unsigned nextras)
{
	RING_IDX i = at + 1 + nextras;
	unsigned k;

	put_tx(c, at, GREF0, 0, first_flags | (further ? NETTXF_more_data : 0), ID0,
	       (uint16_t)(own + further * frag));
	for (k = 1; k <= further; k++, i++)
		put_tx(c, i, GREF0 + k, 0, k < further ? NETTXF_more_data : 0,
		       (uint16_t)(ID0 + k), frag);
	return i;
}

static enum netif_tx_verdict parse(struct ctx *c)
{
	return netif_tx_copy_packet(c->ring, c->size, c->cons, c->prod, c->rsp, &c->pkt);
}

static void expect(struct ctx *c, enum netif_tx_verdict v, enum netif_tx_reason why,
		   unsigned consumed)
{
	assert_int_equal(parse(c), v);
	assert_int_equal(c->pkt.reason, why);
	if (v != NETIF_TX_FATAL) {
		assert_int_equal(c->pkt.consumed, consumed);
		assert_int_equal(c->pkt.consumed, c->pkt.nr_slots + c->pkt.nr_extras);
	}
}

/* The ids of an ERROR packet: the first, then the further slots in order. */
static void expect_ids(struct ctx *c, unsigned nr_slots)
{
	unsigned k;

	assert_int_equal(c->pkt.nr_slots, nr_slots);
	for (k = 0; k < nr_slots; k++)
		assert_int_equal(c->pkt.slot[k].id, ID0 + k);
}

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

/* ---- TX: accepted packets ---- */

static void test_tx_single_slot(void **state)
{
	struct ctx *c = *state;

	put_tx(c, c->cons, 0x12345678, 100, NETTXF_csum_blank, 42, 60);
	c->prod = c->cons + 1;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 1);
	assert_int_equal(c->pkt.kind, NETIF_TX_DATA);
	assert_int_equal(c->pkt.nr_slots, 1);
	assert_int_equal(c->pkt.nr_extras, 0);
	assert_int_equal(c->pkt.len, 60);
	assert_int_equal(c->pkt.slot[0].gref, 0x12345678);
	assert_int_equal(c->pkt.slot[0].offset, 100);
	assert_int_equal(c->pkt.slot[0].size, 60);
	assert_int_equal(c->pkt.slot[0].id, 42);
	assert_int_equal(c->pkt.slot[0].flags, NETTXF_csum_blank);
	assert_true(c->pkt.csum_blank);
	assert_false(c->pkt.data_validated);
	assert_int_equal(c->pkt.extra_mask, 0);
}

static void test_tx_multi_slot(void **state)
{
	struct ctx *c = *state;

	/* 3000 bytes: 1500 in the first slot, 1000, then 500 at offset 2000. */
	put_tx(c, c->cons, 11, 0, NETTXF_more_data, 1, 3000);
	put_tx(c, c->cons + 1, 12, 0, NETTXF_more_data, 2, 1000);
	put_tx(c, c->cons + 2, 13, 2000, 0, 3, 500);
	c->prod = c->cons + 3;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 3);
	assert_int_equal(c->pkt.nr_slots, 3);
	assert_int_equal(c->pkt.len, 3000);
	assert_int_equal(c->pkt.slot[0].size, 1500);
	assert_int_equal(c->pkt.slot[1].size, 1000);
	assert_int_equal(c->pkt.slot[2].size, 500);
	assert_int_equal(c->pkt.slot[2].offset, 2000);
	assert_int_equal(c->pkt.slot[2].gref, 13);
	assert_int_equal(c->pkt.slot[1].id, 2);
	assert_int_equal(c->pkt.slot[2].id, 3);

	/* A packet only reads its own slots: one more produced changes nothing. */
	put_tx(c, c->cons + 3, 14, 0, 0, 4, 60);
	c->prod = c->cons + 4;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 3);

	/* Zero-sized further slots are allowed. */
	put_tx(c, c->cons + 2, 13, 4096, 0, 3, 0);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 3);
	assert_int_equal(c->pkt.slot[0].size, 2000);
}

static void test_tx_gso(void **state)
{
	struct ctx *c = *state;
	static const uint8_t types[] = { XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6 };
	unsigned t;

	for (t = 0; t < 2; t++) {
		c->prod = put_packet(c, c->cons, 1000, 3, 4000,
				     NETTXF_extra_info | NETTXF_csum_blank, 1);
		put_gso(c, c->cons + 1, 0, 1448, types[t]);
		expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 5);
		assert_int_equal(c->pkt.nr_extras, 1);
		assert_int_equal(c->pkt.nr_slots, 4);
		assert_int_equal(c->pkt.len, 13000);
		assert_true(netif_tx_has_extra(&c->pkt, XEN_NETIF_EXTRA_TYPE_GSO));
		assert_int_equal(c->pkt.extra_mask, 1u << XEN_NETIF_EXTRA_TYPE_GSO);
		assert_int_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_GSO].u.gso.size, 1448);
		assert_int_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_GSO].u.gso.type, types[t]);
		assert_int_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_GSO].u.gso.features, 0x34);
		/* The data slots come after the extra. */
		assert_int_equal(c->pkt.slot[1].id, ID0 + 1);
		assert_int_equal(c->pkt.slot[1].gref, GREF0 + 1);
		assert_int_equal(c->pkt.slot[0].size, 1000);
	}
}

static void test_tx_csum_flags(void **state)
{
	struct ctx *c = *state;
	static const struct { uint16_t flags; bool blank, valid; } cases[] = {
		{ 0, false, false },
		{ NETTXF_csum_blank, true, false },
		{ NETTXF_data_validated, false, true },
		{ NETTXF_csum_blank | NETTXF_data_validated, true, true },
	};
	unsigned k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		c->prod = put_packet(c, c->cons, 60, 1, 100, cases[k].flags, 0);
		/* Only the first slot's checksum flags count. */
		put16(tx_at(c, c->cons + 1) + 6, NETTXF_csum_blank | NETTXF_data_validated);
		expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 2);
		assert_int_equal(c->pkt.csum_blank, cases[k].blank);
		assert_int_equal(c->pkt.data_validated, cases[k].valid);
	}
}

static void test_tx_mcast(void **state)
{
	struct ctx *c = *state;
	static const uint8_t addr[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
	static const uint8_t addr2[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };

	/* netfront's dummy request: size 0... with more_data set, even: the
	 * multicast request ends with its extras and checks nothing else. */
	put_tx(c, c->cons, 0, 0, NETTXF_extra_info | NETTXF_more_data, 77, 0);
	put_extra(c, c->cons + 1, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, addr);
	put_tx(c, c->cons + 2, 0, 4000, 0, 78, 4000); /* would be fatal if read */
	c->prod = c->cons + 3;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 2);
	assert_int_equal(c->pkt.kind, NETIF_TX_MCAST_ADD);
	assert_int_equal(c->pkt.slot[0].id, 77);
	assert_memory_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_MCAST_ADD].u.mcast.addr, addr, 6);

	put_extra(c, c->cons + 1, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, 0, addr);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 2);
	assert_int_equal(c->pkt.kind, NETIF_TX_MCAST_DEL);
	assert_memory_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_MCAST_DEL].u.mcast.addr, addr, 6);

	/* Both: netback handles the add only.  A bad GSO extra alongside is
	 * never looked at. */
	put_extra(c, c->cons + 1, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, XEN_NETIF_EXTRA_FLAG_MORE, addr);
	put_gso(c, c->cons + 2, XEN_NETIF_EXTRA_FLAG_MORE, 0, 9);
	put_extra(c, c->cons + 3, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, addr2);
	c->prod = c->cons + 4;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 4);
	assert_int_equal(c->pkt.kind, NETIF_TX_MCAST_ADD);
	assert_int_equal(c->pkt.nr_extras, 3);
	assert_int_equal(c->pkt.nr_slots, 1);
	assert_memory_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_MCAST_ADD].u.mcast.addr, addr2, 6);

	/* Two of a type: the last counts. */
	put_extra(c, c->cons + 1, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE, addr);
	put_extra(c, c->cons + 2, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, addr2);
	c->prod = c->cons + 3;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 3);
	assert_memory_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_MCAST_ADD].u.mcast.addr, addr2, 6);
}

static void test_tx_hash_and_xdp_extras(void **state)
{
	struct ctx *c = *state;
	const uint8_t hash[6] = { _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
				  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0x78, 0x56, 0x34, 0x12 };
	const uint8_t xdp[6] = { 0x00, 0x01, 0, 0, 0, 0 };

	c->prod = put_packet(c, c->cons, 100, 1, 200, NETTXF_extra_info, 3);
	put_gso(c, c->cons + 1, XEN_NETIF_EXTRA_FLAG_MORE, 1400, XEN_NETIF_GSO_TYPE_TCPV4);
	put_extra(c, c->cons + 2, XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, hash);
	/* Linux's XDP extra (type 5): netback accepts and ignores it on TX. */
	put_extra(c, c->cons + 3, NETIF_EXTRA_TYPE_XDP, 0, xdp);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 5);
	assert_int_equal(c->pkt.extra_mask, (1u << XEN_NETIF_EXTRA_TYPE_GSO) |
			 (1u << XEN_NETIF_EXTRA_TYPE_HASH) | (1u << NETIF_EXTRA_TYPE_XDP));
	assert_int_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_HASH].u.hash.type,
			 _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	assert_int_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_HASH].u.hash.alg,
			 XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	assert_int_equal(c->pkt.extra[XEN_NETIF_EXTRA_TYPE_HASH].u.hash.value, 0x12345678);
	assert_int_equal(c->pkt.extra[NETIF_EXTRA_TYPE_XDP].u.xdp.headroom, 0x100);
	assert_int_equal(c->pkt.slot[1].id, ID0 + 1);
}

/* ---- TX: slot counts ---- */

static void test_tx_18_further_slots_ok(void **state)
{
	struct ctx *c = *state;

	c->prod = put_packet(c, c->cons, 100, NETIF_TX_LEGACY_SLOTS_MAX, 1000, 0, 0);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 19);
	assert_int_equal(c->pkt.nr_slots, NETIF_TX_MAX_OK_SLOTS);
	assert_int_equal(c->pkt.slot[18].id, ID0 + 18);

	/* With extras too: they do not count against the limit. */
	c->prod = put_packet(c, c->cons, 100, 18, 1000, NETTXF_extra_info, 1);
	put_gso(c, c->cons + 1, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV6);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 20);
}

static void test_tx_19_further_slots_error(void **state)
{
	struct ctx *c = *state;

	c->prod = put_packet(c, c->cons, 100, 19, 1000, 0, 0);
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_SLOTS_TOO_MANY, 20);
	expect_ids(c, 20);
}

static void test_tx_20_further_slots_error(void **state)
{
	struct ctx *c = *state;

	c->prod = put_packet(c, c->cons, 100, 20, 1000, NETTXF_extra_info, 1);
	put_gso(c, c->cons + 1, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_SLOTS_TOO_MANY, 22);
	expect_ids(c, NETIF_TX_MAX_SLOTS);
	assert_int_equal(c->pkt.nr_extras, 1);
}

static void test_tx_21_further_slots_fatal(void **state)
{
	struct ctx *c = *state;

	c->prod = put_packet(c, c->cons, 100, 21, 1000, 0, 0);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOTS_FATAL, 0);
	/* However many more. */
	c->prod = put_packet(c, c->cons, 100, 60, 1000, 0, 0);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOTS_FATAL, 0);
}

/* ---- TX: sizes and offsets ---- */

static void test_tx_slot_crosses_page(void **state)
{
	struct ctx *c = *state;

	/* A further slot ending exactly at the page end is fine... */
	put_tx(c, c->cons, 1, 0, NETTXF_more_data, 1, 1000);
	put_tx(c, c->cons + 1, 2, 3596, 0, 2, 500);
	c->prod = c->cons + 2;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 2);
	/* ...one byte further is fatal, */
	put16(tx_at(c, c->cons + 1) + 4, 3597);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOT_CROSSES_PAGE, 0);
	/* as is an offset past the page. */
	put_tx(c, c->cons + 1, 2, 5000, 0, 2, 0);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOT_CROSSES_PAGE, 0);

	/* The first slot, by its own share: 500 bytes at 3596 is fine, */
	put_tx(c, c->cons, 1, 3596, NETTXF_more_data, 1, 1000);
	put_tx(c, c->cons + 1, 2, 0, 0, 2, 500);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 2);
	/* 501 is fatal. */
	put_tx(c, c->cons + 1, 2, 0, 0, 2, 499);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_FIRST_CROSSES_PAGE, 0);
	put_tx(c, c->cons, 1, 4095, 0, 1, 14);
	c->prod = c->cons + 1;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_FIRST_CROSSES_PAGE, 0);
}

static void test_tx_first_smaller_than_rest(void **state)
{
	struct ctx *c = *state;

	put_tx(c, c->cons, 1, 0, NETTXF_more_data, ID0, 100);
	put_tx(c, c->cons + 1, 2, 0, NETTXF_more_data, ID0 + 1, 60);
	put_tx(c, c->cons + 2, 3, 0, 0, ID0 + 2, 41); /* 60 + 41 > 100 */
	c->prod = c->cons + 3;
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_SLOT_TOO_BIG, 3);
	expect_ids(c, 3);

	/* The whole chain is consumed, even past the slot that was too big. */
	put_tx(c, c->cons + 1, 2, 0, NETTXF_more_data, ID0 + 1, 101);
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_SLOT_TOO_BIG, 3);
	expect_ids(c, 3);

	/* Equal to the first: nothing left for the first slot, a runt. */
	put_tx(c, c->cons + 1, 2, 0, 0, ID0 + 1, 100);
	c->prod = c->cons + 2;
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_RUNT, 2);
}

static void test_tx_runt(void **state)
{
	struct ctx *c = *state;

	put_tx(c, c->cons, 1, 0, 0, ID0, 13);
	c->prod = c->cons + 1;
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_RUNT, 1);
	expect_ids(c, 1);
	put_tx(c, c->cons, 1, 0, 0, ID0, 14);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 1);
	put_tx(c, c->cons, 1, 0, 0, ID0, 0);
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_RUNT, 1);

	/* Multi-slot: the first slot's own share counts. */
	c->prod = put_packet(c, c->cons, 13, 2, 1000, 0, 0);
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_RUNT, 3);
	expect_ids(c, 3);
	c->prod = put_packet(c, c->cons, 14, 2, 1000, 0, 0);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 3);

	/* The runt check comes before the first slot's page check and the GSO
	 * checks, which would be fatal. */
	c->prod = put_packet(c, c->cons, 10, 0, 0, NETTXF_extra_info, 1);
	put16(tx_at(c, c->cons) + 4, 4090);
	put_gso(c, c->cons + 1, 0, 0, 7);
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_RUNT, 2);
}

static void test_tx_over_64k(void **state)
{
	struct ctx *c = *state;
	unsigned k;

	/* 70000 bytes: the 16-bit size wraps to 4464; 368 in the first slot,
	 * then 17 full pages.  The second page no longer fits: dropped, every
	 * slot consumed. */
	put_tx(c, c->cons, GREF0, 0, NETTXF_more_data, ID0, (uint16_t)70000);
	for (k = 1; k <= 17; k++)
		put_tx(c, c->cons + k, GREF0 + k, 0, k < 17 ? NETTXF_more_data : 0,
		       (uint16_t)(ID0 + k), 4096);
	c->prod = c->cons + 18;
	expect(c, NETIF_TX_ERROR, NETIF_TX_R_SLOT_TOO_BIG, 18);
	expect_ids(c, 18);

	/* 65535 is the most a packet can be. */
	c->prod = put_packet(c, c->cons, 65535 - 15 * 4096, 15, 4096, 0, 0);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 16);
	assert_int_equal(c->pkt.len, 65535);
}

/* ---- TX: extras ---- */

static void test_tx_extra_type_unknown(void **state)
{
	struct ctx *c = *state;
	static const uint8_t types[] = { XEN_NETIF_EXTRA_TYPE_NONE, NETIF_EXTRA_TYPE_MAX, 7, 255 };
	static const uint8_t zero[6];
	unsigned k;

	for (k = 0; k < sizeof(types); k++) {
		c->prod = put_packet(c, c->cons, 100, 1, 100, NETTXF_extra_info, 1);
		put_extra(c, c->cons + 1, types[k], 0, zero);
		expect(c, NETIF_TX_FATAL, NETIF_TX_R_EXTRA_TYPE, 0);
		/* Also after a good one. */
		c->prod = put_packet(c, c->cons, 100, 1, 100, NETTXF_extra_info, 2);
		put_gso(c, c->cons + 1, XEN_NETIF_EXTRA_FLAG_MORE, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
		put_extra(c, c->cons + 2, types[k], 0, zero);
		expect(c, NETIF_TX_FATAL, NETIF_TX_R_EXTRA_TYPE, 0);
	}
}

static void test_tx_bad_gso(void **state)
{
	struct ctx *c = *state;
	static const uint8_t bad[] = { XEN_NETIF_GSO_TYPE_NONE, 3, 0xff };
	unsigned k;

	c->prod = put_packet(c, c->cons, 100, 1, 100, NETTXF_extra_info, 1);
	for (k = 0; k < sizeof(bad); k++) {
		put_gso(c, c->cons + 1, 0, 1448, bad[k]);
		expect(c, NETIF_TX_FATAL, NETIF_TX_R_GSO_TYPE, 0);
	}
	put_gso(c, c->cons + 1, 0, 0, XEN_NETIF_GSO_TYPE_TCPV4);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_GSO_SIZE, 0);
	put_gso(c, c->cons + 1, 0, 1, XEN_NETIF_GSO_TYPE_TCPV6);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 3);
}

static void test_tx_extra_past_producer(void **state)
{
	struct ctx *c = *state;

	/* The first slot promises an extra that was not produced. */
	put_tx(c, c->cons, 1, 0, NETTXF_extra_info, 1, 60);
	c->prod = c->cons + 1;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_EXTRA_MISSING, 0);
	/* An extra promises another. */
	put_gso(c, c->cons + 1, XEN_NETIF_EXTRA_FLAG_MORE, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	c->prod = c->cons + 2;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_EXTRA_MISSING, 0);
	put_gso(c, c->cons + 1, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 2);
}

static void test_tx_slots_past_producer(void **state)
{
	struct ctx *c = *state;

	put_packet(c, c->cons, 100, 3, 100, 0, 0);
	c->prod = c->cons + 3; /* one short */
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOTS_MISSING, 0);
	c->prod = c->cons + 1;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOTS_MISSING, 0);
	c->prod = c->cons + 4; /* exactly */
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 4);
	/* Past the producer even though the drop limit is passed. */
	put_packet(c, c->cons, 100, 20, 100, 0, 0);
	c->prod = c->cons + 20;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOTS_MISSING, 0);
}

static void test_tx_fatal_after_drop(void **state)
{
	struct ctx *c = *state;

	/* Dropped for its 19 further slots, then a slot crossing the page:
	 * netback keeps walking the chain, and that is fatal. */
	c->prod = put_packet(c, c->cons, 100, 20, 100, 0, 0);
	put16(tx_at(c, c->cons + 20) + 4, 4000);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOT_CROSSES_PAGE, 0);
	/* Likewise after a slot too big. */
	c->prod = put_packet(c, c->cons, 100, 3, 100, 0, 0);
	put16(tx_at(c, c->cons + 1) + 10, 1000);
	put16(tx_at(c, c->cons + 3) + 4, 4000);
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_SLOT_CROSSES_PAGE, 0);
}

/* ---- TX: indexes ---- */

static void test_tx_producer_past_ring(void **state)
{
	struct ctx *c = *state;

	c->prod = put_packet(c, c->cons, 100, 0, 0, 0, 0);
	c->prod = c->cons + c->size + 1;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_RING_OVERFLOW, 0);
	c->prod = c->cons + c->size;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 1);
	/* 10 consumed, not yet answered: only size - 10 more may be produced. */
	c->rsp = c->cons - 10;
	c->prod = c->cons + c->size - 9;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_RING_OVERFLOW, 0);
	c->prod = c->cons + c->size - 10;
	expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 1);
	/* A producer that went backwards. */
	c->prod = c->cons - 1;
	expect(c, NETIF_TX_FATAL, NETIF_TX_R_RING_OVERFLOW, 0);
}

static void test_tx_empty(void **state)
{
	struct ctx *c = *state;

	c->prod = c->cons;
	expect(c, NETIF_TX_EMPTY, NETIF_TX_R_NONE, 0);
}

static void test_tx_index_wrap(void **state)
{
	struct ctx *c = *state;
	static const RING_IDX starts[] = { UINT32_MAX - 1, 254, 255, 0 };
	unsigned k;

	for (k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
		memset(c->ring, FILL, PAGE);
		c->cons = c->rsp = starts[k];
		c->prod = put_packet(c, c->cons, 100, 3, 200, NETTXF_extra_info, 1);
		put_gso(c, c->cons + 1, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
		expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 5);
		assert_int_equal(c->pkt.slot[3].id, ID0 + 3);
		assert_int_equal(c->pkt.slot[3].gref, GREF0 + 3);
		assert_int_equal(c->pkt.len, 700);
		/* And the next packet follows on. */
		c->cons += c->pkt.consumed;
		c->prod = put_packet(c, c->cons, 60, 0, 0, 0, 0);
		expect(c, NETIF_TX_OK, NETIF_TX_R_NONE, 1);
	}
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

#if defined(__x86_64__) && defined(__linux__)
/*
 * Watch every access to the ring page while the parser runs: the page is
 * made inaccessible; each fault records the address, opens the page and
 * single-steps the faulting instruction (trap flag), after which the page
 * is closed again.
 */
#define TRACE_MAX 512
static unsigned char *trace_page;
static volatile unsigned trace_n;
static uintptr_t trace_addr[TRACE_MAX];
static volatile bool trace_write;

static void trace_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)sig;
	if (a < (uintptr_t)trace_page || a >= (uintptr_t)trace_page + PAGE)
		abort(); /* a real crash */
	if (uc->uc_mcontext.gregs[REG_ERR] & 2)
		trace_write = true;
	if (trace_n < TRACE_MAX)
		trace_addr[trace_n++] = a;
	mprotect(trace_page, PAGE, PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= 0x100;
}

static void trace_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	mprotect(trace_page, PAGE, PROT_NONE);
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
}

struct trace {
	struct sigaction old_segv, old_trap;
};

static void trace_start(struct trace *t, unsigned char *page)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = trace_segv;
	assert_int_equal(sigaction(SIGSEGV, &sa, &t->old_segv), 0);
	sa.sa_sigaction = trace_trap;
	assert_int_equal(sigaction(SIGTRAP, &sa, &t->old_trap), 0);
	trace_page = page;
	trace_n = 0;
	trace_write = false;
	assert_int_equal(mprotect(page, PAGE, PROT_NONE), 0);
}

static void trace_stop(struct trace *t)
{
	assert_int_equal(mprotect(trace_page, PAGE, PROT_READ | PROT_WRITE), 0);
	sigaction(SIGSEGV, &t->old_segv, NULL);
	sigaction(SIGTRAP, &t->old_trap, NULL);
}

/*
 * The accesses of one parse, as slot positions relative to first_slot:
 * all reads, none in the header, each within the [0, nslots) slots, slots
 * visited in order and never revisited, and no address read twice.  The
 * compiler may split the one copy of a slot into several loads (gcc: 8 + 4
 * bytes; clang: one per field), but never loads the same place twice;
 * reading a field again after the copy would.
 */
static void check_trace(size_t entry, unsigned ring_size, RING_IDX first_slot, unsigned nslots)
{
	unsigned k, j, last = 0;

	assert_false(trace_write);
	assert_true(trace_n < TRACE_MAX);
	assert_true(trace_n >= nslots);
	for (k = 0; k < trace_n; k++) {
		uintptr_t off = trace_addr[k] - (uintptr_t)trace_page;
		unsigned slot, pos;

		assert_true(off >= HDR);
		slot = (unsigned)((off - HDR) / entry);
		assert_true(slot < ring_size);
		pos = (slot - first_slot) & (ring_size - 1);
		assert_true(pos < nslots);
		assert_true(k == 0 || pos == last || pos == last + 1);
		last = pos;
		for (j = 0; j < k; j++)
			assert_true(trace_addr[j] != trace_addr[k]);
	}
	assert_int_equal(last + 1, nslots);
}
#endif

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

/* ---- control ring ---- */

static unsigned char *ctrl_at(struct ctx *c, RING_IDX i)
{
	return c->ring + HDR + (size_t)(i & (netif_ctrl_ring_size(1) - 1)) * CTE;
}

/* id @0, type @2, data[0..2] @4, @8, @12 */
static uint32_t ctrl(struct ctx *c, const struct netif_hash *h, RING_IDX i, uint16_t type,
		     uint32_t d0, uint32_t d1, uint32_t d2, struct netif_ctrl_req *req)
{
	unsigned char *e = ctrl_at(c, i);

	put16(e, (uint16_t)(0x100 + type));
	put16(e + 2, type);
	put32(e + 4, d0);
	put32(e + 8, d1);
	put32(e + 12, d2);
	return netif_ctrl_copy_request(c->ring, netif_ctrl_ring_size(1), i, h, req);
}

static void test_ctrl_hash_algorithm(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;

	memset(&h, 0, sizeof(h));
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.id, 0x107);
	assert_int_equal(req.type, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);

	assert_int_equal(ctrl(c, &h, 1, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 2, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(req.action, NETIF_CTRL_ANSWER);
	assert_int_equal(ctrl(c, &h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_NONE);
}

static void test_ctrl_hash_flags(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;

	memset(&h, 0, sizeof(h));
	/* No algorithm yet: nothing to get, nothing to set. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			      XEN_NETIF_CTRL_HASH_TYPE_IPV4, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);

	h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_ANSWER);
	assert_int_equal(req.rsp_data, 0xf);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x10, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			      XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | XEN_NETIF_CTRL_HASH_TYPE_IPV6,
			      0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.flags, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | XEN_NETIF_CTRL_HASH_TYPE_IPV6);
	/* Zero turns hashing off. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
}

static void test_ctrl_hash_key(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;
	uint8_t key[NETIF_HASH_KEY_SIZE], zero[NETIF_HASH_KEY_SIZE] = { 0 };

	memset(&h, 0, sizeof(h));
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 41, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 0xffffffff, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	/* A refused request cannot be applied by mistake (it would clear the key). */
	memset(h.key, 0x11, sizeof(h.key));
	assert_int_equal(req.action, NETIF_CTRL_ANSWER);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(h.key[39], 0x11);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 40, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_COPY_KEY);
	assert_int_equal(req.gref, 33);
	assert_int_equal(req.len, 40);
	/* The caller must hand over exactly the bytes asked for. */
	assert_int_equal(netif_hash_apply(&h, &req, key, 39, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(netif_hash_apply(&h, &req, key, 40, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_memory_equal(h.key, key, 40);

	/* A short key: the rest is zero. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 4, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(netif_hash_apply(&h, &req, key, 4, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_memory_equal(h.key, key, 4);
	assert_memory_equal(h.key + 4, zero, 36);

	/* Size 0 clears it, without a grant copy. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_memory_equal(h.key, zero, 40);
}

static void test_ctrl_hash_mapping(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;
	uint32_t map[NETIF_HASH_MAPPING_SIZE];
	unsigned k;

	memset(&h, 0, sizeof(h));
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.rsp_data, NETIF_HASH_MAPPING_SIZE);

	/* Size bounds. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 129, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	/* No table yet: any non-empty mapping is out of range. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 1, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 128, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	h.mapping[5] = 3;
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.size, 128);
	assert_int_equal(h.mapping[5], 0); /* a new table is zeroed */

	/* Offsets: within the table, no wrap-around. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 100, 29, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 2, 0xffffffff, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 0xffffffff, 2, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 100, 28, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_COPY_MAPPING);
	assert_int_equal(req.gref, 9);
	assert_int_equal(req.len, 100);
	assert_int_equal(req.off, 28);

	/* Every entry must name a queue; a bad one rejects the whole table. */
	for (k = 0; k < 100; k++)
		map[k] = k % 4;
	map[99] = 4;
	assert_int_equal(netif_hash_apply(&h, &req, map, 400, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	for (k = 0; k < 128; k++)
		assert_int_equal(h.mapping[k], 0);
	map[99] = 3;
	assert_int_equal(netif_hash_apply(&h, &req, map, 396, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(netif_hash_apply(&h, &req, map, 400, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.mapping[27], 0);
	assert_int_equal(h.mapping[28], 0);
	assert_int_equal(h.mapping[29], 1);
	assert_int_equal(h.mapping[127], 3);

	/* An empty sub-table changes nothing. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 0, 128, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.mapping[127], 3);

	/* Shrinking the table invalidates sub-tables beyond it. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 100, 28, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	h.size = 64;
	assert_int_equal(netif_hash_apply(&h, &req, map, 400, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);

	/* Queue selection through the table, or modulo without one. */
	h.size = 128;
	assert_int_equal(netif_hash_queue(&h, 29 + 128 * 5, 4), 1);
	h.size = 0;
	assert_int_equal(netif_hash_queue(&h, 11, 4), 3);
	assert_int_equal(netif_hash_queue(&h, 11, 0), 0);
}

static void test_ctrl_unsupported_and_layout(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;
	static const uint16_t types[] = {
		XEN_NETIF_CTRL_TYPE_INVALID, XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE,
		XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING,
		11, 0xffff,
	};
	unsigned k, size = netif_ctrl_ring_size(1);
	unsigned char *e;

	memset(&h, 0, sizeof(h));
	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		assert_int_equal(ctrl(c, &h, 130, types[k], 1, 2, 3, &req),
				 XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
		assert_int_equal(req.action, NETIF_CTRL_ANSWER);
		assert_int_equal(req.type, types[k]);
		assert_int_equal(req.id, (uint16_t)(0x100 + types[k]));
		assert_int_equal(req.data[0], 1);
		assert_int_equal(req.data[2], 3);
		/* Refused: there is nothing to apply. */
		assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 1),
				 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	}

	/* Response: id @0, type @2, status @4, data @8; 12 of the 16 bytes. */
	memset(c->ring, FILL, PAGE);
	netif_ctrl_rsp(c->ring, size, size + 3, 0xabcd, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
		       XEN_NETIF_CTRL_STATUS_SUCCESS, 0xf);
	e = ctrl_at(c, 3);
	assert_int_equal(get16(e), 0xabcd);
	assert_int_equal(get16(e + 2), XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS);
	assert_int_equal(get32(e + 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(get32(e + 8), 0xf);
	assert_int_equal(e[12], FILL);

#if defined(__x86_64__) && defined(__linux__)
	{
		struct trace t;

		ctrl(c, &h, 5, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 1, 0, &req);
		trace_start(&t, c->ring);
		netif_ctrl_copy_request(c->ring, size, 5, &h, &req);
		trace_stop(&t);
		check_trace(CTE, size, 5, 1);
	}
#endif
}

/* ---- Toeplitz ---- */

/* Microsoft's RSS verification key and vectors ("Verifying the RSS Hash
 * Calculation"); the buffer is netif.h's: src addr, dst addr, src port,
 * dst port. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct vector {
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t ip, ip_tcp;
};

static const struct vector v4[] = {
	{ "66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178 },
	{ "199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea },
	{ "24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
	{ "38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f },
	{ "153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2 },
};
static const struct vector v6[] = {
	{ "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d },
	{ "3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf },
	{ "3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024,
	  0x4b61e985, 0x02d1feef },
};

static void make_flow(struct netif_flow *f, bool ipv6, bool tcp, const struct vector *v)
{
	uint16_t sp = htons(v->sport), dp = htons(v->dport);

	memset(f, 0, sizeof(*f));
	f->ipv6 = ipv6;
	f->tcp = tcp;
	assert_int_equal(inet_pton(ipv6 ? AF_INET6 : AF_INET, v->src, f->saddr), 1);
	assert_int_equal(inet_pton(ipv6 ? AF_INET6 : AF_INET, v->dst, f->daddr), 1);
	memcpy(f->sport, &sp, 2);
	memcpy(f->dport, &dp, 2);
}

static void test_toeplitz_vectors(void **state)
{
	struct netif_hash h;
	struct netif_flow f;
	uint32_t val;
	unsigned k;

	(void)state;
	memset(&h, 0, sizeof(h));
	memcpy(h.key, ms_key, sizeof(ms_key));
	h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	h.flags = NETIF_HASH_TYPES_ALL;

	for (k = 0; k < sizeof(v4) / sizeof(v4[0]); k++) {
		uint8_t buf[12];

		make_flow(&f, false, true, &v4[k]);
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
		assert_int_equal(val, v4[k].ip_tcp);
		f.tcp = false;
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV4);
		assert_int_equal(val, v4[k].ip);
		/* The same through netif_toeplitz on the buffer. */
		memcpy(buf, f.saddr, 4);
		memcpy(buf + 4, f.daddr, 4);
		memcpy(buf + 8, f.sport, 2);
		memcpy(buf + 10, f.dport, 2);
		assert_int_equal(netif_toeplitz(ms_key, 40, buf, 12), v4[k].ip_tcp);
		assert_int_equal(netif_toeplitz(ms_key, 40, buf, 8), v4[k].ip);
	}
	for (k = 0; k < sizeof(v6) / sizeof(v6[0]); k++) {
		make_flow(&f, true, true, &v6[k]);
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
		assert_int_equal(val, v6[k].ip_tcp);
		f.tcp = false;
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV6);
		assert_int_equal(val, v6[k].ip);
	}
}

static void test_toeplitz_edges(void **state)
{
	uint8_t buf[36], key[40];
	struct netif_hash h;
	struct netif_flow f;
	uint32_t val;
	unsigned k;

	(void)state;
	for (k = 0; k < sizeof(buf); k++)
		buf[k] = (uint8_t)(k * 37 + 1);
	/* Nothing hashed, or a zero key: zero. */
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 0), 0);
	memset(key, 0, sizeof(key));
	assert_int_equal(netif_toeplitz(key, 40, buf, 36), 0);
	/* Key bytes past keylen count as zero. */
	memcpy(key, ms_key, 10);
	assert_int_equal(netif_toeplitz(ms_key, 10, buf, 36), netif_toeplitz(key, 40, buf, 36));
	assert_int_equal(netif_toeplitz(ms_key, 0, buf, 36), 0);
	/* One set bit picks the 32 key bits at its position. */
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80;
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 1), 0x6d5a56da);
	buf[0] = 0x01;
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 1), 0xad2b6d12);
	buf[0] = 0;
	buf[1] = 0x80;
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 2), 0x5a56da25);

	/* The most specific type enabled; none without an algorithm. */
	memset(&h, 0, sizeof(h));
	memcpy(h.key, ms_key, sizeof(ms_key));
	make_flow(&f, false, true, &v4[0]);
	h.flags = NETIF_HASH_TYPES_ALL;
	assert_int_equal(netif_hash_flow(&h, &f, &val), -1);
	assert_int_equal(val, 0);
	h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV4);
	assert_int_equal(val, v4[0].ip);
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
	f.tcp = false;
	assert_int_equal(netif_hash_flow(&h, &f, &val), -1);
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
	assert_int_equal(netif_hash_flow(&h, &f, &val), -1);
}

static void test_reason_strings(void **state)
{
	unsigned r;

	(void)state;
	for (r = NETIF_TX_R_NONE; r <= NETIF_TX_R_RUNT; r++)
		assert_string_not_equal(netif_tx_reason_str((enum netif_tx_reason)r), "?");
	assert_string_equal(netif_tx_reason_str((enum netif_tx_reason)99), "?");
}

#define TX_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_sizes),
		cmocka_unit_test(test_ring_unconsumed),
		TX_TEST(test_tx_single_slot),
		TX_TEST(test_tx_multi_slot),
		TX_TEST(test_tx_gso),
		TX_TEST(test_tx_csum_flags),
		TX_TEST(test_tx_mcast),
		TX_TEST(test_tx_hash_and_xdp_extras),
		TX_TEST(test_tx_18_further_slots_ok),
		TX_TEST(test_tx_19_further_slots_error),
		TX_TEST(test_tx_20_further_slots_error),
		TX_TEST(test_tx_21_further_slots_fatal),
		TX_TEST(test_tx_slot_crosses_page),
		TX_TEST(test_tx_first_smaller_than_rest),
		TX_TEST(test_tx_runt),
		TX_TEST(test_tx_over_64k),
		TX_TEST(test_tx_extra_type_unknown),
		TX_TEST(test_tx_bad_gso),
		TX_TEST(test_tx_extra_past_producer),
		TX_TEST(test_tx_slots_past_producer),
		TX_TEST(test_tx_fatal_after_drop),
		TX_TEST(test_tx_producer_past_ring),
		TX_TEST(test_tx_empty),
		TX_TEST(test_tx_index_wrap),
		TX_TEST(test_tx_copy_once),
		TX_TEST(test_tx_reads_each_slot_once),
		TX_TEST(test_tx_writes_only_pkt),
		TX_TEST(test_tx_response_layout),
		TX_TEST(test_rx_request),
		TX_TEST(test_rx_response_layout),
		TX_TEST(test_rx_extra_layout),
		TX_TEST(test_ctrl_hash_algorithm),
		TX_TEST(test_ctrl_hash_flags),
		TX_TEST(test_ctrl_hash_key),
		TX_TEST(test_ctrl_hash_mapping),
		TX_TEST(test_ctrl_unsupported_and_layout),
		cmocka_unit_test(test_toeplitz_vectors),
		cmocka_unit_test(test_toeplitz_edges),
		cmocka_unit_test(test_reason_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
