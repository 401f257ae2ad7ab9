/*
 * test_netif_tx.c - unit tests of the netif parser (libblanket/netif.c):
 * TX requests and netback's verdict on them.  Accepted packets, slot
 * counts, sizes and offsets, extras, ring indexes, and the names of the
 * reasons for a drop.  The frontend side is netif_harness.c.
 */
#include <string.h>

#include "netif_harness.h"

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

static void test_reason_strings(void **state)
{
	unsigned r;

	(void)state;
	for (r = NETIF_TX_R_NONE; r <= NETIF_TX_R_RUNT; r++)
		assert_string_not_equal(netif_tx_reason_str((enum netif_tx_reason)r), "?");
	assert_string_equal(netif_tx_reason_str((enum netif_tx_reason)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
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
		cmocka_unit_test(test_reason_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
