/*
 * test_vbd_grants.c - blanketd's block backend, end to end, without Xen:
 * how it maps the guest's pages.  Persistent grants (reused, the cache
 * full, purged), grants mapped per request (without the feature, or with
 * it turned off by the config), and indirect requests up to the 256
 * segments advertised.  The fixture is vbd_harness.c.
 */
#include <stdlib.h>
#include <string.h>

#include "vbd_harness.h"

/* --- tests: grant mapping -------------------------------------------------------- */

static void test_persistent_grants_reused(void **state)
{
	struct blkif_request_segment seg[4];
	struct fake_gnt_stats before;
	unsigned p[4];
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	assert_true(find_vbd(DEVID)->persistent);
	for (int i = 0; i < 4; i++)
		p[i] = data_page(true);
	full_segs(seg, p, 4);

	before = fake_gnt_stats();
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, seg, 4), BLKIF_RSP_OKAY);
	/* Mapped once each, and kept. */
	assert_int_equal(fake_gnt_stats().pages_mapped - before.pages_mapped, 4);
	assert_int_equal(fake_gnt_stats().outstanding, 1 + 4);
	assert_int_equal(be_ring(DEVID, 0)->pg.count, 4);

	/* The same grefs again, for a write this time: no map at all. */
	before = fake_gnt_stats();
	for (int i = 0; i < 4; i++)
		fill(gp(p[i]), 4096, 40 + i);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 64, seg, 4), BLKIF_RSP_OKAY);
	assert_int_equal(fake_gnt_stats().map_calls, before.map_calls);
	assert_int_equal(fake_gnt_stats().unmap_calls, before.unmap_calls);
	for (int i = 0; i < 4; i++) {
		uint8_t buf[4096];

		file_read((64 + 8 * (uint64_t)i) * 512, buf, 4096);
		assert_memory_equal(buf, gp(p[i]), 4096);
	}
	assert_int_equal(be_ring(DEVID, 0)->pg.hits, 4);
}

/* A cache with room for 4: the 5th..8th grants are mapped for the request
 * only, in one call, and the data still lands right. */
static void test_persistent_cache_full(void **state)
{
	struct blkif_request_segment seg[8];
	struct fake_gnt_stats before;
	unsigned p[8];
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	for (int i = 0; i < 8; i++) {
		p[i] = data_page(true);
		fill(gp(p[i]), 4096, 80 + i);
	}
	full_segs(seg, p, 8);
	before = fake_gnt_stats();
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 256, seg, 8), BLKIF_RSP_OKAY);
	assert_int_equal(be_ring(DEVID, 0)->pg.count, 4);
	assert_int_equal(fake_gnt_stats().outstanding, 1 + 4);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 4 + 1);
	assert_int_equal(fake_gnt_stats().unmap_calls - before.unmap_calls, 1);
	for (int i = 0; i < 8; i++) {
		uint8_t buf[4096];

		file_read((256 + 8 * (uint64_t)i) * 512, buf, 4096);
		assert_memory_equal(buf, gp(p[i]), 4096);
	}
}

static void check_maps_per_request(struct fe *f)
{
	struct blkif_request_segment seg[3];
	struct fake_gnt_stats before;
	unsigned p[3];

	for (int i = 0; i < 3; i++)
		p[i] = data_page(true);
	full_segs(seg, p, 3);
	for (int round = 0; round < 2; round++) {
		before = fake_gnt_stats();
		assert_int_equal(do_rw(f, 0, round ? BLKIF_OP_WRITE : BLKIF_OP_READ, 8, seg, 3),
				 BLKIF_RSP_OKAY);
		/* One batched map for the request, unmapped on completion. */
		assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
		assert_int_equal(fake_gnt_stats().unmap_calls - before.unmap_calls, 1);
		assert_int_equal(fake_gnt_stats().outstanding, 1); /* the ring only */
	}
	assert_int_equal(be_ring(f->devid, 0)->pg.count, 0);
}

static void test_nonpersistent_maps_per_request(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	f.persistent = false;
	connect_device(&f, T.img, "w");
	assert_false(find_vbd(DEVID)->persistent);
	check_maps_per_request(&f);
}

/* persistent-grants = no: the frontend's feature-persistent=1 is ignored. */
static void test_persistent_disabled_by_config(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	toolstack_add(&f, T.img, "w");
	wait_state(f.be, XenbusStateInitWait);
	assert_string_equal(xs_get(f.be, "feature-persistent"), "0");
	fe_connect(&f);
	wait_state(f.be, XenbusStateConnected);
	fe_find_ports(&f);
	assert_false(find_vbd(DEVID)->persistent);
	check_maps_per_request(&f);
}

static void indirect_roundtrip(struct fe *f, unsigned n, uint64_t sector)
{
	struct blkif_request_segment seg[BLK_MAX_INDIRECT_SEGMENTS];
	unsigned w[BLK_MAX_INDIRECT_SEGMENTS], r[BLK_MAX_INDIRECT_SEGMENTS], ip;
	uint8_t *buf = malloc((size_t)n * 4096);
	uint64_t id;

	assert_non_null(buf);
	/* Read-only: the backend only reads indirect pages (and maps them
	 * read-only unless grants are persistent). */
	ip = data_page(false);
	for (unsigned i = 0; i < n; i++) {
		w[i] = data_page(true);
		fill(gp(w[i]), 4096, 1000 + i);
	}
	full_segs(seg, w, n);
	fill_indirect(&ip, seg, n);
	id = put_indirect(f, 0, BLKIF_OP_WRITE, sector, (uint16_t)n, &ip, 1);
	fe_push(f, 0);
	/* Responses to indirect requests carry the indirect operation (as
	 * blkback does: make_response(..., pending_req->operation)). */
	assert_int_equal(fe_answer(f, 0, id, BLKIF_OP_WRITE), BLKIF_RSP_OKAY);
	file_read(sector * 512, buf, (size_t)n * 4096);
	for (unsigned i = 0; i < n; i++)
		assert_memory_equal(buf + (size_t)i * 4096, gp(w[i]), 4096);

	for (unsigned i = 0; i < n; i++) {
		r[i] = data_page(true);
		memset(gp(r[i]), 0, 4096);
	}
	full_segs(seg, r, n);
	fill_indirect(&ip, seg, n);
	id = put_indirect(f, 0, BLKIF_OP_READ, sector, (uint16_t)n, &ip, 1);
	fe_push(f, 0);
	assert_int_equal(fe_answer(f, 0, id, BLKIF_OP_READ), BLKIF_RSP_OKAY);
	for (unsigned i = 0; i < n; i++)
		assert_memory_equal(gp(r[i]), gp(w[i]), 4096);
	free(buf);
}

static void test_indirect(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	f.persistent = false;
	connect_device(&f, T.img, "w");
	indirect_roundtrip(&f, 64, 2048);
	assert_int_equal(fake_gnt_stats().outstanding, 1);
	/* The most we advertise: 256 segments, 1 MiB in one request. */
	indirect_roundtrip(&f, 256, 4096);
	assert_int_equal(fake_gnt_stats().outstanding, 1);
	assert_int_equal(be_ring(DEVID, 0)->stats.reqs[VBD_OP_INDIRECT], 4);
}

/* Unused persistent grants are dropped once the cache is full; grants in
 * use never are. */
static void test_persistent_purge(void **state)
{
	struct blkif_request_segment seg[4];
	struct fake_gnt_stats before;
	struct vbd_ring *r;
	unsigned p[4];
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	r = be_ring(DEVID, 0);
	for (int i = 0; i < 4; i++)
		p[i] = data_page(true);
	full_segs(seg, p, 4);
	/* While a request holds all four, nothing can go. */
	put_rw(&f, 0, BLKIF_OP_READ, 0, seg, 4);
	fe_push(&f, 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	assert_int_equal(r->st->nr_inflight, 1);
	assert_int_equal(r->pg.count, 4);
	vbd_ring_purge(r);
	assert_int_equal(r->pg.count, 4);
	fe_wait(&f, 0, 1);
	assert_int_equal(fe_pop(&f, 0).status, BLKIF_RSP_OKAY);
	/* Idle and full: the least recently used one goes. */
	before = fake_gnt_stats();
	vbd_ring_purge(r);
	assert_int_equal(r->pg.count, 3);
	assert_int_equal(fake_gnt_stats().unmap_calls - before.unmap_calls, 1);
	assert_int_equal(fake_gnt_stats().outstanding, 1 + 3);
	/* Used again, it is mapped again. */
	before = fake_gnt_stats();
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, seg, 4), BLKIF_RSP_OKAY);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
	assert_int_equal(r->pg.count, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_persistent_grants_reused),
		TC(test_persistent_cache_full, "max-persistent-grants = 4\n"),
		T_(test_nonpersistent_maps_per_request),
		TC(test_persistent_disabled_by_config, "persistent-grants = no\n"),
		T_(test_indirect),
		TC(test_persistent_purge, "max-persistent-grants = 4\n"),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
