/*
 * fuzz_netif.c - libFuzzer target for the netif parsing layer.
 *
 * The input is a hostile frontend.  A header chooses the ring size and the
 * indexes (consumer, how much is awaiting responses, producer: sometimes an
 * impossible one); then come a control request with the vif's hash state,
 * the bytes a grant copy would fetch, and finally the TX ring's slots from
 * the consumer on.  Every TX ring byte outside [cons, prod) is poisoned for
 * AddressSanitizer, so reading past the producer or the header is caught.
 *
 * The TX verdict is checked against a second, independent model written the
 * way netback's xenvif_tx_build_gops/xenvif_get_extras/xenvif_count_requests
 * read (work_to_do counting down, a dropped_tx slot), and what the parser
 * accepts against the rules it must enforce.  Control requests are checked
 * against hash.c's rules, netif_hash_apply against its all-or-nothing
 * promise, and netif_toeplitz against a bit-by-bit reference.
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Ilibblanket tests/fuzz/fuzz_netif.c libblanket/netif.c -o fuzz_netif
 *   ./fuzz_netif -max_total_time=60
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "fuzz.h"
#include "netif.h"

#define HDR 64u
#define TXE 12u
#define MAX_PAGES 2u
#define MAX_FILLED 64u /* TX slots the input can fill from cons on */

/* Room for the largest ring plus the shift that puts slot cons on an
 * 8-byte boundary (ASan tracks 8-byte granules). */
static unsigned char ring_mem[MAX_PAGES * NETIF_PAGE_SIZE + 8]
	__attribute__((aligned(NETIF_PAGE_SIZE)));
/* The same ring, never poisoned: what the model reads. */
static unsigned char shadow[MAX_PAGES * NETIF_PAGE_SIZE];
static unsigned char rsp_ring[MAX_PAGES * NETIF_PAGE_SIZE];
static unsigned char ctrl_ring[NETIF_PAGE_SIZE + 8] __attribute__((aligned(NETIF_PAGE_SIZE)));

/* Take n bytes of input, zero-padded once it runs out. */
static void take(void *dst, size_t n, const uint8_t **data, size_t *size)
{
	size_t k = n < *size ? n : *size;

	memset(dst, 0, n);
	memcpy(dst, *data, k);
	*data += k;
	*size -= k;
}

static uint16_t get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ---- an independent model of netback's TX decisions ---- */

struct wire_tx { uint32_t gref; uint16_t offset, flags, id, size; };
struct wire_extra { uint8_t type, flags; uint16_t gso_size; uint8_t gso_type; };

static const unsigned char *model_slot(unsigned size, RING_IDX i)
{
	return shadow + HDR + (size_t)(i & (size - 1)) * TXE;
}

static struct wire_tx model_tx(unsigned size, RING_IDX i)
{
	const unsigned char *p = model_slot(size, i);
	struct wire_tx t = { get32(p), get16(p + 4), get16(p + 6), get16(p + 8), get16(p + 10) };

	return t;
}

static struct wire_extra model_extra(unsigned size, RING_IDX i)
{
	const unsigned char *p = model_slot(size, i);
	struct wire_extra e = { p[0], p[1], get16(p + 2), p[4] };

	return e;
}

struct model {
	enum netif_tx_verdict v;
	unsigned consumed;
	enum netif_tx_kind kind;
};

static struct model model(unsigned size, RING_IDX cons, RING_IDX prod, RING_IDX rsp)
{
	struct model m = { NETIF_TX_FATAL, 0, NETIF_TX_DATA };
	struct wire_extra extras[NETIF_EXTRA_TYPE_MAX - 1];
	struct wire_tx txreq, txp;
	RING_IDX idx;
	int work_to_do, slots = 0, drop_err = 0;
	unsigned req, room;

	if (prod - cons > size)                  /* "Impossible number of requests" */
		return m;
	if (prod - rsp > size)                   /* RING_REQUEST_PROD_OVERFLOW */
		return m;
	req = prod - cons;
	room = size - (cons - rsp);
	work_to_do = (int)(req < room ? req : room); /* XEN_RING_NR_UNCONSUMED_REQUESTS */
	if (!work_to_do) {
		m.v = NETIF_TX_EMPTY;
		return m;
	}
	idx = cons;
	txreq = model_tx(size, idx);
	work_to_do--;
	idx++;

	memset(extras, 0, sizeof(extras));
	if (txreq.flags & NETTXF_extra_info) {
		struct wire_extra extra;

		do {
			if (work_to_do-- <= 0)
				return m;               /* "Missing extra info" */
			extra = model_extra(size, idx++);
			if (!extra.type || extra.type >= NETIF_EXTRA_TYPE_MAX)
				return m;               /* "Invalid extra type" */
			extras[extra.type - 1] = extra;
		} while (extra.flags & XEN_NETIF_EXTRA_FLAG_MORE);
	}
	if (extras[XEN_NETIF_EXTRA_TYPE_MCAST_ADD - 1].type ||
	    extras[XEN_NETIF_EXTRA_TYPE_MCAST_DEL - 1].type) {
		m.v = NETIF_TX_OK;
		m.consumed = idx - cons;
		m.kind = extras[XEN_NETIF_EXTRA_TYPE_MCAST_ADD - 1].type ? NETIF_TX_MCAST_ADD
									 : NETIF_TX_MCAST_DEL;
		return m;
	}

	if (txreq.flags & NETTXF_more_data) {
		int more_data;

		do {
			if (slots >= work_to_do)
				return m;               /* "Asked for %d slots" */
			if (slots >= (int)NETIF_TX_FATAL_SLOTS)
				return m;               /* "Malicious frontend" */
			if (!drop_err && slots >= (int)NETIF_TX_LEGACY_SLOTS_MAX)
				drop_err = -1;
			txp = model_tx(size, idx + slots);
			if (!drop_err && txp.size > txreq.size)
				drop_err = -2;
			txreq.size -= txp.size;
			slots++;
			if (txp.offset + txp.size > 4096)
				return m;               /* "Cross page boundary" */
			more_data = txp.flags & NETTXF_more_data;
		} while (more_data);
		if (drop_err) {
			m.v = NETIF_TX_ERROR;
			m.consumed = idx + slots - cons;
			return m;
		}
	}
	idx += slots;
	m.consumed = idx - cons;
	if (txreq.size < 14) {
		m.v = NETIF_TX_ERROR;
		return m;
	}
	if (txreq.offset + txreq.size > 4096)
		return m;
	if (extras[XEN_NETIF_EXTRA_TYPE_GSO - 1].type) {
		if (!extras[XEN_NETIF_EXTRA_TYPE_GSO - 1].gso_size)
			return m;
		if (extras[XEN_NETIF_EXTRA_TYPE_GSO - 1].gso_type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		    extras[XEN_NETIF_EXTRA_TYPE_GSO - 1].gso_type != XEN_NETIF_GSO_TYPE_TCPV6)
			return m;
	}
	m.v = NETIF_TX_OK;
	return m;
}

/* ---- TX ---- */

static bool is_fatal_reason(enum netif_tx_reason r)
{
	return r >= NETIF_TX_R_RING_OVERFLOW && r <= NETIF_TX_R_GSO_TYPE;
}

static void check_pkt(const struct netif_tx_pkt *pkt, enum netif_tx_verdict v, unsigned size,
		      RING_IDX cons, RING_IDX prod)
{
	unsigned i, sum = 0;
	struct wire_tx first = model_tx(size, cons);

	CHECK(pkt->consumed == pkt->nr_slots + pkt->nr_extras);
	CHECK(pkt->consumed <= prod - cons);
	CHECK(pkt->nr_slots >= 1 && pkt->nr_slots <= NETIF_TX_MAX_SLOTS);
	CHECK(pkt->len == first.size);
	CHECK(pkt->csum_blank == !!(first.flags & NETTXF_csum_blank));
	CHECK(pkt->data_validated == !!(first.flags & NETTXF_data_validated));
	CHECK((pkt->nr_extras != 0) == !!(first.flags & NETTXF_extra_info));
	CHECK((pkt->extra_mask & 1u) == 0 && pkt->extra_mask < (1u << NETIF_EXTRA_TYPE_MAX));

	/* The extras are the slots after the first, chained with MORE. */
	for (i = 0; i < pkt->nr_extras; i++) {
		const unsigned char *p = model_slot(size, cons + 1 + i);

		CHECK(p[0] != 0 && p[0] < NETIF_EXTRA_TYPE_MAX);
		CHECK(pkt->extra_mask & (1u << p[0]));
		CHECK(!!(p[1] & XEN_NETIF_EXTRA_FLAG_MORE) == (i + 1 < pkt->nr_extras));
	}
	/* The data slots: exactly what the ring held. */
	for (i = 0; i < pkt->nr_slots; i++) {
		RING_IDX at = i == 0 ? cons : cons + pkt->nr_extras + i;
		struct wire_tx t = model_tx(size, at);

		CHECK(pkt->slot[i].gref == t.gref);
		CHECK(pkt->slot[i].offset == t.offset);
		CHECK(pkt->slot[i].flags == t.flags);
		CHECK(pkt->slot[i].id == t.id);
		if (i > 0) {
			CHECK(pkt->slot[i].size == t.size);
			sum += t.size;
			/* Chained with more_data to the last, which ends it. */
			CHECK(!!(pkt->slot[i - 1].flags & NETTXF_more_data) == 1);
		}
	}
	if (pkt->kind != NETIF_TX_DATA) {
		CHECK(v == NETIF_TX_OK && pkt->nr_slots == 1);
		CHECK(pkt->kind == NETIF_TX_MCAST_ADD
			      ? netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_MCAST_ADD)
			      : netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_MCAST_DEL) &&
					!netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_MCAST_ADD));
		return;
	}
	CHECK(!(pkt->slot[pkt->nr_slots - 1].flags & NETTXF_more_data));
	CHECK(pkt->nr_slots == 1 || (first.flags & NETTXF_more_data));
	CHECK(!netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_MCAST_ADD) &&
	      !netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_MCAST_DEL));

	if (v == NETIF_TX_OK) {
		/* What an accepted packet promises. */
		CHECK(pkt->reason == NETIF_TX_R_NONE);
		CHECK(pkt->nr_slots <= NETIF_TX_MAX_OK_SLOTS);
		CHECK(pkt->slot[0].size >= NETIF_ETH_HLEN);
		CHECK(sum + pkt->slot[0].size == pkt->len);
		for (i = 0; i < pkt->nr_slots; i++)
			CHECK((unsigned)pkt->slot[i].offset + pkt->slot[i].size <= NETIF_PAGE_SIZE);
		if (netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_GSO)) {
			const struct netif_extra *g = &pkt->extra[XEN_NETIF_EXTRA_TYPE_GSO];

			CHECK(g->u.gso.size != 0);
			CHECK(g->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ||
			      g->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6);
		}
	} else {
		CHECK(pkt->reason == NETIF_TX_R_SLOTS_TOO_MANY ||
		      pkt->reason == NETIF_TX_R_SLOT_TOO_BIG || pkt->reason == NETIF_TX_R_RUNT);
		/* The first reason found stands: a slot too big may come
		 * before the 19th further slot. */
		if (pkt->reason == NETIF_TX_R_SLOTS_TOO_MANY)
			CHECK(pkt->nr_slots > NETIF_TX_MAX_OK_SLOTS);
		if (pkt->nr_slots > NETIF_TX_MAX_OK_SLOTS)
			CHECK(pkt->reason != NETIF_TX_R_RUNT);
	}
}

/* Answer the packet and find the answers where netback puts them. */
static void check_respond(const struct netif_tx_pkt *pkt, unsigned size, RING_IDX r,
			  int16_t status)
{
	unsigned n, i;

	memset(rsp_ring, 0x5c, sizeof(rsp_ring));
	n = netif_tx_respond(rsp_ring, size, r, pkt, status);
	CHECK(n == pkt->consumed);
	for (i = 0; i < n; i++) {
		const unsigned char *p = rsp_ring + HDR + (size_t)((r + i) & (size - 1)) * TXE;
		bool extra = i >= 1 && i <= pkt->nr_extras;
		unsigned slot = i == 0 ? 0 : i - pkt->nr_extras;

		CHECK((int16_t)get16(p + 2) == (extra ? NETIF_RSP_NULL : status));
		if (!extra)
			CHECK(get16(p) == pkt->slot[slot].id);
		CHECK(p[4] == 0x5c && p[11] == 0x5c);
	}
	if (n < size)
		CHECK(rsp_ring[HDR + (size_t)((r + n) & (size - 1)) * TXE] == 0x5c);
}

static void fuzz_tx(const unsigned char *hdr, const uint8_t **data, size_t *size_left)
{
	unsigned pages = 1 + (hdr[0] & 1);
	unsigned size = netif_tx_ring_size(pages);
	RING_IDX cons, prod, rsp;
	unsigned outstanding, i;
	size_t first_at, shift, ring_bytes = (size_t)pages * NETIF_PAGE_SIZE;
	unsigned char *ring;
	struct netif_tx_pkt pkt, again;
	enum netif_tx_verdict v;
	struct model m;
	unsigned char fill[MAX_FILLED * TXE];

	memcpy(&cons, hdr + 1, 4);
	outstanding = get16(hdr + 5) % (size + 1);
	rsp = cons - outstanding;
	if ((hdr[7] & 7) == 0)
		prod = get32(hdr + 8);                        /* anything at all */
	else
		prod = cons + get16(hdr + 8) % (MAX_FILLED + 8); /* mostly sane */

	CHECK(size >= 256 && HDR + (size_t)size * TXE <= ring_bytes);
	first_at = HDR + (size_t)(cons & (size - 1)) * TXE;
	shift = (8 - first_at % 8) % 8;
	ring = ring_mem + shift;

	/* The ring: zeroes, then the input's slots from cons on. */
	memset(shadow, 0, ring_bytes);
	take(fill, sizeof(fill), data, size_left);
	for (i = 0; i < MAX_FILLED; i++)
		memcpy(shadow + HDR + (size_t)((cons + i) & (size - 1)) * TXE, fill + i * TXE, TXE);
	memcpy(ring, shadow, ring_bytes);

	/* Poison all but the produced, unconsumed slots: one range from slot
	 * cons (8-byte aligned, so exact) to the ring's end or prod, and the
	 * part that wraps to the ring's start (whose first granule may open
	 * up to 7 header bytes; the unit test checks the header is not read). */
	ASAN_POISON_MEMORY_REGION(ring_mem, sizeof(ring_mem));
	if (prod - cons <= size) {
		unsigned n = prod - cons, to_end = size - (cons & (size - 1));
		unsigned a = n < to_end ? n : to_end;

		ASAN_UNPOISON_MEMORY_REGION(ring + first_at, (size_t)a * TXE);
		if (n > a)
			ASAN_UNPOISON_MEMORY_REGION(ring + HDR, (size_t)(n - a) * TXE);
	}

	v = netif_tx_copy_packet(ring, size, cons, prod, rsp, &pkt);
	m = model(size, cons, prod, rsp);
	CHECK(v == m.v);
	if (v != NETIF_TX_FATAL)
		CHECK(pkt.consumed == m.consumed);
	if (v == NETIF_TX_OK)
		CHECK(pkt.kind == m.kind);

	/* The same ring always gives the same answer. */
	CHECK(netif_tx_copy_packet(ring, size, cons, prod, rsp, &again) == v);
	CHECK(memcmp(&pkt, &again, sizeof(pkt)) == 0);
	ASAN_UNPOISON_MEMORY_REGION(ring_mem, sizeof(ring_mem));

	switch (v) {
	case NETIF_TX_EMPTY:
		CHECK(prod == cons && pkt.consumed == 0 && pkt.reason == NETIF_TX_R_NONE);
		break;
	case NETIF_TX_FATAL:
		CHECK(is_fatal_reason(pkt.reason));
		CHECK((pkt.reason == NETIF_TX_R_RING_OVERFLOW) ==
		      (prod - cons > size || prod - rsp > size));
		break;
	case NETIF_TX_OK:
	case NETIF_TX_ERROR:
		check_pkt(&pkt, v, size, cons, prod);
		check_respond(&pkt, size, rsp + hdr[12],
			      v == NETIF_TX_ERROR ? NETIF_RSP_ERROR : NETIF_RSP_OKAY);
		break;
	default:
		CHECK(!"unknown verdict");
	}
	CHECK(strcmp(netif_tx_reason_str(pkt.reason), "?") != 0);
}

/* ---- RX ---- */

static void fuzz_rx(const unsigned char *hdr)
{
	unsigned size = netif_rx_ring_size(1);
	RING_IDX idx;
	unsigned char *slot;
	struct netif_rx_req req;
	struct netif_extra x;

	memcpy(&idx, hdr + 1, 4);
	slot = ring_mem + HDR + (size_t)(idx & (size - 1)) * 8;
	memcpy(slot, hdr + 5, 8);
	ASAN_POISON_MEMORY_REGION(ring_mem, sizeof(ring_mem));
	ASAN_UNPOISON_MEMORY_REGION(slot, 8);
	netif_rx_copy_request(ring_mem, size, idx, &req);
	CHECK(req.id == get16(hdr + 5) && req.gref == get32(hdr + 9));
	netif_rx_rsp(ring_mem, size, idx, req.id, get16(hdr + 3), get16(hdr + 7),
		     (int16_t)get16(hdr + 9));
	CHECK(get16(slot) == req.id && get16(slot + 2) == get16(hdr + 3) &&
	      get16(slot + 4) == get16(hdr + 7) && get16(slot + 6) == get16(hdr + 9));
	memset(&x, 0, sizeof(x));
	x.type = hdr[5];
	x.flags = hdr[6];
	memcpy(&x.u, hdr + 7, sizeof(x.u) < 6 ? sizeof(x.u) : 6);
	netif_rx_put_extra(ring_mem, size, idx, &x);
	CHECK(slot[0] == x.type && slot[1] == x.flags);
	ASAN_UNPOISON_MEMORY_REGION(ring_mem, sizeof(ring_mem));
}

/* ---- control ring ---- */

static void fuzz_ctrl(const uint8_t **data, size_t *size_left)
{
	unsigned char c[24];
	unsigned size = netif_ctrl_ring_size(1);
	struct netif_hash h, before;
	struct netif_ctrl_req req;
	uint32_t st, d0, d1, d2, i;
	unsigned char grant[NETIF_PAGE_SIZE];
	unsigned char *slot;
	unsigned num_queues;
	RING_IDX idx;
	size_t glen;
	bool short_copy;

	take(c, sizeof(c), data, size_left);
	memset(&h, 0, sizeof(h));
	h.alg = c[0] % 3;             /* 2: a value netback would never store */
	h.flags = c[1] & 0x1f;
	h.size = c[2] % (NETIF_HASH_MAPPING_SIZE + 1);
	num_queues = c[3] % 9;
	memcpy(&idx, c + 4, 4);
	d0 = get32(c + 12);
	d1 = get32(c + 16);
	d2 = get32(c + 20);
	/* Small sizes and offsets are the interesting ones. */
	if (c[0] & 0x80)
		d1 %= 160;
	if (c[0] & 0x40)
		d2 %= 160;

	slot = ctrl_ring + HDR + (size_t)(idx & (size - 1)) * 16;
	memcpy(slot, c + 8, 4);
	memcpy(slot + 4, &d0, 4);
	memcpy(slot + 8, &d1, 4);
	memcpy(slot + 12, &d2, 4);
	ASAN_POISON_MEMORY_REGION(ctrl_ring, sizeof(ctrl_ring));
	ASAN_UNPOISON_MEMORY_REGION(slot, 16);
	st = netif_ctrl_copy_request(ctrl_ring, size, idx, &h, &req);
	ASAN_UNPOISON_MEMORY_REGION(ctrl_ring, sizeof(ctrl_ring));

	CHECK(req.id == get16(c + 8) && req.type == get16(c + 10));
	CHECK(req.data[0] == d0 && req.data[1] == d1 && req.data[2] == d2);
	CHECK(st == XEN_NETIF_CTRL_STATUS_SUCCESS || st == XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED ||
	      st == XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	if (st != XEN_NETIF_CTRL_STATUS_SUCCESS)
		CHECK(req.action == NETIF_CTRL_ANSWER);
	if (req.type < XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS ||
	    req.type > XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM)
		CHECK(st == XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);

	switch (req.action) {
	case NETIF_CTRL_ANSWER:
		if (st == XEN_NETIF_CTRL_STATUS_SUCCESS)
			CHECK(req.type == XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS ||
			      req.type == XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE);
		if (req.type == XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS)
			CHECK((st == XEN_NETIF_CTRL_STATUS_SUCCESS) ==
			      (h.alg != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE));
		glen = 0;
		break;
	case NETIF_CTRL_APPLY:
		CHECK(st == XEN_NETIF_CTRL_STATUS_SUCCESS);
		glen = 0;
		break;
	case NETIF_CTRL_COPY_KEY:
		CHECK(req.type == XEN_NETIF_CTRL_TYPE_SET_HASH_KEY);
		CHECK(req.len >= 1 && req.len <= NETIF_HASH_KEY_SIZE && req.gref == d0);
		glen = req.len;
		break;
	case NETIF_CTRL_COPY_MAPPING:
		CHECK(req.type == XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING);
		CHECK(req.len >= 1 && (uint64_t)req.off + req.len <= h.size);
		CHECK(req.gref == d0 && req.len == d1 && req.off == d2);
		glen = (size_t)req.len * 4;
		break;
	default:
		CHECK(!"unknown action");
		return;
	}
	if (req.type == XEN_NETIF_CTRL_TYPE_SET_HASH_KEY && st == XEN_NETIF_CTRL_STATUS_SUCCESS)
		CHECK(d1 <= NETIF_HASH_KEY_SIZE);
	if (req.type == XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE)
		CHECK((st == XEN_NETIF_CTRL_STATUS_SUCCESS) == (d0 <= NETIF_HASH_MAPPING_SIZE));

	/* Carry it out with what a grant copy brought, sometimes mis-sized,
	 * and check the state only changed as promised. */
	take(grant, glen, data, size_left);
	short_copy = glen && (c[1] & 0x80);
	if (short_copy)
		glen--;
	before = h;
	st = netif_hash_apply(&h, &req, glen ? grant : NULL, glen, num_queues);
	if (req.action == NETIF_CTRL_ANSWER || short_copy)
		CHECK(st != XEN_NETIF_CTRL_STATUS_SUCCESS);
	if (st != XEN_NETIF_CTRL_STATUS_SUCCESS) {
		CHECK(memcmp(&h, &before, sizeof(h)) == 0);
	} else {
		CHECK(h.size <= NETIF_HASH_MAPPING_SIZE);
		CHECK(h.alg <= XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ || h.alg == before.alg);
		CHECK((h.flags & ~(uint32_t)NETIF_HASH_TYPES_ALL) == 0 || h.flags == before.flags);
		if (req.type == XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING) {
			for (i = 0; i < req.len; i++)
				CHECK(h.mapping[req.off + i] < num_queues);
			CHECK(memcmp(h.mapping, before.mapping, 4 * req.off) == 0);
		}
		if (req.type == XEN_NETIF_CTRL_TYPE_SET_HASH_KEY) {
			CHECK(memcmp(h.key, grant, req.len) == 0);
			for (i = req.len; i < NETIF_HASH_KEY_SIZE; i++)
				CHECK(h.key[i] == 0);
		}
	}
	CHECK(netif_hash_queue(&h, d0, num_queues) < (num_queues ? num_queues : 1));

	netif_ctrl_rsp(ctrl_ring, size, idx, req.id, req.type, st, d1);
	CHECK(get16(slot) == req.id && get16(slot + 2) == req.type && get32(slot + 4) == st &&
	      get32(slot + 8) == d1);
}

/* ---- Toeplitz against the definition ---- */

static unsigned key_bit(const uint8_t *key, size_t keylen, size_t i)
{
	return i / 8 < keylen ? (key[i / 8] >> (7 - i % 8)) & 1 : 0;
}

static void fuzz_toeplitz(const uint8_t **data, size_t *size_left)
{
	uint8_t key[48], buf[40];
	unsigned char c[2];
	size_t keylen, len, i, j;
	uint32_t want = 0;

	take(c, sizeof(c), data, size_left);
	keylen = c[0] % (sizeof(key) + 1);
	len = c[1] % (sizeof(buf) + 1);
	take(key, sizeof(key), data, size_left);
	take(buf, sizeof(buf), data, size_left);
	for (i = 0; i < 8 * len; i++) {
		uint32_t w = 0;

		if (!((buf[i / 8] >> (7 - i % 8)) & 1))
			continue;
		for (j = 0; j < 32; j++)
			w = w << 1 | key_bit(key, keylen, i + j);
		want ^= w;
	}
	CHECK(netif_toeplitz(key, keylen, buf, len) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char hdr[16];

	take(hdr, sizeof(hdr), &data, &size);
	fuzz_rx(hdr);
	fuzz_ctrl(&data, &size);
	fuzz_toeplitz(&data, &size);
	fuzz_tx(hdr, &data, &size);
	return 0;
}
