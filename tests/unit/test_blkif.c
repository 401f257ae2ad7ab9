/*
 * test_blkif.c - unit tests of the blkif request parser (libblanket/blkif.c):
 * each operation and its verdicts.  READ and WRITE, WRITE_BARRIER and
 * FLUSH_DISKCACHE, DISCARD, INDIRECT (the header, then the segments in the
 * indirect pages), and operations nobody knows; most for each of the three
 * ABIs.  The frontend side is blkif_harness.c; the ring itself is
 * test_blkif_ring.c.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkif_harness.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
