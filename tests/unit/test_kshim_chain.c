/*
 * test_kshim_chain.c - the kshim uplink's kernel-free part: the page ->
 * region map, and cutting an operation's iovecs into virtio-blk requests
 * within seg_max and size_max.
 *
 * Addresses are fake (never dereferenced): the builder only does arithmetic
 * on them, as it only names memory to kshim.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kshim_chain.h"

#define PG KCHAIN_PAGE
#define A(n) ((uintptr_t)0x7f0000000000ull + (uintptr_t)(n) * PG)

static struct iovec iov_at(uintptr_t a, size_t len)
{
	return (struct iovec){ .iov_base = (void *)a, .iov_len = len };
}

static void test_map(void **state)
{
	struct kmap m;
	const struct kmap_entry *e;

	(void)state;
	assert_int_equal(kmap_init(&m), 0);
	assert_int_equal(kmap_add(&m, A(10), 3 * PG, 7, true), 0);
	assert_int_equal(kmap_add(&m, A(20), PG, 8, false), 0);
	assert_int_equal(m.count, 4);
	e = kmap_find(&m, A(11) + 100);
	assert_non_null(e);
	assert_int_equal(e->region, 7);
	assert_int_equal(e->roff, PG);
	assert_true(e->writable);
	e = kmap_find(&m, A(20) + PG - 1);
	assert_non_null(e);
	assert_int_equal(e->region, 8);
	assert_false(e->writable);
	assert_null(kmap_find(&m, A(13)));
	assert_null(kmap_find(&m, A(9) + PG - 1));
	kmap_del(&m, A(10), 3 * PG);
	assert_null(kmap_find(&m, A(10)));
	assert_null(kmap_find(&m, A(12)));
	assert_non_null(kmap_find(&m, A(20)));
	assert_int_equal(m.count, 1);
	kmap_destroy(&m);
}

/* Many single-page regions (persistent grants): the table grows and every
 * page is still found, and deleting leaves the others. */
static void test_map_grows(void **state)
{
	struct kmap m;

	(void)state;
	assert_int_equal(kmap_init(&m), 0);
	for (unsigned i = 0; i < 5000; i++)
		assert_int_equal(kmap_add(&m, A(2 * i), PG, i + 1, true), 0);
	assert_true(m.nbuckets >= 4096);
	for (unsigned i = 0; i < 5000; i += 2)
		kmap_del(&m, A(2 * i), PG);
	for (unsigned i = 0; i < 5000; i++) {
		const struct kmap_entry *e = kmap_find(&m, A(2 * i));

		if (i % 2 == 0) {
			assert_null(e);
		} else {
			assert_non_null(e);
			assert_int_equal(e->region, i + 1);
		}
		assert_null(kmap_find(&m, A(2 * i + 1)));
	}
	kmap_destroy(&m);
}

static const struct kchain_limits nolim = { .max_desc = 254, .size_max = 0 };

/* Persistent grants: each page its own region; sub-page segments. */
static void test_pages(void **state)
{
	struct kmap m;
	struct iovec iov[3];
	struct kshim_seg s[254];
	struct kchain_cursor c = { 0 };
	uint64_t bytes;

	(void)state;
	kmap_init(&m);
	kmap_add(&m, A(1), PG, 11, true);
	kmap_add(&m, A(2), PG, 12, true);
	kmap_add(&m, A(5), PG, 15, true);
	iov[0] = iov_at(A(1) + 1024, 1536);       /* a sub-page segment */
	iov[1] = iov_at(A(2), 2 * PG);            /* two pages, neighbours in memory */
	iov[2] = iov_at(A(5), 512);
	/* iov[1] runs on into A(3), which is in no region. */
	assert_int_equal(kchain_next(&m, iov, 3, &c, &nolim, true, s, &bytes), -ENOENT);
	kmap_destroy(&m);

	kmap_init(&m);
	kmap_add(&m, A(1), PG, 11, true);
	kmap_add(&m, A(2), PG, 12, true);
	kmap_add(&m, A(3), PG, 13, true);
	kmap_add(&m, A(5), PG, 15, true);
	c = (struct kchain_cursor){ 0 };
	assert_int_equal(kchain_next(&m, iov, 3, &c, &nolim, true, s, &bytes), 4);
	assert_int_equal(bytes, 1536 + 2 * PG + 512);
	assert_int_equal(s[0].region, 11);
	assert_int_equal(s[0].offset, 1024);
	assert_int_equal(s[0].len, 1536);
	assert_int_equal(s[0].flags, KSHIM_SEG_DEV_WRITE);
	/* Neighbouring addresses in different regions are different segments. */
	assert_int_equal(s[1].region, 12);
	assert_int_equal(s[1].len, PG);
	assert_int_equal(s[2].region, 13);
	assert_int_equal(s[2].offset, 0);
	assert_int_equal(s[3].region, 15);
	assert_int_equal(s[3].len, 512);
	assert_int_equal(c.iov, 3);
	assert_int_equal(kchain_next(&m, iov, 3, &c, &nolim, true, s, &bytes), 0);
	assert_int_equal(bytes, 0);
	kmap_destroy(&m);
}

/* A transient mapping: one region of several pages; segments that follow
 * each other in it become one segment, and count a descriptor per page. */
static void test_region_merge_and_seg_max(void **state)
{
	struct kmap m;
	struct iovec iov[2];
	struct kshim_seg s[8];
	struct kchain_cursor c = { 0 };
	struct kchain_limits lim = { .max_desc = 3 };
	uint64_t bytes;

	(void)state;
	kmap_init(&m);
	kmap_add(&m, A(100), 8 * PG, 3, false);
	iov[0] = iov_at(A(100), 2 * PG + 512);
	iov[1] = iov_at(A(102) + 512, 3 * PG - 512);     /* continues iov[0] */
	/* WRITE (device reads): read-only region is fine. */
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, false, s, &bytes), 1);
	assert_int_equal(s[0].region, 3);
	assert_int_equal(s[0].offset, 0);
	assert_int_equal(s[0].flags, 0);
	/* Three pages' worth of descriptors: A(100), A(101), A(102). */
	assert_int_equal(s[0].len, 3 * PG);
	assert_int_equal(bytes, 3 * PG);
	assert_int_equal(c.iov, 1);
	assert_int_equal(c.off, PG - 512);
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, false, s, &bytes), 1);
	assert_int_equal(s[0].offset, 3 * PG);
	assert_int_equal(s[0].len, 2 * PG);
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, false, s, &bytes), 0);
	/* READ into a read-only region: refused, cursor unchanged. */
	c = (struct kchain_cursor){ 0 };
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, true, s, &bytes), -EPERM);
	assert_int_equal(c.iov, 0);
	assert_int_equal(c.off, 0);
	kmap_destroy(&m);
}

/* seg_max with one page per region: each page is a descriptor. */
static void test_seg_max_split(void **state)
{
	struct kmap m;
	struct iovec iov[10];
	struct kshim_seg s[4];
	struct kchain_cursor c = { 0 };
	struct kchain_limits lim = { .max_desc = 4 };
	uint64_t bytes, total = 0;
	int n, reqs = 0;

	(void)state;
	kmap_init(&m);
	for (unsigned i = 0; i < 10; i++) {
		kmap_add(&m, A(10 * i), PG, 100 + i, true);
		iov[i] = iov_at(A(10 * i), PG);
	}
	while ((n = kchain_next(&m, iov, 10, &c, &lim, true, s, &bytes)) > 0) {
		assert_true(n <= 4);
		assert_int_equal(s[0].region, 100 + total / PG);
		total += bytes;
		reqs++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(reqs, 3);          /* 4 + 4 + 2 */
	assert_int_equal(total, 10 * PG);
	kmap_destroy(&m);
}

/* size_max: a descriptor kshim may merge never passes it; the cut is on a
 * sector boundary and the rest starts the next request. */
static void test_size_max(void **state)
{
	struct kmap m;
	struct iovec iov[2];
	struct kshim_seg s[16];
	struct kchain_cursor c = { 0 };
	struct kchain_limits lim = { .max_desc = 16, .size_max = 6144 };
	uint64_t bytes;

	(void)state;
	kmap_init(&m);
	kmap_add(&m, A(0), 4 * PG, 1, true);
	kmap_add(&m, A(50), PG, 2, true);
	iov[0] = iov_at(A(0), 4 * PG);
	iov[1] = iov_at(A(50), PG);
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, true, s, &bytes), 1);
	assert_int_equal(s[0].len, 6144);
	assert_int_equal(bytes, 6144);
	/* Next: the remaining 10 KiB of region 1 (cut again at 6144), then... */
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, true, s, &bytes), 1);
	assert_int_equal(s[0].offset, 6144);
	assert_int_equal(s[0].len, 6144);
	/* ...4 KiB of region 1, and region 2 joins the same request. */
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, true, s, &bytes), 2);
	assert_int_equal(s[0].offset, 12288);
	assert_int_equal(s[0].len, 4096);
	assert_int_equal(s[1].region, 2);
	assert_int_equal(s[1].len, PG);
	assert_int_equal(kchain_next(&m, iov, 2, &c, &lim, true, s, &bytes), 0);
	/* A size_max below a page cuts single pages too. */
	lim.size_max = 1024;
	c = (struct kchain_cursor){ 0 };
	assert_int_equal(kchain_next(&m, &iov[1], 1, &c, &lim, true, s, &bytes), 1);
	assert_int_equal(s[0].len, 1024);
	kmap_destroy(&m);
}

static void test_errors(void **state)
{
	struct kmap m;
	struct iovec iov[2];
	struct kshim_seg s[8];
	struct kchain_cursor c = { 0 };
	uint64_t bytes;

	(void)state;
	kmap_init(&m);
	kmap_add(&m, A(0), PG, 1, true);
	iov[0] = iov_at(A(0), 1000);                       /* not whole sectors */
	assert_int_equal(kchain_next(&m, iov, 1, &c, &nolim, true, s, &bytes), -EINVAL);
	iov[0] = iov_at(A(0) + 100, 512);                  /* not sector-aligned */
	assert_int_equal(kchain_next(&m, iov, 1, &c, &nolim, true, s, &bytes), -EINVAL);
	iov[0] = iov_at(A(0), PG);
	iov[1] = iov_at(A(7), PG);                         /* never registered */
	assert_int_equal(kchain_next(&m, iov, 2, &c, &nolim, true, s, &bytes), -ENOENT);
	assert_int_equal(c.iov, 0);
	/* Empty iovecs are skipped. */
	iov[1] = iov_at(A(7), 0);
	assert_int_equal(kchain_next(&m, iov, 2, &c, &nolim, true, s, &bytes), 1);
	assert_int_equal(bytes, PG);
	assert_int_equal(kchain_next(&m, iov, 2, &c, &nolim, true, s, &bytes), 0);
	kmap_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_grows),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_region_merge_and_seg_max),
		cmocka_unit_test(test_seg_max_split),
		cmocka_unit_test(test_size_max),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
