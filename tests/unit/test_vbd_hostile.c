/*
 * test_vbd_hostile.c - blanketd's block backend, end to end, without Xen,
 * against a broken or hostile frontend: malformed requests of every kind
 * (with and without persistent grants) fail without touching the image or
 * the guest's pages, and a producer index that runs ahead of the ring or
 * goes backwards closes that device only.  The fixture is vbd_harness.c.
 */
#include <stdlib.h>
#include <string.h>

#include "vbd_harness.h"

/* --- tests: a hostile frontend ------------------------------------------------------ */

struct bad {
	const char *what;
	uint64_t id;
	int16_t status;
};

static void malformed(bool persistent)
{
	struct blkif_request_segment s[12], ind[4];
	struct bad bad[32];
	unsigned nb = 0, first_data, ro, w, other, ip, ip_bad, ip_big, ip_un;
	size_t gbytes;
	uint8_t *snap, *gsnap;
	struct fe f;

	fe_init(&f, DEVID);
	f.persistent = persistent;
	connect_device(&f, T.img, "w");
	first_data = T.next_page;
	w = data_page(true);
	ro = data_page(false);
	other = guest_alloc(1);
	fake_gnt_grant(DOMID + 1, GREF(other), other, true); /* another domain's grant */
	ip = data_page(false);
	ip_bad = data_page(false);
	ip_big = data_page(false);
	ip_un = guest_alloc(1); /* never granted */
	for (unsigned i = 0; i < 12; i++)
		s[i] = seg_of(w, 0, 7);
	fill_indirect(&ip, s, 4);
	ind[0] = seg_of(w, 0, 7);
	ind[1] = seg_of(w, 0, 9); /* last_sect past the page */
	fill_indirect(&ip_bad, ind, 2);
	fill_indirect(&ip_big, s, 2);
	for (unsigned i = first_data; i < T.next_page; i++)
		if (i != ip && i != ip_bad && i != ip_big)
			fill(gp(i), 4096, 0xbad0 + i);
	gbytes = (size_t)(T.next_page - first_data) * 4096;
	gsnap = malloc(gbytes);
	assert_non_null(gsnap);
	memcpy(gsnap, gp(first_data), gbytes);
	snap = file_snapshot();

#define BAD(desc, st, put) do { bad[nb].what = desc; bad[nb].status = st; bad[nb].id = (put); nb++; } while (0)
	{
		uint64_t id;
		uint8_t *e = fe_slot(&f, 0, &id);

		e[0] = 77; /* no such operation */
		BAD("unknown operation", BLKIF_RSP_EOPNOTSUPP, id);
	}
	BAD("read of 0 segments", BLKIF_RSP_ERROR, put_rw(&f, 0, BLKIF_OP_READ, 0, s, 0));
	BAD("write of 0 segments", BLKIF_RSP_ERROR, put_rw(&f, 0, BLKIF_OP_WRITE, 0, s, 0));
	BAD("read of 12 segments", BLKIF_RSP_ERROR, put_rw(&f, 0, BLKIF_OP_READ, 0, s, 12));
	BAD("write of 12 segments", BLKIF_RSP_ERROR, put_rw(&f, 0, BLKIF_OP_WRITE, 0, s, 12));
	BAD("flush of 12 segments", BLKIF_RSP_ERROR,
	    put_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 0, s, 12));
	{
		struct blkif_request_segment x[2] = { seg_of(w, 0, 7), seg_of(w, 5, 2) };

		BAD("first_sect > last_sect", BLKIF_RSP_ERROR,
		    put_rw(&f, 0, BLKIF_OP_WRITE, 0, x, 2));
		x[1] = seg_of(w, 0, 8);
		BAD("last_sect 8", BLKIF_RSP_ERROR, put_rw(&f, 0, BLKIF_OP_WRITE, 0, x, 2));
		x[1] = seg_of(w, 200, 255);
		BAD("sectors 200..255", BLKIF_RSP_ERROR, put_rw(&f, 0, BLKIF_OP_READ, 0, x, 2));
	}
	BAD("write running past the end", BLKIF_RSP_ERROR,
	    put_rw(&f, 0, BLKIF_OP_WRITE, IMG_SECTORS - 4, s, 1));
	BAD("write starting past the end", BLKIF_RSP_ERROR,
	    put_rw(&f, 0, BLKIF_OP_WRITE, IMG_SECTORS, s, 1));
	BAD("write at a wrapping sector", BLKIF_RSP_ERROR,
	    put_rw(&f, 0, BLKIF_OP_WRITE, UINT64_MAX - 3, s, 1));
	{
		struct blkif_request_segment x[2] = { seg_of(w, 0, 7),
						      { .gref = 999999, .last_sect = 7 } };

		BAD("write from an ungranted ref", BLKIF_RSP_ERROR,
		    put_rw(&f, 0, BLKIF_OP_WRITE, 0, x, 2));
		x[1] = seg_of(other, 0, 7);
		BAD("write from another domain's grant", BLKIF_RSP_ERROR,
		    put_rw(&f, 0, BLKIF_OP_WRITE, 0, x, 2));
		x[1] = seg_of(ro, 0, 7);
		BAD("read into a read-only grant", BLKIF_RSP_ERROR,
		    put_rw(&f, 0, BLKIF_OP_READ, 0, x, 2));
	}
	BAD("indirect of 0 segments", BLKIF_RSP_ERROR,
	    put_indirect(&f, 0, BLKIF_OP_READ, 0, 0, &ip, 1));
	BAD("indirect of 257 segments", BLKIF_RSP_ERROR,
	    put_indirect(&f, 0, BLKIF_OP_READ, 0, 257, &ip, 1));
	BAD("indirect of 65535 segments", BLKIF_RSP_ERROR,
	    put_indirect(&f, 0, BLKIF_OP_READ, 0, 65535, &ip, 1));
	BAD("indirect flush", BLKIF_RSP_ERROR,
	    put_indirect(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 0, 4, &ip, 1));
	BAD("indirect discard", BLKIF_RSP_ERROR, put_indirect(&f, 0, BLKIF_OP_DISCARD, 0, 4, &ip, 1));
	BAD("indirect page not granted", BLKIF_RSP_ERROR,
	    put_indirect(&f, 0, BLKIF_OP_READ, 0, 4, &ip_un, 1));
	BAD("indirect segment with last_sect 9", BLKIF_RSP_ERROR,
	    put_indirect(&f, 0, BLKIF_OP_READ, 0, 2, &ip_bad, 1));
	BAD("indirect write running past the end", BLKIF_RSP_ERROR,
	    put_indirect(&f, 0, BLKIF_OP_WRITE, IMG_SECTORS - 8, 2, &ip_big, 1));
	BAD("discard running past the end", BLKIF_RSP_ERROR,
	    put_discard(&f, 0, IMG_SECTORS - 1, 2));
	BAD("discard of 2^64-1 sectors", BLKIF_RSP_ERROR, put_discard(&f, 0, 8, UINT64_MAX));
#undef BAD
	assert_true(nb <= 32);
	fe_push(&f, 0);
	fe_wait(&f, 0, nb);
	for (unsigned i = 0; i < nb; i++) {
		struct rsp r = fe_pop(&f, 0);
		unsigned k;

		for (k = 0; k < nb && bad[k].id != r.id; k++)
			;
		assert_true(k < nb);
		if (r.status != bad[k].status)
			fail_msg("%s: status %d, expected %d", bad[k].what, r.status, bad[k].status);
	}
	/* Not a byte of the image, nor of the guest's pages, changed. */
	assert_file_is(snap);
	for (size_t i = 0; i < gbytes; i++)
		if (gp(first_data)[i] != gsnap[i])
			fail_msg("guest page %zu changed at byte %zu", first_data + i / 4096, i % 4096);
	free(gsnap);
	/* Failed requests leave nothing mapped but the ring and the cache. */
	assert_int_equal(fake_gnt_stats().outstanding, 1 + be_ring(DEVID, 0)->pg.count);
	assert_int_equal(be_ring(DEVID, 0)->st->nr_inflight, 0);

	/* The device still works, and is still Connected. */
	assert_int_equal(xs_state(f.be), XenbusStateConnected);
	s[0] = seg_of(w, 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, s, 1), BLKIF_RSP_OKAY);
	/* Writing from a read-only grant is legitimate when grants are mapped
	 * per request; a persistent backend maps everything writable, as
	 * blkback does, so there it fails. */
	s[0] = seg_of(ro, 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 0, s, 1),
			 persistent ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY);
}

static void test_malformed_requests(void **state)
{
	(void)state;
	malformed(false);
}

static void test_malformed_requests_persistent(void **state)
{
	(void)state;
	malformed(true);
}

/* A producer index more than a ring ahead: the frontend is broken or
 * hostile.  Its device closes; the daemon and other devices carry on. */
static void test_producer_overrun(void **state)
{
	struct blkif_request_segment s;
	struct fe f, g;
	volatile struct blkif_sring *sr;
	unsigned p;

	(void)state;
	fe_init(&f, DEVID);
	fe_init(&g, DEVID2);
	connect_device(&f, T.img, "w");
	connect_device(&g, T.img, "w");
	p = data_page(true);
	s = seg_of(p, 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);

	sr = fe_sring(&f, 0);
	sr->req_prod = sr->rsp_prod + 32 + 1;
	fake_evtchn_kick((evtchn_port_t)f.q[0].local);
	wait_state(f.be, XenbusStateClosing);
	assert_non_null(xs_get(f.be, "blanket-error"));
	/* No response was made up for the garbage. */
	run_for(20);
	assert_int_equal(sr->rsp_prod, 1);

	/* The other device does not notice. */
	assert_int_equal(do_rw(&g, 0, BLKIF_OP_READ, 8, &s, 1), BLKIF_RSP_OKAY);
	assert_int_equal(xs_state(g.be), XenbusStateConnected);

	/* blkfront closes; the device can connect again. */
	xs_writef(0, f.fe, "state", "5");
	wait_state(f.be, XenbusStateClosing);
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	assert_int_equal(fake_gnt_stats().outstanding, 1 + 1); /* g's ring and its pgrant */
	xs_writef(0, f.fe, "state", "1");
	wait_state(f.be, XenbusStateInitWait);
	fe_connect(&f);
	wait_state(f.be, XenbusStateConnected);
	fe_find_ports(&f);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
}

/* req_prod moved backwards, behind what we consumed: just as fatal. */
static void test_producer_backwards(void **state)
{
	struct blkif_request_segment s;
	volatile struct blkif_sring *sr;
	unsigned p;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	p = data_page(true);
	s = seg_of(p, 0, 7);
	for (int i = 0; i < 10; i++)
		assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
	sr = fe_sring(&f, 0);
	sr->req_prod = 5;
	fake_evtchn_kick((evtchn_port_t)f.q[0].local);
	wait_state(f.be, XenbusStateClosing);
	run_for(20);
	assert_int_equal(sr->rsp_prod, 10);
	assert_int_equal(be_ring(DEVID, 0)->st->nr_inflight, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_malformed_requests),
		T_(test_malformed_requests_persistent),
		T_(test_producer_overrun),
		T_(test_producer_backwards),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
