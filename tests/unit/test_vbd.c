/*
 * test_vbd.c - blanketd's block backend, end to end, without Xen: the
 * device's life in xenstore.  The xenbus handshake and the features it
 * publishes, a daemon restarted under a running guest, the frontend
 * closing and reconnecting, the toolstack detaching or removing devices,
 * and the backings or requests the backend refuses to connect with.  The
 * fixture is vbd_harness.c; the data path is test_vbd_io.c, grant mapping
 * test_vbd_grants.c, a hostile frontend test_vbd_hostile.c.
 */
#include <stdio.h>
#include <string.h>

#include "vbd_harness.h"

/* --- tests: the handshake -------------------------------------------------------- */

static void test_handshake(void **state)
{
	struct fe f;
	struct vbd *v;
	char num[32];

	(void)state;
	fe_init(&f, DEVID);
	toolstack_add(&f, T.img, "w");
	/* libxl gives up after 10 s without InitWait. */
	wait_state(f.be, XenbusStateInitWait);

	/* The features, published with InitWait (blkfront reads them then). */
	assert_string_equal(xs_get(f.be, "feature-persistent"), "1");
	assert_string_equal(xs_get(f.be, "feature-max-indirect-segments"), "256");
	assert_string_equal(xs_get(f.be, "max-ring-page-order"), "4");
	assert_string_equal(xs_get(f.be, "multi-queue-max-queues"), "4");
	assert_string_equal(xs_get(f.be, "feature-flush-cache"), "1");
	assert_string_equal(xs_get(f.be, "feature-barrier"), "1");
	assert_string_equal(xs_get(f.be, "feature-discard"), "1");
	assert_non_null(xs_get(f.be, "discard-granularity"));
	snprintf(num, sizeof(num), "%u", IMG_SECTORS);
	assert_string_equal(xs_get(f.be, "sectors"), num);
	assert_string_equal(xs_get(f.be, "sector-size"), "512");
	assert_non_null(xs_get(f.be, "physical-sector-size"));
	assert_string_equal(xs_get(f.be, "info"), "0");
	assert_null(xs_get(f.be, "hotplug-error"));
	/* Nothing is mapped before the frontend asks. */
	assert_int_equal(fake_gnt_stats().outstanding, 0);

	/* A frontend still initialising does not connect the device. */
	xs_writef(0, f.fe, "state", "1");
	run_for(20);
	assert_int_equal(xs_state(f.be), XenbusStateInitWait);

	fe_connect(&f);
	wait_state(f.be, XenbusStateConnected);
	fe_find_ports(&f);
	v = find_vbd(DEVID);
	assert_non_null(v);
	assert_true(v->connected);
	assert_true(v->persistent);
	assert_int_equal(v->nr_rings, 1);
	assert_int_equal(v->rings[0].size, 32);
	assert_int_equal(fake_gnt_stats().outstanding, 1); /* the ring */
	assert_int_equal(fake_evtchn_bound(), 1);

	/* blkfront then says Connected: no second connect (no new mapping). */
	xs_writef(0, f.fe, "state", "4");
	run_for(20);
	assert_int_equal(xs_state(f.be), XenbusStateConnected);
	assert_int_equal(fake_gnt_stats().outstanding, 1);
	assert_int_equal(fake_gnt_stats().map_calls, 1);
}

/* Another xenstore client committing first makes ours fail with EAGAIN:
 * the features and InitWait must still get there. */
static void test_publish_retries_transactions(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	toolstack_add(&f, T.img, "w");
	fake_xs_fail_commits(3);
	wait_state(f.be, XenbusStateInitWait);
	assert_string_equal(xs_get(f.be, "feature-persistent"), "1");
	fe_connect(&f);
	wait_state(f.be, XenbusStateConnected);
}

/* xenstored so busy that even the patient retries give up on Connected: the
 * error is logged, and the next event publishes it without mapping the
 * rings a second time. */
static void test_publish_failure_does_not_reconnect(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	toolstack_add(&f, T.img, "w");
	wait_state(f.be, XenbusStateInitWait);
	fe_connect(&f);
	fake_xs_fail_commits(32);
	run_for(20);
	assert_int_equal(xs_state(f.be), XenbusStateInitWait);
	assert_int_equal(fake_gnt_stats().map_calls, 1);
	xs_writef(0, f.fe, "state", "3");
	wait_state(f.be, XenbusStateConnected);
	assert_int_equal(fake_gnt_stats().map_calls, 1);
	assert_int_equal(fake_gnt_stats().outstanding, 1);
}

/* Eight 16 KiB requests (reads, or reads and writes in turn) on a
 * connected device, taken in one pass: they are in flight on io_uring. */
static void eight_in_flight(struct fe *f, bool writes)
{
	struct blkif_request_segment s[4];
	unsigned p[4];

	connect_device(f, T.img, "w");
	for (int i = 0; i < 4; i++)
		p[i] = data_page(true);
	full_segs(s, p, 4);
	for (int i = 0; i < 8; i++)
		put_rw(f, 0, writes && (i & 1) ? BLKIF_OP_WRITE : BLKIF_OP_READ, (uint64_t)i * 64, s, 4);
	fe_push(f, 0);
	ev_run(T.loop, EVRUN_NOWAIT);
}

/* Requests the backing leaves unanswered for 10 s are counted and logged,
 * once each; answered ones never are. */
static void test_stuck_requests_reported(void **state)
{
	struct vbd_ring *r;
	unsigned n;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	eight_in_flight(&f, false);
	r = be_ring(DEVID, 0);
	n = r->st->nr_inflight;
	assert_true(n > 0);
	vbd_ring_ctx.ticks += 9;
	vbd_ring_check_stuck(r);
	assert_int_equal(r->stats.stuck, 0);
	vbd_ring_ctx.ticks += 1;
	vbd_ring_check_stuck(r);
	assert_int_equal(r->stats.stuck, n);
	vbd_ring_check_stuck(r);
	assert_int_equal(r->stats.stuck, n);
	run_for(50);
	assert_int_equal(fe_unconsumed(&f, 0), 8);
	vbd_ring_ctx.ticks += 100;
	vbd_ring_check_stuck(r);
	assert_int_equal(r->stats.stuck, n);
}

/* --- tests: the lifecycle ---------------------------------------------------------- */

/* blanketd restarts under a running guest: it leaves xenstore as it is,
 * the new process finds the device Connected and attaches to the same
 * rings; what the guest queued meanwhile is served. */
static void test_daemon_restart(void **state)
{
	struct blkif_request_segment s;
	uint64_t ids[3];
	unsigned p[3];
	uint8_t buf[4096];
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	for (int i = 0; i < 3; i++) {
		p[i] = data_page(true);
		fill(gp(p[i]), 4096, 500 + i);
	}
	s = seg_of(p[0], 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 40, &s, 1), BLKIF_RSP_OKAY);

	/* The old process goes as main() stops it: requests already taken
	 * are finished and answered first... */
	for (int i = 0; i < 3; i++) {
		s = seg_of(p[i], 0, 7);
		put_rw(&f, 0, BLKIF_OP_READ, 8 * (uint64_t)i, &s, 1);
	}
	fe_push(&f, 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	assert_true(be_ring(DEVID, 0)->st->nr_inflight > 0);
	assert_false(vbd_quiesce());
	run_until(quiesced, NULL);
	fe_wait(&f, 0, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fe_pop(&f, 0).status, BLKIF_RSP_OKAY);
	for (int i = 0; i < 3; i++)
		fill(gp(p[i]), 4096, 500 + i);
	/* ...then it lets go of everything; its xenstore connection closes. */
	vbd_shutdown();
	fake_xs_drop_watches();
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
	assert_int_equal(xs_state(f.be), XenbusStateConnected);

	/* The guest keeps going; its kicks reach nobody. */
	for (int i = 0; i < 3; i++) {
		s = seg_of(p[i], 0, 7);
		ids[i] = put_rw(&f, 0, BLKIF_OP_WRITE, 48 + 8 * (uint64_t)i, &s, 1);
	}
	fe_push(&f, 0);

	/* The new process. */
	assert_int_equal(vbd_init(T.loop, T.xen, &T.cfg), 0);
	fe_wait(&f, 0, 3);
	for (int i = 0; i < 3; i++) {
		struct rsp r = fe_pop(&f, 0);

		assert_int_equal(r.id, ids[i]);
		assert_int_equal(r.status, BLKIF_RSP_OKAY);
		file_read((48 + 8 * (uint64_t)i) * 512, buf, 4096);
		assert_memory_equal(buf, gp(p[i]), 4096);
	}
	/* Nothing answered twice. */
	run_for(20);
	assert_int_equal(fe_unconsumed(&f, 0), 0);
	assert_int_equal(xs_state(f.be), XenbusStateConnected);
	/* It notifies on a new port of its own; the guest's port is the same. */
	fe_find_ports(&f);
	s = seg_of(p[0], 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 40, &s, 1), BLKIF_RSP_OKAY);
	/* And it still follows the frontend. */
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
}

static void test_frontend_close(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	xs_writef(0, f.fe, "state", "5");
	wait_state(f.be, XenbusStateClosing);
	/* Rings are released once the frontend starts closing. */
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	/* online=1: the device stays, waiting for the guest to come back. */
	run_for(20);
	assert_non_null(find_vbd(DEVID));
	assert_int_equal(xs_state(f.be), XenbusStateClosed);
}

/* The frontend closes with requests still in flight: the backend finishes
 * them (guest pages stay mapped until the kernel is done with them), then
 * closes. */
static void test_frontend_close_inflight(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	f.persistent = false;
	eight_in_flight(&f, false);
	assert_true(be_ring(DEVID, 0)->st->nr_inflight > 0);
	assert_true(fake_gnt_stats().outstanding > 1);
	xs_writef(0, f.fe, "state", "5");
	wait_state(f.be, XenbusStateClosing);
	/* Every request was answered before the ring went. */
	assert_int_equal(fe_unconsumed(&f, 0), 8);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
}

/* Closed straight from Connected (a frontend that skips Closing). */
static void test_frontend_closed_directly(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
}

/* A guest reboot: Closed, then Initialising again, then a new handshake. */
static void test_frontend_reconnect(void **state)
{
	struct blkif_request_segment s;
	unsigned p;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	p = data_page(true);
	fill(gp(p), 4096, 9);
	s = seg_of(p, 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_WRITE, 24, &s, 1), BLKIF_RSP_OKAY);
	for (int round = 0; round < 3; round++) {
		xs_writef(0, f.fe, "state", "5");
		wait_state(f.be, XenbusStateClosing);
		xs_writef(0, f.fe, "state", "6");
		wait_state(f.be, XenbusStateClosed);
		assert_int_equal(fake_gnt_stats().outstanding, 0);
		xs_writef(0, f.fe, "state", "1");
		wait_state(f.be, XenbusStateInitWait);
		/* The new boot may choose differently: x86_32 and 2 queues. */
		f.nq = round == 1 ? 2 : 1;
		f.x32 = round == 2;
		f.protocol = f.x32 ? "x86_32-abi" : "x86_64-abi";
		f.persistent = round != 0;
		fe_connect(&f);
		wait_state(f.be, XenbusStateConnected);
		fe_find_ports(&f);
		assert_int_equal(find_vbd(DEVID)->nr_rings, f.nq);
		memset(gp(p), 0, 4096);
		assert_int_equal(do_rw(&f, f.nq - 1, BLKIF_OP_READ, 24, &s, 1), BLKIF_RSP_OKAY);
		{
			uint8_t buf[4096];

			file_read(24 * 512, buf, 4096);
			assert_memory_equal(buf, gp(p), 4096);
		}
	}
}

static bool vbd_gone(const void *arg)
{
	return find_vbd(*(const uint32_t *)arg) == NULL;
}

/* xl block-detach / xl destroy: online=0 and state=5 from libxl, the
 * frontend closes, we answer Closed (libxl waits for it), libxl removes. */
static void test_toolstack_detach(void **state)
{
	struct blkif_request_segment s;
	uint32_t devid = DEVID;
	bl_xs_txn t;
	struct fe f;
	unsigned p;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	p = data_page(true);
	s = seg_of(p, 0, 7);
	assert_int_equal(do_rw(&f, 0, BLKIF_OP_READ, 0, &s, 1), BLKIF_RSP_OKAY);
	t = bl_xs_begin(T.xen);
	xs_writef(t, f.be, "online", "0");
	xs_writef(t, f.be, "state", "5");
	assert_true(bl_xs_end(T.xen, t, false));
	run_for(20);
	assert_int_equal(xs_state(f.be), XenbusStateClosing);
	/* blkfront follows the backend to Closed. */
	xs_writef(0, f.fe, "state", "5");
	run_for(20);
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	run_until(vbd_gone, &devid);
	assert_null(find_vbd(DEVID));
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
	assert_int_equal(fake_xs_watches(), 1); /* backend/vbd only */
	/* Until libxl removes the nodes, nobody takes the device back. */
	run_for(50);
	assert_int_equal(xs_state(f.be), XenbusStateClosed);
	assert_null(find_vbd(DEVID));
	t = bl_xs_begin(T.xen);
	assert_true(bl_xs_rm(T.xen, t, f.be));
	assert_true(bl_xs_rm(T.xen, t, f.fe));
	assert_true(bl_xs_end(T.xen, t, false));
	run_for(50);
	assert_int_equal(fake_xs_count(f.be), 0);
	assert_null(find_vbd(DEVID));
}

/* The backend directory removed under a device with I/O in flight (a
 * domain destroyed): the I/O drains, then the device goes, writing nothing. */
static void test_toolstack_rm_inflight(void **state)
{
	uint32_t devid = DEVID;
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	eight_in_flight(&f, true);
	assert_true(be_ring(DEVID, 0)->st->nr_inflight > 0);
	assert_true(bl_xs_rm(T.xen, 0, f.be));
	assert_true(bl_xs_rm(T.xen, 0, f.fe));
	run_until(vbd_gone, &devid);
	assert_null(find_vbd(DEVID));
	run_for(50);
	assert_int_equal(fake_xs_count(f.be), 0);
	assert_int_equal(fake_xs_count(f.fe), 0);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
}

/* A domain's whole backend directory removed at once: all its devices go. */
static void test_toolstack_rm_domain(void **state)
{
	char dom[96];
	struct fe f, g;

	(void)state;
	fe_init(&f, DEVID);
	fe_init(&g, DEVID2);
	connect_device(&f, T.img, "w");
	toolstack_add(&g, T.img, "r"); /* this one never connects */
	wait_state(g.be, XenbusStateInitWait);
	snprintf(dom, sizeof(dom), "/local/domain/0/backend/vbd/%u", DOMID);
	assert_true(bl_xs_rm(T.xen, 0, dom));
	run_for(50);
	assert_null(vbd_list());
	assert_int_equal(fake_xs_count(dom), 0);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
}

/* allowed-paths: the backing lies elsewhere.  The device must not open it,
 * must tell xl why (hotplug-error), and must not connect. */
static void test_path_not_allowed(void **state)
{
	struct fe f;
	const char *err;

	(void)state;
	fe_init(&f, DEVID);
	toolstack_add(&f, T.img, "w");
	/* InitWait all the same, so libxl runs the hotplug script, which
	 * reports hotplug-error to xl. */
	wait_state(f.be, XenbusStateInitWait);
	err = xs_get(f.be, "hotplug-error");
	assert_non_null(err);
	assert_non_null(strstr(err, "allowed-paths"));
	assert_null(xs_get(f.be, "sectors"));
	fe_connect(&f);
	wait_state(f.be, XenbusStateClosing);
	assert_int_equal(fake_gnt_stats().map_calls, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
}

/* No params, or params naming nothing: the same refusal. */
static void test_bad_params(void **state)
{
	struct fe f, g;

	(void)state;
	fe_init(&f, DEVID);
	fe_init(&g, DEVID2);
	toolstack_add(&f, NULL, "w");
	toolstack_add(&g, "/var/tmp/blanket-test-vbd-no-such-file", "w");
	wait_state(f.be, XenbusStateInitWait);
	wait_state(g.be, XenbusStateInitWait);
	assert_non_null(xs_get(f.be, "hotplug-error"));
	assert_non_null(xs_get(g.be, "hotplug-error"));
	fe_connect(&g);
	wait_state(g.be, XenbusStateClosing);
	assert_int_equal(fake_gnt_stats().map_calls, 0);
}

/* A frontend asking for more than we offer is refused, not served. */
static void test_frontend_asks_too_much(void **state)
{
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	f.nq = 2; /* the config below allows 1 queue */
	toolstack_add(&f, T.img, "w");
	wait_state(f.be, XenbusStateInitWait);
	assert_string_equal(xs_get(f.be, "multi-queue-max-queues"), "1");
	assert_string_equal(xs_get(f.be, "max-ring-page-order"), "1");
	fe_connect(&f);
	wait_state(f.be, XenbusStateClosing);
	assert_non_null(xs_get(f.be, "hotplug-error"));
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
	/* A ring whose grant is bad: refused as well, nothing left mapped. */
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	xs_writef(0, f.fe, "state", "1");
	wait_state(f.be, XenbusStateInitWait);
	f.nq = 1;
	f.order = 1;
	fe_connect(&f);
	fake_gnt_revoke(DOMID, GREF(f.q[0].first_page + 1));
	wait_state(f.be, XenbusStateClosing);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
	/* A protocol we do not know: refused before anything is mapped. */
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	xs_writef(0, f.fe, "state", "1");
	wait_state(f.be, XenbusStateInitWait);
	f.order = 0;
	f.protocol = "sparc-abi";
	fe_connect(&f);
	wait_state(f.be, XenbusStateClosing);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(fake_evtchn_bound(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_handshake),
		T_(test_publish_retries_transactions),
		T_(test_publish_failure_does_not_reconnect),
		T_(test_stuck_requests_reported),
		T_(test_daemon_restart),
		T_(test_frontend_close),
		T_(test_frontend_close_inflight),
		T_(test_frontend_closed_directly),
		T_(test_frontend_reconnect),
		T_(test_toolstack_detach),
		T_(test_toolstack_rm_inflight),
		T_(test_toolstack_rm_domain),
		TC(test_path_not_allowed, "allowed-paths = /srv/blanket-images\n"),
		T_(test_bad_params),
		TC(test_frontend_asks_too_much, "max-queues = 1\nmax-ring-page-order = 1\n"),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
