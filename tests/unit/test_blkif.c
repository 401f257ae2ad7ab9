/*
 * test_blkif.c - unit tests of the blkif request parser (libblanket/blkif.c).
 *
 * Requests are written the way a frontend would, byte by byte at the
 * offsets each ABI defines (not through the parser's own structs, so that a
 * layout mistake there cannot hide), into rings in ordinary memory.  Most
 * tests run once per ABI; each ABI gets a different ring size (1, 2 and 16
 * pages) so that entry offsets are exercised on all three.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkif.h"

#define PAGE BLK_PAGE_SIZE
#define HDR 64u    /* struct blkif_sring header, identical in every ABI */
#define FILL 0xa5u /* what unused ring bytes hold: never zero by luck */
#define DISK_SECTORS 1000000u

/* Where an ABI puts things (xen/io/blkif.h and blkback's common.h). */
struct layout {
	size_t entry;        /* entry stride: the request size */
	size_t id;           /* id, the same for every operation */
	size_t sector;       /* sector_number */
	size_t seg;          /* r/w segments (8 bytes each) */
	size_t discard_nr;   /* discard nr_sectors */
	size_t ind_grefs;    /* indirect_grefs */
	size_t rsp;          /* response size */
};
static const struct layout layout_x86_32 = { 108, 4, 12, 20, 20, 24, 12 };
static const struct layout layout_x86_64 = { 112, 8, 16, 24, 24, 28, 16 };

static const struct layout *layout_of(enum blkif_proto proto)
{
	if (proto == BLKIF_PROTO_NATIVE)
		return offsetof(struct blkif_request, id) == 4 ? &layout_x86_32 : &layout_x86_64;
	return proto == BLKIF_PROTO_X86_32 ? &layout_x86_32 : &layout_x86_64;
}

struct param {
	enum blkif_proto proto;
	unsigned nr_pages;
};
static const struct param p_native = { BLKIF_PROTO_NATIVE, 1 };
static const struct param p_x86_32 = { BLKIF_PROTO_X86_32, 2 };
static const struct param p_x86_64 = { BLKIF_PROTO_X86_64, 16 };

struct ctx {
	enum blkif_proto proto;
	const struct layout *L;
	unsigned nr_pages, ring_size;
	RING_IDX idx;             /* where tests put their request */
	unsigned char *ring;
	struct blk_limits lim;
	struct blk_req req;
};

static int setup(void **state)
{
	const struct param *p = *state;
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->proto = p->proto;
	c->L = layout_of(p->proto);
	c->nr_pages = p->nr_pages;
	c->ring_size = blkif_ring_size(p->proto, p->nr_pages);
	c->idx = 7;
	c->ring = aligned_alloc(PAGE, (size_t)p->nr_pages * PAGE);
	assert_non_null(c->ring);
	memset(c->ring, FILL, (size_t)p->nr_pages * PAGE);
	c->lim = (struct blk_limits){
		.sectors = DISK_SECTORS, .max_indirect_segments = 256,
		.flush = true, .barrier = true, .discard = true,
	};
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	free(c->ring);
	free(c);
	return 0;
}

/* ---- the frontend side: encode requests ---- */

static unsigned char *entry_at(struct ctx *c, RING_IDX idx)
{
	return c->ring + HDR + (size_t)(idx & (c->ring_size - 1)) * c->L->entry;
}

static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

struct tseg {
	uint32_t gref;
	uint8_t first, last;
};

static void put_seg(unsigned char *p, struct tseg s)
{
	put32(p, s.gref);
	p[4] = s.first;
	p[5] = s.last;
}

/* READ, WRITE, WRITE_BARRIER or FLUSH_DISKCACHE, with nseg segments; segment
 * i is seg[i] if given, else a whole page.  Slots past nseg keep FILL. */
static void put_rw(struct ctx *c, RING_IDX idx, uint8_t op, uint64_t id, uint64_t sector,
		   unsigned nseg, const struct tseg *seg)
{
	unsigned char *e = entry_at(c, idx);
	unsigned i;

	e[0] = op;
	e[1] = (uint8_t)nseg;
	put16(e + 2, 0x51ca); /* handle: ignored */
	put64(e + c->L->id, id);
	put64(e + c->L->sector, sector);
	for (i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		put_seg(e + c->L->seg + 8 * i,
			seg ? seg[i] : (struct tseg){ 100 + i, 0, 7 });
}

static void put_discard(struct ctx *c, RING_IDX idx, uint8_t flag, uint64_t id,
			uint64_t sector, uint64_t nr)
{
	unsigned char *e = entry_at(c, idx);

	e[0] = BLKIF_OP_DISCARD;
	e[1] = flag;
	put64(e + c->L->id, id);
	put64(e + c->L->sector, sector);
	put64(e + c->L->discard_nr, nr);
}

static void put_indirect(struct ctx *c, RING_IDX idx, uint8_t iop, uint16_t nseg,
			 uint64_t id, uint64_t sector)
{
	unsigned char *e = entry_at(c, idx);
	unsigned i;

	e[0] = BLKIF_OP_INDIRECT;
	e[1] = iop;
	put16(e + 2, nseg);
	put64(e + c->L->id, id);
	put64(e + c->L->sector, sector);
	for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		put32(e + c->L->ind_grefs + 4 * i, 0x1000 + i);
}

static enum blk_verdict parse(struct ctx *c)
{
	return blkif_copy_request(c->proto, c->ring, c->ring_size, c->idx, &c->lim, &c->req);
}

/* A verdict, with the id and the op to answer filled in. */
static void expect(struct ctx *c, enum blk_verdict want, uint64_t id, uint8_t operation,
		   uint8_t op)
{
	assert_int_equal(parse(c), want);
	assert_int_equal(c->req.id, id);
	assert_int_equal(c->req.operation, operation);
	assert_int_equal(c->req.op, op);
	assert_int_equal(blk_req_rsp_op(&c->req), op);
}

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

/* ---- READ and WRITE ---- */

static void test_read_write_ok(void **state)
{
	struct ctx *c = *state;
	struct tseg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	unsigned i;

	for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		seg[i] = (struct tseg){ 0xabc00 + i, (uint8_t)(i % 8), 7 };

	put_rw(c, c->idx, BLKIF_OP_READ, 0x1122334455667788ull, 4096, 11, seg);
	expect(c, BLK_OK, 0x1122334455667788ull, BLKIF_OP_READ, BLKIF_OP_READ);
	assert_int_equal(c->req.nr_segments, 11);
	assert_int_equal(c->req.sector_number, 4096);
	for (i = 0; i < 11; i++) {
		assert_int_equal(c->req.seg[i].gref, 0xabc00 + i);
		assert_int_equal(c->req.seg[i].first_sect, i % 8);
		assert_int_equal(c->req.seg[i].last_sect, 7);
	}
	/* 8+7+6+5+4+3+2+1 + 8+7+6 */
	assert_int_equal(c->req.nr_sectors, 57);
	assert_int_equal(blk_seg_off(&c->req.seg[3]), 3 * 512);
	assert_int_equal(blk_seg_len(&c->req.seg[3]), 5 * 512);

	put_rw(c, c->idx, BLKIF_OP_WRITE, 9, 0, 1, (struct tseg[]){ { 77, 2, 2 } });
	expect(c, BLK_OK, 9, BLKIF_OP_WRITE, BLKIF_OP_WRITE);
	assert_int_equal(c->req.nr_segments, 1);
	assert_int_equal(c->req.nr_sectors, 1);
	assert_int_equal(c->req.seg[0].gref, 77);
}

static void test_rw_segment_count(void **state)
{
	struct ctx *c = *state;
	uint8_t op;

	for (op = BLKIF_OP_READ; op <= BLKIF_OP_WRITE; op++) {
		put_rw(c, c->idx, op, 1, 0, 0, NULL);
		expect(c, BLK_ERROR, 1, op, op);
		assert_int_equal(c->req.nr_segments, 0);
		put_rw(c, c->idx, op, 2, 0, 12, NULL);
		expect(c, BLK_ERROR, 2, op, op);
		assert_int_equal(c->req.nr_segments, 0);
		put_rw(c, c->idx, op, 3, 0, 255, NULL);
		expect(c, BLK_ERROR, 3, op, op);
		put_rw(c, c->idx, op, 4, 0, 11, NULL);
		expect(c, BLK_OK, 4, op, op);
	}
}

static void test_rw_bad_segment(void **state)
{
	struct ctx *c = *state;
	struct tseg seg[3] = { { 1, 0, 7 }, { 2, 0, 7 }, { 3, 0, 7 } };

	seg[1] = (struct tseg){ 2, 4, 3 }; /* first > last */
	put_rw(c, c->idx, BLKIF_OP_READ, 5, 0, 3, seg);
	expect(c, BLK_ERROR, 5, BLKIF_OP_READ, BLKIF_OP_READ);

	seg[1] = (struct tseg){ 2, 0, 8 }; /* last past the page */
	put_rw(c, c->idx, BLKIF_OP_WRITE, 6, 0, 3, seg);
	expect(c, BLK_ERROR, 6, BLKIF_OP_WRITE, BLKIF_OP_WRITE);

	seg[2] = (struct tseg){ 3, 8, 8 };
	seg[1] = (struct tseg){ 2, 7, 7 }; /* the last sector of a page is fine */
	put_rw(c, c->idx, BLKIF_OP_READ, 7, 0, 2, seg);
	expect(c, BLK_OK, 7, BLKIF_OP_READ, BLKIF_OP_READ);
	assert_int_equal(c->req.nr_sectors, 9);
	put_rw(c, c->idx, BLKIF_OP_READ, 7, 0, 3, seg); /* ... but not first = 8 */
	expect(c, BLK_ERROR, 7, BLKIF_OP_READ, BLKIF_OP_READ);
}

static void test_rw_range(void **state)
{
	struct ctx *c = *state;

	/* Two whole pages: 16 sectors ending exactly at the end of the disk. */
	put_rw(c, c->idx, BLKIF_OP_READ, 1, DISK_SECTORS - 16, 2, NULL);
	expect(c, BLK_OK, 1, BLKIF_OP_READ, BLKIF_OP_READ);
	put_rw(c, c->idx, BLKIF_OP_READ, 2, DISK_SECTORS - 15, 2, NULL);
	expect(c, BLK_ERROR, 2, BLKIF_OP_READ, BLKIF_OP_READ);
	put_rw(c, c->idx, BLKIF_OP_WRITE, 3, DISK_SECTORS, 1, NULL);
	expect(c, BLK_ERROR, 3, BLKIF_OP_WRITE, BLKIF_OP_WRITE);
	/* sector + 8 wraps to 4, which a naive check would take as on the disk. */
	put_rw(c, c->idx, BLKIF_OP_READ, 4, UINT64_MAX - 3, 1, NULL);
	expect(c, BLK_ERROR, 4, BLKIF_OP_READ, BLKIF_OP_READ);
	put_rw(c, c->idx, BLKIF_OP_WRITE, 5, UINT64_MAX, 1, NULL);
	expect(c, BLK_ERROR, 5, BLKIF_OP_WRITE, BLKIF_OP_WRITE);
	/* Even on a disk as big as the sector numbers go. */
	c->lim.sectors = UINT64_MAX;
	put_rw(c, c->idx, BLKIF_OP_READ, 6, UINT64_MAX - 8, 1, NULL);
	expect(c, BLK_OK, 6, BLKIF_OP_READ, BLKIF_OP_READ);
	put_rw(c, c->idx, BLKIF_OP_READ, 7, UINT64_MAX - 7, 1, NULL);
	expect(c, BLK_ERROR, 7, BLKIF_OP_READ, BLKIF_OP_READ);
}

static void test_readonly(void **state)
{
	struct ctx *c = *state;

	c->lim.readonly = true;
	put_rw(c, c->idx, BLKIF_OP_READ, 1, 0, 3, NULL);
	expect(c, BLK_OK, 1, BLKIF_OP_READ, BLKIF_OP_READ);
	put_rw(c, c->idx, BLKIF_OP_WRITE, 2, 0, 3, NULL);
	expect(c, BLK_ERROR, 2, BLKIF_OP_WRITE, BLKIF_OP_WRITE);
	put_rw(c, c->idx, BLKIF_OP_WRITE_BARRIER, 3, 0, 1, NULL);
	expect(c, BLK_ERROR, 3, BLKIF_OP_WRITE_BARRIER, BLKIF_OP_WRITE_BARRIER);
	put_rw(c, c->idx, BLKIF_OP_FLUSH_DISKCACHE, 4, 0, 1, NULL);
	expect(c, BLK_ERROR, 4, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_FLUSH_DISKCACHE);
	/* Without data a flush or barrier writes nothing. */
	put_rw(c, c->idx, BLKIF_OP_FLUSH_DISKCACHE, 5, 0, 0, NULL);
	expect(c, BLK_OK, 5, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_FLUSH_DISKCACHE);
	put_rw(c, c->idx, BLKIF_OP_WRITE_BARRIER, 6, 0, 0, NULL);
	expect(c, BLK_OK, 6, BLKIF_OP_WRITE_BARRIER, BLKIF_OP_WRITE_BARRIER);
	put_discard(c, c->idx, 0, 7, 0, 8);
	expect(c, BLK_ERROR, 7, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	put_indirect(c, c->idx, BLKIF_OP_WRITE, 20, 8, 0);
	expect(c, BLK_ERROR, 8, BLKIF_OP_INDIRECT, BLKIF_OP_WRITE);
	put_indirect(c, c->idx, BLKIF_OP_READ, 20, 9, 0);
	expect(c, BLK_NEED_INDIRECT, 9, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
}

/* ---- WRITE_BARRIER and FLUSH_DISKCACHE ---- */

static void check_flush_like(struct ctx *c, uint8_t op, bool *offered)
{
	*offered = false;
	put_rw(c, c->idx, op, 1, 0, 0, NULL);
	expect(c, BLK_EOPNOTSUPP, 1, op, op);
	put_rw(c, c->idx, op, 2, 0, 3, NULL);
	expect(c, BLK_EOPNOTSUPP, 2, op, op);

	*offered = true;
	/* No data: sector_number means nothing, so it is not range checked. */
	put_rw(c, c->idx, op, 3, UINT64_MAX, 0, NULL);
	expect(c, BLK_OK, 3, op, op);
	assert_int_equal(c->req.nr_segments, 0);
	assert_int_equal(c->req.nr_sectors, 0);
	/* With data: written, then flushed. */
	put_rw(c, c->idx, op, 4, 64, 11, NULL);
	expect(c, BLK_OK, 4, op, op);
	assert_int_equal(c->req.nr_segments, 11);
	assert_int_equal(c->req.nr_sectors, 88);
	put_rw(c, c->idx, op, 5, 64, 12, NULL);
	expect(c, BLK_ERROR, 5, op, op);
	put_rw(c, c->idx, op, 6, DISK_SECTORS - 7, 1, NULL);
	expect(c, BLK_ERROR, 6, op, op);
	put_rw(c, c->idx, op, 7, 0, 1, (struct tseg[]){ { 1, 5, 4 } });
	expect(c, BLK_ERROR, 7, op, op);
}

static void test_barrier(void **state)
{
	struct ctx *c = *state;

	check_flush_like(c, BLKIF_OP_WRITE_BARRIER, &c->lim.barrier);
}

static void test_flush(void **state)
{
	struct ctx *c = *state;

	check_flush_like(c, BLKIF_OP_FLUSH_DISKCACHE, &c->lim.flush);
}

/* ---- DISCARD ---- */

static void test_discard(void **state)
{
	struct ctx *c = *state;

	put_discard(c, c->idx, BLKIF_DISCARD_SECURE, 1, 100, 2048);
	expect(c, BLK_OK, 1, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	assert_int_equal(c->req.sector_number, 100);
	assert_int_equal(c->req.nr_sectors, 2048);
	assert_int_equal(c->req.discard_secure, 1);
	assert_int_equal(c->req.nr_segments, 0);

	put_discard(c, c->idx, 0xfe, 2, 0, DISK_SECTORS); /* other flag bits mean nothing */
	expect(c, BLK_OK, 2, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	assert_int_equal(c->req.discard_secure, 0);
	assert_int_equal(c->req.nr_sectors, DISK_SECTORS);

	put_discard(c, c->idx, 0, 3, 1, DISK_SECTORS);
	expect(c, BLK_ERROR, 3, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	put_discard(c, c->idx, 0, 4, 2, UINT64_MAX); /* wraps to 1 */
	expect(c, BLK_ERROR, 4, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	put_discard(c, c->idx, 0, 5, UINT64_MAX, 2);
	expect(c, BLK_ERROR, 5, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	/* Nothing to discard is a no-op wherever it is, as in blkback. */
	put_discard(c, c->idx, 0, 6, UINT64_MAX, 0);
	expect(c, BLK_OK, 6, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	assert_int_equal(c->req.nr_sectors, 0);

	c->lim.discard = false;
	put_discard(c, c->idx, 0, 7, 0, 8);
	expect(c, BLK_EOPNOTSUPP, 7, BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
}

/* ---- INDIRECT ---- */

static void test_indirect_header(void **state)
{
	struct ctx *c = *state;
	static const uint8_t bad_ops[] = {
		BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_RESERVED_1,
		BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT, 0xff,
	};
	unsigned i;

	put_indirect(c, c->idx, BLKIF_OP_READ, 256, 1, 8);
	expect(c, BLK_NEED_INDIRECT, 1, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
	assert_int_equal(c->req.nr_segments, 256);
	assert_int_equal(c->req.nr_indirect_pages, 1);
	assert_int_equal(c->req.indirect_grefs[0], 0x1000);
	assert_int_equal(c->req.sector_number, 8);

	put_indirect(c, c->idx, BLKIF_OP_WRITE, 1, 2, 8);
	expect(c, BLK_NEED_INDIRECT, 2, BLKIF_OP_INDIRECT, BLKIF_OP_WRITE);
	assert_int_equal(c->req.nr_segments, 1);
	assert_int_equal(c->req.nr_indirect_pages, 1);

	/* The answer to a bad indirect_op echoes it, as blkback does. */
	for (i = 0; i < sizeof(bad_ops); i++) {
		put_indirect(c, c->idx, bad_ops[i], 16, 3, 0);
		expect(c, BLK_ERROR, 3, BLKIF_OP_INDIRECT, bad_ops[i]);
	}

	put_indirect(c, c->idx, BLKIF_OP_READ, 0, 4, 0);
	expect(c, BLK_ERROR, 4, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
	assert_int_equal(c->req.nr_segments, 0);
	put_indirect(c, c->idx, BLKIF_OP_READ, 257, 5, 0);
	expect(c, BLK_ERROR, 5, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
	assert_int_equal(c->req.nr_segments, 0);
	put_indirect(c, c->idx, BLKIF_OP_READ, 0xffff, 6, 0);
	expect(c, BLK_ERROR, 6, BLKIF_OP_INDIRECT, BLKIF_OP_READ);

	/* The device's own maximum, and never more than we can hold. */
	c->lim.max_indirect_segments = 32;
	put_indirect(c, c->idx, BLKIF_OP_READ, 32, 7, 0);
	expect(c, BLK_NEED_INDIRECT, 7, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
	put_indirect(c, c->idx, BLKIF_OP_READ, 33, 8, 0);
	expect(c, BLK_ERROR, 8, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
	c->lim.max_indirect_segments = 4096;
	put_indirect(c, c->idx, BLKIF_OP_READ, BLK_MAX_INDIRECT_SEGMENTS + 1, 9, 0);
	expect(c, BLK_ERROR, 9, BLKIF_OP_INDIRECT, BLKIF_OP_READ);

	c->lim.max_indirect_segments = 0;
	put_indirect(c, c->idx, BLKIF_OP_READ, 16, 10, 0);
	expect(c, BLK_EOPNOTSUPP, 10, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
}

static void test_indirect_page_count(void **state)
{
	struct ctx *c = *state;
	unsigned n;

	/* ceil(n / 512): every count we accept fits one page. */
	assert_int_equal(BLK_SEGS_PER_INDIRECT_PAGE, 512);
	for (n = 1; n <= BLK_MAX_INDIRECT_SEGMENTS; n++) {
		put_indirect(c, c->idx, BLKIF_OP_READ, (uint16_t)n, n, 0);
		expect(c, BLK_NEED_INDIRECT, n, BLKIF_OP_INDIRECT, BLKIF_OP_READ);
		assert_int_equal(c->req.nr_indirect_pages, (n + 511) / 512);
		assert_int_equal(c->req.indirect_grefs[0], 0x1000);
	}
}

/* An indirect READ of nseg segments whose segments live in page. */
static enum blk_verdict indirect(struct ctx *c, uint16_t nseg, uint64_t sector,
				 const unsigned char *page)
{
	const void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST] = { page };

	put_indirect(c, c->idx, BLKIF_OP_READ, nseg, 42, sector);
	assert_int_equal(parse(c), BLK_NEED_INDIRECT);
	return blkif_copy_indirect(&c->req, pages, &c->lim);
}

static void test_indirect_segments(void **state)
{
	struct ctx *c = *state;
	static unsigned char page[PAGE];
	struct blk_req before;
	unsigned i;

	memset(page, FILL, sizeof(page));
	for (i = 0; i < 256; i++)
		put_seg(page + 8 * i, (struct tseg){ 0x7000 + i, (uint8_t)(i % 8), 7 });

	assert_int_equal(indirect(c, 256, 0, page), BLK_OK);
	assert_int_equal(c->req.id, 42);
	assert_int_equal(c->req.op, BLKIF_OP_READ);
	assert_int_equal(c->req.nr_segments, 256);
	assert_int_equal(c->req.nr_sectors, 32 * (8 + 7 + 6 + 5 + 4 + 3 + 2 + 1));
	for (i = 0; i < 256; i++) {
		assert_int_equal(c->req.seg[i].gref, 0x7000 + i);
		assert_int_equal(c->req.seg[i].first_sect, i % 8);
		assert_int_equal(c->req.seg[i].last_sect, 7);
	}

	/* Copied once: the page changing afterwards changes nothing. */
	memcpy(&before, &c->req, sizeof(before));
	memset(page, 0, 256 * 8);
	assert_memory_equal(&before, &c->req, sizeof(before));

	/* Range: 256 * 8 sectors, ending at, then past, the end of the disk. */
	for (i = 0; i < 256; i++)
		put_seg(page + 8 * i, (struct tseg){ i, 0, 7 });
	assert_int_equal(indirect(c, 256, DISK_SECTORS - 2048, page), BLK_OK);
	assert_int_equal(indirect(c, 256, DISK_SECTORS - 2047, page), BLK_ERROR);
	assert_int_equal(indirect(c, 256, UINT64_MAX - 1000, page), BLK_ERROR);
	assert_int_equal(c->req.id, 42);
	assert_int_equal(c->req.op, BLKIF_OP_READ);

	/* A bad segment anywhere, even the last, fails the request. */
	put_seg(page + 8 * 255, (struct tseg){ 255, 3, 2 });
	assert_int_equal(indirect(c, 256, 0, page), BLK_ERROR);
	assert_int_equal(indirect(c, 255, 0, page), BLK_OK);
	put_seg(page + 8 * 100, (struct tseg){ 100, 0, 8 });
	assert_int_equal(indirect(c, 255, 0, page), BLK_ERROR);
}

/* blkif_copy_indirect reads the segments in use and nothing past them. */
static void test_indirect_reads_only_segments(void **state)
{
	struct ctx *c = *state;
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned n;

	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, pg, PROT_NONE), 0);
	for (n = 1; n <= 256; n *= 2) {
		unsigned char *segs = map + pg - 8 * n; /* the last one ends at the guard */
		unsigned i;

		for (i = 0; i < n; i++)
			put_seg(segs + 8 * i, (struct tseg){ i, 1, 6 });
		assert_int_equal(indirect(c, (uint16_t)n, 0, segs), BLK_OK);
		assert_int_equal(c->req.nr_sectors, 6 * n);
	}
	munmap(map, 2 * pg);
}

/* ---- other operations ---- */

static void test_unknown_ops(void **state)
{
	struct ctx *c = *state;
	static const uint8_t ops[] = { BLKIF_OP_RESERVED_1, 7, 0x80, 0xff };
	unsigned i;

	for (i = 0; i < sizeof(ops); i++) {
		put_rw(c, c->idx, ops[i], 0xfeedface00000000ull + i, 0, 1, NULL);
		expect(c, BLK_EOPNOTSUPP, 0xfeedface00000000ull + i, ops[i], ops[i]);
	}
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

#define ABI_TEST(fn, p) { #fn "/" #p, fn, setup, teardown, (void *)&p_##p }
#define ABI_TESTS(fn) ABI_TEST(fn, native), ABI_TEST(fn, x86_32), ABI_TEST(fn, x86_64)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_parse),
		cmocka_unit_test(test_ring_size),
		ABI_TESTS(test_read_write_ok),
		ABI_TESTS(test_rw_segment_count),
		ABI_TESTS(test_rw_bad_segment),
		ABI_TESTS(test_rw_range),
		ABI_TESTS(test_readonly),
		ABI_TESTS(test_barrier),
		ABI_TESTS(test_flush),
		ABI_TESTS(test_discard),
		ABI_TESTS(test_indirect_header),
		ABI_TESTS(test_indirect_page_count),
		ABI_TESTS(test_indirect_segments),
		ABI_TESTS(test_indirect_reads_only_segments),
		ABI_TESTS(test_unknown_ops),
		ABI_TESTS(test_response_layout),
		ABI_TEST(test_native_matches_xen_header, native),
		ABI_TESTS(test_index_wraps),
		ABI_TESTS(test_copy_once),
		ABI_TESTS(test_touches_only_the_entry),
		ABI_TESTS(test_writes_only_req),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
