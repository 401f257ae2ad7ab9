/*
 * test_blkif_ring.c - unit tests of the blkif request parser
 * (libblanket/blkif.c): the ring itself, for each of the three ABIs.
 * Protocol names and ring sizes, where a response goes, the native layout
 * against xen/io/blkif.h's own structs, free-running indexes, and what the
 * parser touches: a request copied once, nothing read or written outside
 * its entry.  The frontend side is blkif_harness.c.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkif_harness.h"

/* ---- protocol names and ring sizes ---- */

static void test_proto_parse(void **state)
{
	(void)state;
	assert_int_equal(blkif_proto_parse(NULL), BLKIF_PROTO_NATIVE);
	assert_int_equal(blkif_proto_parse(""), BLKIF_PROTO_NATIVE);
	assert_int_equal(blkif_proto_parse("x86_32-abi"), BLKIF_PROTO_X86_32);
	assert_int_equal(blkif_proto_parse("x86_64-abi"), BLKIF_PROTO_X86_64);
	assert_int_equal(blkif_proto_parse("x86_16-abi"), -1);
	assert_int_equal(blkif_proto_parse("x86_32-abi "), -1);
	assert_int_equal(blkif_proto_parse("X86_64-ABI"), -1);
}

static void test_ring_size(void **state)
{
	unsigned n;

	(void)state;
	/* ring.h's own arithmetic for the native layout. */
	assert_int_equal(blkif_ring_size(BLKIF_PROTO_NATIVE, 1), __CONST_RING_SIZE(blkif, 4096));
	assert_int_equal(blkif_ring_size(BLKIF_PROTO_NATIVE, 2), __CONST_RING_SIZE(blkif, 8192));
	assert_int_equal(blkif_ring_size(BLKIF_PROTO_NATIVE, 16), __CONST_RING_SIZE(blkif, 65536));
	assert_int_equal(blkif_ring_size(BLKIF_PROTO_NATIVE, 1), 32);
	assert_int_equal(blkif_ring_size(BLKIF_PROTO_NATIVE, 16), 512);
	/* (4096n - 64) / 108 and / 112 round down to 32n for n = 1..16:
	 * e.g. 1 page: 37 or 36 -> 32; 16 pages: 606 or 584 -> 512. */
	for (n = 1; n <= BLK_MAX_RING_PAGES; n *= 2) {
		assert_int_equal(blkif_ring_size(BLKIF_PROTO_X86_32, n), 32 * n);
		assert_int_equal(blkif_ring_size(BLKIF_PROTO_X86_64, n), 32 * n);
	}
	/* Not a power of two of pages: (3*4096 - 64) / 112 = 109 -> 64. */
	assert_int_equal(blkif_ring_size(BLKIF_PROTO_X86_64, 3), 64);
	assert_int_equal(blkif_ring_size(BLKIF_PROTO_X86_32, 0), 0);
}

/* ---- responses ---- */

static void test_response_layout(void **state)
{
	struct ctx *c = *state;
	const unsigned char *e = entry_at(c, c->idx);
	unsigned char want[16];
	size_t i;

	blkif_put_response(c->proto, c->ring, c->ring_size, c->idx, 0x0102030405060708ull,
			   BLKIF_OP_DISCARD, BLKIF_RSP_EOPNOTSUPP);

	/* id at 0, operation at 8, status at 10, padding zeroed; little endian. */
	memset(want, 0, sizeof(want));
	put64(want, 0x0102030405060708ull);
	want[8] = BLKIF_OP_DISCARD;
	put16(want + 10, (uint16_t)BLKIF_RSP_EOPNOTSUPP);
	assert_memory_equal(e, want, c->L->rsp);
	/* The rest of the entry, and the entries around it, untouched. */
	for (i = c->L->rsp; i < c->L->entry; i++)
		assert_int_equal(e[i], FILL);
	for (i = 1; i <= c->L->entry; i++) {
		assert_int_equal(e[-(ptrdiff_t)i], FILL);
		assert_int_equal(e[c->L->entry + i - 1], FILL);
	}

	/* Against xen/io/blkif.h's own struct where the layout is native. */
	if (c->proto == BLKIF_PROTO_NATIVE) {
		blkif_back_ring_t back;

		BACK_RING_INIT(&back, (blkif_sring_t *)c->ring, (size_t)c->nr_pages * PAGE);
		assert_int_equal(RING_SIZE(&back), c->ring_size);
		blkif_put_response(c->proto, c->ring, c->ring_size, c->idx, 77, BLKIF_OP_WRITE,
				   BLKIF_RSP_ERROR);
		assert_int_equal(RING_GET_RESPONSE(&back, c->idx)->id, 77);
		assert_int_equal(RING_GET_RESPONSE(&back, c->idx)->operation, BLKIF_OP_WRITE);
		assert_int_equal(RING_GET_RESPONSE(&back, c->idx)->status, BLKIF_RSP_ERROR);
	}
}

/* Requests written through xen/io/blkif.h's structs and ring macros parse
 * as native: our layout is the header's. */
static void test_native_matches_xen_header(void **state)
{
	struct ctx *c = *state;
	blkif_front_ring_t front;
	blkif_request_t *rq;
	blkif_request_discard_t *dq;
	blkif_request_indirect_t *iq;

	SHARED_RING_INIT((blkif_sring_t *)c->ring);
	FRONT_RING_INIT(&front, (blkif_sring_t *)c->ring, (size_t)c->nr_pages * PAGE);
	assert_int_equal(RING_SIZE(&front), c->ring_size);

	rq = RING_GET_REQUEST(&front, c->idx);
	rq->operation = BLKIF_OP_WRITE;
	rq->nr_segments = 2;
	rq->id = 0xdeadbeefcafef00dull;
	rq->sector_number = 12345;
	rq->seg[0] = (struct blkif_request_segment){ .gref = 11, .first_sect = 1, .last_sect = 7 };
	rq->seg[1] = (struct blkif_request_segment){ .gref = 12, .first_sect = 0, .last_sect = 0 };
	expect(c, BLK_OK, 0xdeadbeefcafef00dull, BLKIF_OP_WRITE, BLKIF_OP_WRITE);
	assert_int_equal(c->req.sector_number, 12345);
	assert_int_equal(c->req.nr_sectors, 8);
	assert_int_equal(c->req.seg[1].gref, 12);

	dq = (blkif_request_discard_t *)RING_GET_REQUEST(&front, c->idx);
	dq->operation = BLKIF_OP_DISCARD;
	dq->flag = BLKIF_DISCARD_SECURE;
	dq->id = 5;
	dq->sector_number = 10;
	dq->nr_sectors = 20;
	expect(c, BLK_OK, 5, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	assert_int_equal(c->req.sector_number, 10);
	assert_int_equal(c->req.nr_sectors, 20);
	assert_int_equal(c->req.discard_secure, 1);

	iq = (blkif_request_indirect_t *)RING_GET_REQUEST(&front, c->idx);
	iq->operation = BLKIF_OP_INDIRECT;
	iq->indirect_op = BLKIF_OP_WRITE;
	iq->nr_segments = 100;
	iq->id = 6;
	iq->sector_number = 30;
	iq->indirect_grefs[0] = 0x4242;
	expect(c, BLK_NEED_INDIRECT, 6, BLKIF_OP_INDIRECT, BLKIF_OP_WRITE);
	assert_int_equal(c->req.nr_segments, 100);
	assert_int_equal(c->req.sector_number, 30);
	assert_int_equal(c->req.indirect_grefs[0], 0x4242);
}

/* ---- ring indexes ---- */

static void test_index_wraps(void **state)
{
	struct ctx *c = *state;
	const RING_IDX idxs[] = {
		c->ring_size, c->ring_size + 3, 5 * c->ring_size - 1, UINT32_MAX, UINT32_MAX - c->ring_size,
	};
	uint64_t id;
	unsigned i;

	for (i = 0; i < sizeof(idxs) / sizeof(idxs[0]); i++) {
		RING_IDX slot = idxs[i] & (c->ring_size - 1);

		memset(c->ring, FILL, (size_t)c->nr_pages * PAGE);
		/* Written at the slot itself, read through the free-running index. */
		put_rw(c, slot, BLKIF_OP_READ, 1000 + i, 0, 1, NULL);
		c->idx = idxs[i];
		expect(c, BLK_OK, 1000 + i, BLKIF_OP_READ, BLKIF_OP_READ);

		/* The response lands in the same slot. */
		blkif_put_response(c->proto, c->ring, c->ring_size, idxs[i], 2000 + i,
				   BLKIF_OP_READ, BLKIF_RSP_OKAY);
		memcpy(&id, entry_at(c, slot), sizeof(id));
		assert_int_equal(id, 2000 + i);
		assert_int_equal(entry_at(c, slot)[8], BLKIF_OP_READ);
	}
	/* The last slot ends inside the ring. */
	assert_true(HDR + (size_t)c->ring_size * c->L->entry <= (size_t)c->nr_pages * PAGE);
}

/* ---- copy once, and only the entry ---- */

static void test_copy_once(void **state)
{
	struct ctx *c = *state;
	struct blk_req before;
	unsigned char *e = entry_at(c, c->idx);

	put_rw(c, c->idx, BLKIF_OP_READ, 31, 16, 4, NULL);
	expect(c, BLK_OK, 31, BLKIF_OP_READ, BLKIF_OP_READ);
	memcpy(&before, &c->req, sizeof(before));

	/* The frontend rewrites the entry: a write, more segments, a bad one. */
	e[0] = BLKIF_OP_WRITE;
	e[1] = 200;
	memset(e + c->L->seg, 0xff, 8 * BLKIF_MAX_SEGMENTS_PER_REQUEST);
	put64(e + c->L->sector, UINT64_MAX);
	assert_memory_equal(&before, &c->req, sizeof(before));
}

/* blkif_copy_request reads only the entry and blkif_put_response writes only
 * within it: both stay clear of guard pages placed right before and right
 * after it (the ring header lies in the guard, which the parser must not
 * need either). */
static void test_touches_only_the_entry(void **state)
{
	struct ctx *c = *state;
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *map = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const RING_IDX slot = 3;
	unsigned char *e[2], *sring;
	unsigned k;

	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map, pg, PROT_NONE), 0);
	assert_int_equal(mprotect(map + 2 * pg, pg, PROT_NONE), 0);
	e[0] = map + pg;                    /* just after a guard */
	e[1] = map + 2 * pg - c->L->entry;  /* just before one */
	for (k = 0; k < 2; k++) {
		unsigned char *saved = c->ring;

		sring = e[k] - HDR - slot * c->L->entry;
		c->ring = sring;
		put_rw(c, slot, BLKIF_OP_WRITE, 50 + k, 0, 11, NULL);
		c->idx = slot + c->ring_size;
		expect(c, BLK_OK, 50 + k, BLKIF_OP_WRITE, BLKIF_OP_WRITE);
		put_indirect(c, slot, BLKIF_OP_READ, 256, 60 + k, 0);
		expect(c, BLK_NEED_INDIRECT, 60 + k, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
		blkif_put_response(c->proto, sring, c->ring_size, c->idx, 1, 2, 3);
		c->ring = saved;
	}
	munmap(map, 4 * pg);
}

/* Whatever the request, nothing around *req is written. */
static void test_writes_only_req(void **state)
{
	struct ctx *c = *state;
	struct {
		unsigned char before[64];
		struct blk_req req;
		unsigned char after[64];
	} box;
	const void *pages[1] = { entry_at(c, c->idx) };
	unsigned char canary[64];
	unsigned op, b1;

	memset(canary, 0x3c, sizeof(canary));
	memset(&box, 0x3c, sizeof(box));
	/* Every operation, with every nr_segments, flag or indirect_op. */
	for (op = 0; op < 256; op++) {
		for (b1 = 0; b1 < 256; b1++) {
			put_rw(c, c->idx, (uint8_t)op, op, 0, 11, NULL);
			entry_at(c, c->idx)[1] = (uint8_t)b1;
			put16(entry_at(c, c->idx) + 2, (uint16_t)(b1 + op)); /* indirect nr_segments */
			if (blkif_copy_request(c->proto, c->ring, c->ring_size, c->idx, &c->lim,
					       &box.req) == BLK_NEED_INDIRECT)
				blkif_copy_indirect(&box.req, pages, &c->lim);
		}
	}
	assert_memory_equal(box.before, canary, sizeof(canary));
	assert_memory_equal(box.after, canary, sizeof(canary));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_parse),
		cmocka_unit_test(test_ring_size),
		ABI_TESTS(test_response_layout),
		ABI_TEST(test_native_matches_xen_header, native),
		ABI_TESTS(test_index_wraps),
		ABI_TESTS(test_copy_once),
		ABI_TESTS(test_touches_only_the_entry),
		ABI_TESTS(test_writes_only_req),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
