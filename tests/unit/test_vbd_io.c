/*
 * test_vbd_io.c - blanketd's block backend, end to end, without Xen: the
 * data path.  Reads and writes, multi-page rings and multiple queues,
 * flush and barrier, discard, read-only devices, notifications, errors of
 * the backing, merged neighbours, stats, far more requests in flight than
 * the io_uring holds, and the x86_32 ring ABI.  The fixture is
 * vbd_harness.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbd_harness.h"

/* --- tests: the data path -------------------------------------------------------- */

static void test_read_write_roundtrip(void **state)
{
	struct blkif_request_segment seg[3];
	unsigned w[3], r[3], notes;
	uint8_t buf[3 * 4096], *expect;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");

	/* A write of 3 segments: two whole pages and sectors 1..6 of a third. */
	for (int i = 0; i < 3; i++) {
		w[i] = data_page(true);
		fill(gp(w[i]), 4096, 100 + i);
	}
	seg[0] = seg_of(w[0], 0, 7);
	seg[1] = seg_of(w[1], 0, 7);
	seg[2] = seg_of(w[2], 1, 6);
	notes = fake_evtchn_notifies((evtchn_port_t)f.q[0].local);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 16, seg, 3), BLKIF_RSP_OKAY);
	assert_true(fake_evtchn_notifies((evtchn_port_t)f.q[0].local) > notes);
	file_read(16 * 512, buf, 2 * 4096 + 6 * 512);
	assert_memory_equal(buf, gp(w[0]), 4096);
	assert_memory_equal(buf + 4096, gp(w[1]), 4096);
	assert_memory_equal(buf + 8192, gp(w[2]) + 512, 6 * 512);
	/* The sectors around it are untouched. */
	expect = malloc(IMG_BYTES);
	assert_non_null(expect);
	fill(expect, IMG_BYTES, IMG_SEED);
	file_read(15 * 512, buf, 512);
	assert_memory_equal(buf, expect + 15 * 512, 512);
	file_read(16 * 512 + 8192 + 6 * 512, buf, 512);
	assert_memory_equal(buf, expect + 16 * 512 + 8192 + 6 * 512, 512);

	/* Read it back into fresh pages. */
	for (int i = 0; i < 3; i++) {
		r[i] = data_page(true);
		memset(gp(r[i]), 0xee, 4096);
	}
	seg[0] = seg_of(r[0], 0, 7);
	seg[1] = seg_of(r[1], 0, 7);
	seg[2] = seg_of(r[2], 1, 6);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 16, seg, 3), BLKIF_RSP_OKAY);
	assert_memory_equal(gp(r[0]), gp(w[0]), 4096);
	assert_memory_equal(gp(r[1]), gp(w[1]), 4096);
	assert_memory_equal(gp(r[2]) + 512, gp(w[2]) + 512, 6 * 512);
	/* A sub-page segment leaves the rest of its page alone. */
	assert_int_equal(gp(r[2])[0], 0xee);
	assert_int_equal(gp(r[2])[511], 0xee);
	assert_int_equal(gp(r[2])[7 * 512], 0xee);

	/* Data the image already had (put there behind the guest's back). */
	fill(buf, 4096, 7);
	file_write((uint64_t)(IMG_SECTORS - 8) * 512, buf, 4096);
	seg[0] = seg_of(r[0], 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, IMG_SECTORS - 8, seg, 1), BLKIF_RSP_OKAY);
	assert_memory_equal(gp(r[0]), buf, 4096);

	/* Many rounds of several requests each: the indices wrap the 32-entry
	 * ring several times; responses may come in any order. */
	for (int round = 0; round < 12; round++) {
		uint64_t ids[10];
		bool seen[10] = { false };

		for (int i = 0; i < 10; i++) {
			struct blkif_request_segment s = seg_of(r[i % 3], 0, 7);

			ids[i] = put_rw(&f, 0, BLKIF_OP_READ, (uint64_t)(round * 10 + i) * 8, &s, 1);
		}
		fe_push(&f, 0);
		fe_wait(&f, 0, 10);
		for (int i = 0; i < 10; i++) {
			struct rsp rs = fe_pop(&f, 0);
			int k;

			for (k = 0; k < 10 && ids[k] != rs.id; k++)
				;
			assert_true(k < 10);
			assert_false(seen[k]);
			seen[k] = true;
			assert_int_equal(rs.status, BLKIF_RSP_OKAY);
			assert_int_equal(rs.op, BLKIF_OP_READ);
		}
	}
	assert_int_equal(be_ring(DEVID, 0)->st->nr_inflight, 0);
	free(expect);
}

static void test_multipage_multiqueue(void **state)
{
	unsigned p[2][100];
	unsigned notes[2];
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	f.order = 2;
	f.nq = 2;
	connect_device(&f, T.img, "w");
	assert_int_equal(find_vbd(DEVID)->nr_rings, 2);
	/* 4 pages of 112-byte entries: 128 of them. */
	assert_int_equal(be_ring(DEVID, 0)->size, 128);
	assert_int_equal(be_ring(DEVID, 1)->size, 128);
	assert_int_equal(fake_gnt_stats().outstanding, 2);
	assert_int_equal(fake_gnt_stats().outstanding_pages, 8);
	assert_true(f.q[0].local != f.q[1].local);

	/* 100 single-page writes on each queue at once: more than a one-page
	 * ring could take, so the whole ring is really used. */
	for (unsigned q = 0; q < 2; q++) {
		notes[q] = fake_evtchn_notifies((evtchn_port_t)f.q[q].local);
		for (unsigned i = 0; i < 100; i++) {
			struct blkif_request_segment s;

			p[q][i] = data_page(true);
			fill(gp(p[q][i]), 4096, q * 1000 + i);
			s = seg_of(p[q][i], 0, 7);
			put_rw(&f, q, BLKIF_OP_WRITE, (q * 100 + i) * 8, &s, 1);
		}
		fe_push(&f, q);
	}
	for (unsigned q = 0; q < 2; q++) {
		fe_wait(&f, q, 100);
		for (unsigned i = 0; i < 100; i++) {
			struct rsp rs = fe_pop(&f, q);

			assert_int_equal(rs.status, BLKIF_RSP_OKAY);
			/* Each queue answers its own requests. */
			assert_int_equal(rs.id >> 32 & 0xffff, q);
		}
		assert_true(fake_evtchn_notifies((evtchn_port_t)f.q[q].local) > notes[q]);
	}
	for (unsigned q = 0; q < 2; q++)
		for (unsigned i = 0; i < 100; i++) {
			uint8_t buf[4096];

			file_read((q * 100 + i) * 8 * 512, buf, 4096);
			assert_memory_equal(buf, gp(p[q][i]), 4096);
		}
}

static void test_flush_and_barrier(void **state)
{
	struct blkif_request_segment s;
	uint8_t buf[4096];
	unsigned p;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	/* Without data: just the cache flush. */
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 0, NULL, 0), BLKIF_RSP_OKAY);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE_BARRIER, 0, NULL, 0), BLKIF_RSP_OKAY);
	/* With data: flush, write, flush; the data must be there. */
	p = data_page(true);
	s = seg_of(p, 0, 7);
	fill(gp(p), 4096, 3);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 800, &s, 1), BLKIF_RSP_OKAY);
	file_read(800 * 512, buf, 4096);
	assert_memory_equal(buf, gp(p), 4096);
	fill(gp(p), 4096, 4);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE_BARRIER, 808, &s, 1), BLKIF_RSP_OKAY);
	file_read(808 * 512, buf, 4096);
	assert_memory_equal(buf, gp(p), 4096);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void test_discard(void **state)
{
	uint8_t *buf = malloc(64 * 512), *expect = malloc(IMG_BYTES);
	uint8_t *snap;
	struct fe f;

	(void)state;
	assert_non_null(buf);
	assert_non_null(expect);
	fill(expect, IMG_BYTES, IMG_SEED);
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	/* Sectors 64..95 (16 KiB, block aligned) read back as zeros; the
	 * neighbours keep their data. */
	assert_int_equal(do_discard(&f, 0, 64, 32), BLKIF_RSP_OKAY);
	file_read(56 * 512, buf, 48 * 512);
	assert_memory_equal(buf, expect + 56 * 512, 8 * 512);
	assert_true(all_zero(buf + 8 * 512, 32 * 512));
	assert_memory_equal(buf + 40 * 512, expect + 96 * 512, 8 * 512);
	/* An unaligned range: exactly those sectors. */
	assert_int_equal(do_discard(&f, 0, 1001, 3), BLKIF_RSP_OKAY);
	file_read(1000 * 512, buf, 5 * 512);
	assert_memory_equal(buf, expect + 1000 * 512, 512);
	assert_true(all_zero(buf + 512, 3 * 512));
	assert_memory_equal(buf + 4 * 512, expect + 1004 * 512, 512);
	/* Nothing, or past the end: nothing happens. */
	snap = file_snapshot();
	assert_int_equal(do_discard(&f, 0, 2000, 0), BLKIF_RSP_OKAY);
	assert_int_equal(do_discard(&f, 0, IMG_SECTORS - 8, 16), BLKIF_RSP_ERROR);
	assert_int_equal(do_discard(&f, 0, UINT64_MAX - 4, 8), BLKIF_RSP_ERROR);
	assert_file_is(snap);
	free(buf);
	free(expect);
}

static void test_readonly(void **state)
{
	struct blkif_request_segment s;
	unsigned p, ip;
	uint8_t *snap;
	uint64_t id;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "r");
	assert_string_equal(xs_get(f.be, "info"), "4"); /* VDISK_READONLY */
	assert_string_equal(xs_get(f.be, "feature-discard"), "0");
	p = data_page(true);
	fill(gp(p), 4096, 5);
	s = seg_of(p, 0, 7);
	snap = file_snapshot();
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 0, &s, 1), BLKIF_RSP_ERROR);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 0, &s, 1), BLKIF_RSP_ERROR);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE_BARRIER, 0, &s, 1), BLKIF_RSP_ERROR);
	assert_int_equal(do_discard(&f, 0, 0, 8), BLKIF_RSP_EOPNOTSUPP);
	ip = data_page(false);
	fill_indirect(&ip, &s, 1);
	id = put_indirect(&f, 0, BLKIF_OP_WRITE, 0, 1, &ip, 1);
	fe_push(&f, 0);
	assert_int_equal(fe_answer(&f, 0, id, BLKIF_OP_WRITE), BLKIF_RSP_ERROR);
	assert_file_is(snap);
	/* Reads and a data-less flush are fine. */
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 0, NULL, 0), BLKIF_RSP_OKAY);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
	{
		uint8_t buf[4096];

		file_read(0, buf, 4096);
		assert_memory_equal(buf, gp(p), 4096);
	}
}

/* A request pushed without the event the ring asked for (a notification
 * lost on the way): the watchdog reads it within two ticks and counts it;
 * a ring served normally never trips it. */
static void test_watchdog(void **state)
{
	struct fe f;
	struct blkif_request_segment s;
	struct vbd_ring *r;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	r = &find_vbd(DEVID)->rings[0];
	s = seg_of(data_page(true), 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
	run_for(2200);
	assert_int_equal(r->stats.missed_events, 0);
	put_rw(&f, 0, BLKIF_OP_READ, 8, &s, 1);
	RING_PUSH_REQUESTS(&f.q[0].r.n);   /* and no event */
	run_for(200);
	assert_int_equal(r->st->req_cons, ((struct blkif_sring *)fe_sring(&f, 0))->req_prod - 1);
	fe_wait(&f, 0, 1);
	assert_int_equal(fe_pop(&f, 0).status, BLKIF_RSP_OKAY);
	assert_int_equal(r->stats.missed_events, 1);
}

/* The frontend's rsp_event decides when it wants an interrupt. */
static void test_notifications(void **state)
{
	struct blkif_request_segment s;
	unsigned p, n0;
	evtchn_port_t port;
	int more;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	port = (evtchn_port_t)f.q[0].local;
	p = data_page(true);
	s = seg_of(p, 0, 7);
	n0 = fake_evtchn_notifies(port);
	/* rsp_event starts at 1: the first response interrupts. */
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
	assert_int_equal(fake_evtchn_notifies(port), n0 + 1);
	/* A frontend that polls (leaves rsp_event behind) gets none. */
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
	assert_int_equal(fake_evtchn_notifies(port), n0 + 1);
	/* One that asks for the next response: exactly one for a batch. */
	RING_FINAL_CHECK_FOR_RESPONSES(&f.q[0].r.n, more);
	assert_false(more);
	for (int i = 0; i < 5; i++)
		put_rw(&f, 0, BLKIF_OP_READ, 8 * (uint64_t)i, &s, 1);
	fe_push(&f, 0);
	fe_wait(&f, 0, 5);
	assert_int_equal(fake_evtchn_notifies(port), n0 + 2);
	/* And the backend asked for a kick on our next request. */
	assert_int_equal(((struct blkif_sring *)fe_sring(&f, 0))->req_event,
			 f.q[0].r.n.req_prod_pvt + 1);
}

/* xl's no-discard: discard-enable=0 in the backend directory. */
static void test_discard_disabled(void **state)
{
	uint8_t *snap;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	toolstack_add(&f, T.img, "w");
	xs_writef(0, f.be, "discard-enable", "0");
	wait_state(f.be, XenbusStateInitWait);
	assert_string_equal(xs_get(f.be, "feature-discard"), "0");
	fe_connect(&f);
	wait_state(f.be, XenbusStateConnected);
	fe_find_ports(&f);
	snap = file_snapshot();
	assert_int_equal(do_discard(&f, 0, 0, 64), BLKIF_RSP_EOPNOTSUPP);
	assert_file_is(snap);
}

/* The backing fails under the device (here: a short read after the image
 * shrank): the guest gets an error, not garbage, and the ring goes on. */
static void test_backing_io_error(void **state)
{
	struct blkif_request_segment s;
	unsigned p;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	p = data_page(true);
	s = seg_of(p, 0, 7);
	assert_int_equal(ftruncate(T.img_fd, IMG_BYTES / 2), 0);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, IMG_SECTORS - 8, &s, 1), BLKIF_RSP_ERROR);
	assert_int_equal(be_ring(DEVID, 0)->stats.errors, 1);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
}

/*
 * Reads or writes that continue one another on the disk and arrive in one
 * pass go out as one uplink operation; each is still answered, in order,
 * with its own id.  A flush in between ends the merge (it must see the
 * writes before it submitted), and a short transfer fails only the
 * requests it does not cover.
 */
static void test_merge_neighbours(void **state)
{
	struct blkif_request_segment s[2];
	uint64_t ids[6];
	unsigned p[8];
	uint8_t buf[8 * 4096];
	struct vbd_ring *r;
	uint64_t ops0;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	r = be_ring(DEVID, 0);
	ops0 = r->vbd->up->stats.ops;
	for (int i = 0; i < 8; i++) {
		p[i] = data_page(true);
		fill(gp(p[i]), 4096, 700 + i);
	}
	/* Four 8 KiB writes back to back, then one elsewhere. */
	for (int i = 0; i < 4; i++) {
		s[0] = seg_of(p[2 * i], 0, 7);
		s[1] = seg_of(p[2 * i + 1], 0, 7);
		ids[i] = put_rw(&f, 0, BLKIF_OP_WRITE, 1024 + 16 * (uint64_t)i, s, 2);
	}
	s[0] = seg_of(p[0], 0, 7);
	ids[4] = put_rw(&f, 0, BLKIF_OP_WRITE, 4096, s, 1);
	fe_push(&f, 0);
	fe_wait(&f, 0, 5);
	for (int i = 0; i < 5; i++) {
		struct rsp x = fe_pop(&f, 0);

		assert_int_equal(x.id, ids[i]);
		assert_int_equal(x.status, BLKIF_RSP_OKAY);
	}
	/* Two uplink operations carried the five writes. */
	assert_int_equal(r->stats.merged, 3);
	assert_int_equal(r->vbd->up->stats.ops - ops0, 2);
	file_read(1024 * 512, buf, sizeof(buf));
	for (int i = 0; i < 8; i++)
		assert_memory_equal(buf + 4096 * i, gp(p[i]), 4096);
	file_read(4096 * 512, buf, 4096);
	assert_memory_equal(buf, gp(p[0]), 4096);

	/* Read them back merged, into fresh pages. */
	for (int i = 0; i < 4; i++) {
		unsigned q = data_page(true);

		memset(gp(q), 0, 4096);
		s[0] = seg_of(q, 0, 7);
		ids[i] = put_rw(&f, 0, BLKIF_OP_READ, 1024 + 8 * (uint64_t)i, s, 1);
		p[i] = q;
	}
	fe_push(&f, 0);
	fe_wait(&f, 0, 4);
	for (int i = 0; i < 4; i++) {
		struct rsp x = fe_pop(&f, 0);

		assert_int_equal(x.id, ids[i]);
		assert_int_equal(x.status, BLKIF_RSP_OKAY);
	}
	file_read(1024 * 512, buf, 4 * 4096);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(gp(p[i]), buf + 4096 * i, 4096);
	assert_int_equal(r->stats.merged, 6);

	/* write, flush, write: nothing merges across the flush. */
	s[0] = seg_of(p[0], 0, 7);
	ids[0] = put_rw(&f, 0, BLKIF_OP_WRITE, 2048, s, 1);
	ids[1] = put_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 0, NULL, 0);
	ids[2] = put_rw(&f, 0, BLKIF_OP_WRITE, 2056, s, 1);
	fe_push(&f, 0);
	fe_wait(&f, 0, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fe_pop(&f, 0).status, BLKIF_RSP_OKAY);
	assert_int_equal(r->stats.merged, 6);

	/* A merged read running into the end of a shrunk backing file: the
	 * request before the end succeeds, the one past it fails. */
	assert_int_equal(ftruncate(T.img_fd, IMG_BYTES / 2), 0);
	s[0] = seg_of(p[0], 0, 7);
	ids[0] = put_rw(&f, 0, BLKIF_OP_READ, IMG_SECTORS / 2 - 8, s, 1);
	s[0] = seg_of(p[1], 0, 7);
	ids[1] = put_rw(&f, 0, BLKIF_OP_READ, IMG_SECTORS / 2, s, 1);
	fe_push(&f, 0);
	fe_wait(&f, 0, 2);
	assert_int_equal(fe_pop(&f, 0).status, BLKIF_RSP_OKAY);
	assert_int_equal(fe_pop(&f, 0).status, BLKIF_RSP_ERROR);
	assert_int_equal(r->stats.merged, 7);
}

/* What blanketctl shows: the device, its counters, valid-looking JSON. */
static void test_stats_render(void **state)
{
	struct blkif_request_segment s;
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	unsigned p;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	p = data_page(true);
	s = seg_of(p, 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 0, &s, 1), BLKIF_RSP_OKAY);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
	m = open_memstream(&text, &len);
	assert_non_null(m);
	vbd_render(m, true, false);
	fclose(m);
	assert_non_null(strstr(text, "\"domid\":5,\"devid\":51712"));
	assert_non_null(strstr(text, "\"state\":\"Connected\""));
	assert_non_null(strstr(text, "\"bytes_read\":4096,\"bytes_written\":4096"));
	assert_int_equal(text[0], '{');
	assert_int_equal(text[len - 2], '}');
	free(text);
	text = NULL;
	m = open_memstream(&text, &len);
	assert_non_null(m);
	vbd_render(m, false, false);
	fclose(m);
	assert_non_null(strstr(text, "vbd 5/51712"));
	free(text);
}

/* Far more requests in flight than the io_uring has entries (256 SQ,
 * 1024 CQ here): 4 queues of 512 entries, all full, several times.  The
 * SQ fills up and is flushed early; completions overflow the CQ. */
static void test_many_inflight(void **state)
{
	struct fe f;
	unsigned p;

	(void)state;
	fe_init(&f, DEVID);
	f.nq = 4;
	f.order = 4;
	connect_device(&f, T.img, "w");
	assert_int_equal(be_ring(DEVID, 0)->size, 512);
	p = data_page(true);
	for (int round = 0; round < 3; round++) {
		for (unsigned q = 0; q < 4; q++) {
			for (unsigned i = 0; i < 512; i++) {
				struct blkif_request_segment s = seg_of(p, i % 8, i % 8);

				put_rw(&f, q, round == 1 ? BLKIF_OP_WRITE : BLKIF_OP_READ,
				       (uint64_t)(q * 512 + i) * 2, &s, 1);
			}
			fe_push(&f, q);
		}
		for (unsigned q = 0; q < 4; q++) {
			fe_wait(&f, q, 512);
			for (unsigned i = 0; i < 512; i++)
				assert_int_equal(fe_pop(&f, q).status, BLKIF_RSP_OKAY);
		}
	}
}

/* A 32-bit guest: 108-byte requests, 12-byte responses, 4-byte aligned
 * 64-bit fields.  Also over buffered I/O (direct-io = no). */
static void test_x86_32_abi(void **state)
{
	struct blkif_request_segment seg[11];
	unsigned w[11], r[11], ip;
	uint8_t buf[11 * 4096];
	uint64_t id;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	f.x32 = true;
	f.protocol = "x86_32-abi";
	connect_device(&f, T.img, "w");
	assert_int_equal(be_ring(DEVID, 0)->proto, BLKIF_PROTO_X86_32);
	assert_int_equal(be_ring(DEVID, 0)->size, 32); /* (4096 - 64) / 108 -> 32 */
	assert_false(find_vbd(DEVID)->up->direct);

	/* All 11 direct segments, so the last one ends at byte 108. */
	for (int i = 0; i < 11; i++) {
		w[i] = data_page(true);
		r[i] = data_page(true);
		fill(gp(w[i]), 4096, 300 + i);
		memset(gp(r[i]), 0, 4096);
	}
	full_segs(seg, w, 11);
	seg[10] = seg_of(w[10], 2, 3);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 5000, seg, 11), BLKIF_RSP_OKAY);
	file_read(5000 * 512, buf, 10 * 4096 + 1024);
	for (int i = 0; i < 10; i++)
		assert_memory_equal(buf + i * 4096, gp(w[i]), 4096);
	assert_memory_equal(buf + 10 * 4096, gp(w[10]) + 1024, 1024);
	full_segs(seg, r, 11);
	seg[10] = seg_of(r[10], 2, 3);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 5000, seg, 11), BLKIF_RSP_OKAY);
	for (int i = 0; i < 10; i++)
		assert_memory_equal(gp(r[i]), gp(w[i]), 4096);
	assert_memory_equal(gp(r[10]) + 1024, gp(w[10]) + 1024, 1024);

	/* Many requests at once: each response in its own 108-byte slot, and
	 * the indices wrap. */
	for (int round = 0; round < 4; round++) {
		uint64_t ids[20];

		for (int i = 0; i < 20; i++) {
			struct blkif_request_segment s1 = seg_of(r[i % 11], 0, 7);

			ids[i] = put_rw(&f, 0, BLKIF_OP_READ, (uint64_t)i * 8, &s1, 1);
		}
		fe_push(&f, 0);
		fe_wait(&f, 0, 20);
		for (int i = 0; i < 20; i++) {
			struct rsp rs = fe_pop(&f, 0);
			int k;

			for (k = 0; k < 20 && ids[k] != rs.id; k++)
				;
			assert_true(k < 20);
			assert_int_equal(rs.status, BLKIF_RSP_OKAY);
		}
	}

	/* Discard (nr_sectors at offset 20) and indirect (grefs at 24). */
	assert_int_equal(do_discard(&f, 0, 5000, 8), BLKIF_RSP_OKAY);
	file_read(5000 * 512, buf, 4096 + 512);
	assert_true(all_zero(buf, 4096));
	assert_memory_equal(buf + 4096, gp(w[1]), 512);
	assert_int_equal(do_discard(&f, 0, IMG_SECTORS - 1, 2), BLKIF_RSP_ERROR);
	/* Linux blkfront grants everything writable; with persistent grants
	 * (negotiated here) the backend maps everything writable. */
	ip = data_page(true);
	full_segs(seg, w, 11);
	fill_indirect(&ip, seg, 11);
	id = put_indirect(&f, 0, BLKIF_OP_WRITE, 6000, 11, &ip, 1);
	fe_push(&f, 0);
	assert_int_equal(fe_answer(&f, 0, id, BLKIF_OP_WRITE), BLKIF_RSP_OKAY);
	file_read(6000 * 512, buf, 11 * 4096);
	for (int i = 0; i < 11; i++)
		assert_memory_equal(buf + i * 4096, gp(w[i]), 4096);
	/* The x86_32 overrun check uses the x86_32 ring size. */
	{
		volatile struct x32_sring *sr = fe_sring(&f, 0);

		sr->req_prod = sr->rsp_prod + 33;
		fake_evtchn_kick((evtchn_port_t)f.q[0].local);
		wait_state(f.be, XenbusStateClosing);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_read_write_roundtrip),
		T_(test_multipage_multiqueue),
		T_(test_flush_and_barrier),
		T_(test_discard),
		T_(test_readonly),
		T_(test_watchdog),
		T_(test_notifications),
		T_(test_discard_disabled),
		T_(test_backing_io_error),
		T_(test_merge_neighbours),
		T_(test_stats_render),
		T_(test_many_inflight),
		TC(test_x86_32_abi, "direct-io = no\n"),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
