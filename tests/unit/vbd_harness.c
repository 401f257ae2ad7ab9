/*
 * vbd_harness.c - the shared fixture of the vbd tests (vbd_harness.h).
 *
 * blanketd's block backend, end to end, without Xen.
 *
 * The real vbd.c, vbd_ring.c, pgrant.c, uplink_file.c and uring.c run on a
 * libev loop with a real io_uring over a temporary raw image.  fake_xen.c
 * stands in for the hypervisor: guest memory is a memfd, grants map its
 * pages, event channels are an eventfd, xenstore is an in-memory tree with
 * watches.  The test plays the two other parties:
 *   - the toolstack (libxl): writes backend/ and device/ nodes as xl does,
 *     and removes them again;
 *   - blkfront: grants ring and data pages, writes ring-ref/event-channel/
 *     state, puts requests on the shared ring with xen/io/ring.h's macros
 *     and kicks the event channel.
 * It then checks what a guest would see (statuses, data, xenstore states)
 * and what the daemon must never do (touch the image outside a request, leak
 * a mapping, write to a removed device's directory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "uring.h"
#include "vbd_harness.h"

/* Where each ABI puts a request's fields (the x86_32 ring: vbd_harness.h). */
struct layout {
	size_t entry, id, sector, seg, nr_sectors, ind_nr_segs, ind_grefs;
};
static const struct layout L64 = { 112, 8, 16, 24, 24, 2, 28 };
static const struct layout L32 = { 108, 4, 12, 20, 20, 2, 24 };
/* The native layout on this (x86_64) host is the x86_64 one. */
_Static_assert(sizeof(union blkif_sring_entry) == 112, "native entry");
_Static_assert(offsetof(struct blkif_request, id) == 8, "native id");
_Static_assert(offsetof(struct blkif_request, seg) == 24, "native seg");
_Static_assert(offsetof(struct blkif_request_discard, nr_sectors) == 24, "native discard");
_Static_assert(offsetof(struct blkif_request_indirect, indirect_grefs) == 28, "native indirect");

/* --- the fixture ------------------------------------------------------------ */

struct vbd_test T;

bool run_until(bool (*cond)(const void *), const void *arg)
{
	return test_run_until(&T.tl, cond, arg, TIMEOUT_MS);
}

void run_for(int ms)
{
	test_run_for(&T.tl, ms);
}

static uint8_t pat(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)seed * 0xc2b2ae3d27d4eb4full;

	return (uint8_t)(x >> 29 ^ x >> 41);
}

void fill(void *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)p)[i] = pat(seed, i);
}

void file_write(uint64_t off, const void *buf, size_t len)
{
	assert_int_equal(pwrite(T.img_fd, buf, len, (off_t)off), (ssize_t)len);
}

void file_read(uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(T.img_fd, buf, len, (off_t)off), (ssize_t)len);
}

uint8_t *file_snapshot(void)
{
	uint8_t *b = malloc(IMG_BYTES);

	assert_non_null(b);
	file_read(0, b, IMG_BYTES);
	return b;
}

/* The image still holds snap, byte for byte; frees snap. */
void assert_file_is(uint8_t *snap)
{
	uint8_t *now_ = file_snapshot();

	for (size_t i = 0; i < IMG_BYTES; i++)
		if (now_[i] != snap[i])
			fail_msg("image changed at byte %zu (sector %zu)", i, i / 512);
	free(now_);
	free(snap);
}

int setup(void **state)
{
	const char *extra = *state ? *state : "";
	char conf[512], err[256];
	const char *what;
	uint8_t *buf;

	memset(&T, 0, sizeof(T));
	log_level = getenv("TEST_VBD_DEBUG") ? BL_LOG_DEBUG : BL_LOG_ERR;
	/* A filesystem with O_DIRECT (/tmp may be tmpfs). */
	snprintf(T.img, sizeof(T.img), "/var/tmp/blanket-test-vbd-XXXXXX");
	T.img_fd = mkstemp(T.img);
	assert_true(T.img_fd >= 0);
	buf = malloc(IMG_BYTES);
	assert_non_null(buf);
	fill(buf, IMG_BYTES, IMG_SEED);
	file_write(0, buf, IMG_BYTES);
	free(buf);

	/* Four queues whatever this host's CPU count is. */
	snprintf(conf, sizeof(conf), "[vbd]\nmax-queues = 4\n%s", extra);
	assert_int_equal(bl_config_parse(&T.cfg, conf, err, sizeof(err)), 0);

	/* What main() does, minus the control socket and signals. */
	T.xen = bl_xen_open(&what);
	assert_non_null(T.xen);
	T.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(T.loop);
	assert_int_equal(uring_init(T.loop, 256), 0);
	uring_set_flush_hook(vbd_ring_flush_all);
	test_loop_start(&T.tl, T.loop, T.xen, vbd_xs_event, vbd_evtchn_event, TIMEOUT_MS);
	assert_int_equal(vbd_init(T.loop, T.xen, &T.cfg), 0);
	T.next_page = 0;
	T.next_remote = 10;
	return 0;
}

bool quiesced(const void *arg)
{
	(void)arg;
	return vbd_quiesce();
}

int teardown(void **state)
{
	struct fake_gnt_stats gs;
	unsigned bound, bad_evtchn;

	(void)state;
	/* As main() stops: never unmap guest pages with I/O in flight. */
	run_until(quiesced, NULL);
	vbd_shutdown();
	/* Shutdown leaves devices in xenstore for a restarted daemon, but
	 * must let go of every mapping and port. */
	gs = fake_gnt_stats();
	bound = fake_evtchn_bound();
	bad_evtchn = fake_evtchn_bad_calls();
	test_loop_stop(&T.tl);
	uring_exit(T.loop);
	ev_loop_destroy(T.loop);
	bl_xen_close(T.xen);
	bl_config_free(&T.cfg);
	close(T.img_fd);
	unlink(T.img);
	assert_int_equal(gs.outstanding, 0);
	assert_int_equal(gs.outstanding_pages, 0);
	assert_int_equal(gs.bad_unmaps, 0);
	assert_int_equal(bound, 0);
	assert_int_equal(bad_evtchn, 0);
	return 0;
}

/* --- guest memory -------------------------------------------------------------- */

/* n contiguous guest pages (ring pages must be contiguous in our view). */
unsigned guest_alloc(unsigned n)
{
	unsigned p = T.next_page;

	assert_true(p + n <= FAKE_GUEST_PAGES);
	T.next_page += n;
	return p;
}

/* A fresh page granted to the backend by DOMID. */
unsigned data_page(bool writable)
{
	unsigned p = guest_alloc(1);

	fake_gnt_grant(DOMID, GREF(p), p, writable);
	return p;
}

uint8_t *gp(unsigned page)
{
	return fake_guest_page(page);
}

struct blkif_request_segment seg_of(unsigned page, uint8_t first, uint8_t last)
{
	return (struct blkif_request_segment){ .gref = GREF(page), .first_sect = first,
					       .last_sect = last };
}

void fe_init(struct fe *f, uint32_t devid)
{
	memset(f, 0, sizeof(*f));
	f->domid = DOMID;
	f->devid = devid;
	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/vbd/%u/%u", DOMID, devid);
	snprintf(f->fe, sizeof(f->fe), "/local/domain/%u/device/vbd/%u", DOMID, devid);
	f->protocol = "x86_64-abi";
	f->persistent = true;
	f->nq = 1;
}

static const struct layout *lay(const struct fe *f)
{
	return f->x32 ? &L32 : &L64;
}

/* What libxl writes for `disk = [ "...target=<params>" ]`, in one transaction. */
void toolstack_add(const struct fe *f, const char *params, const char *mode)
{
	bl_xs_txn t = bl_xs_begin(T.xen);

	assert_true(t != 0);
	xs_writef(t, f->be, "frontend", "%s", f->fe);
	if (params)
		xs_writef(t, f->be, "params", "%s", params);
	xs_writef(t, f->be, "script", "/etc/xen/scripts/blanket");
	xs_writef(t, f->be, "frontend-id", "%u", f->domid);
	xs_writef(t, f->be, "online", "1");
	xs_writef(t, f->be, "removable", "0");
	xs_writef(t, f->be, "bootable", "1");
	xs_writef(t, f->be, "state", "1");
	xs_writef(t, f->be, "dev", "xvda");
	xs_writef(t, f->be, "type", "phy");
	xs_writef(t, f->be, "mode", "%s", mode);
	xs_writef(t, f->be, "device-type", "disk");
	xs_writef(t, f->be, "discard-enable", "1");
	xs_writef(t, f->be, "specification", "xen");
	xs_writef(t, f->fe, "backend", "%s", f->be);
	xs_writef(t, f->fe, "backend-id", "0");
	xs_writef(t, f->fe, "state", "1");
	xs_writef(t, f->fe, "virtual-device", "%u", f->devid);
	xs_writef(t, f->fe, "device-type", "disk");
	xs_writef(t, f->fe, "trusted", "1");
	xs_writef(t, f->fe, "protocol", "x86_64-abi");
	assert_true(bl_xs_end(T.xen, t, false));
}

/* blkfront's talk_to_blkback(): rings, ports, protocol, then Initialised. */
void fe_connect(struct fe *f)
{
	unsigned pages = 1u << f->order;
	bl_xs_txn t = bl_xs_begin(T.xen);
	char dir[160], node[32];

	assert_true(t != 0);
	/* A frontend connecting again (kexec, or after a broken ring) starts
	 * from a clean directory: no stale queue or ring nodes. */
	for (unsigned i = 0; i < 4; i++) {
		snprintf(dir, sizeof(dir), "%s/queue-%u", f->fe, i);
		assert_true(bl_xs_rm(T.xen, t, dir));
		snprintf(node, sizeof(node), "ring-ref%u", i);
		snprintf(dir, sizeof(dir), "%s/%s", f->fe, node);
		assert_true(bl_xs_rm(T.xen, t, dir));
	}
	snprintf(dir, sizeof(dir), "%s/ring-ref", f->fe);
	assert_true(bl_xs_rm(T.xen, t, dir));
	snprintf(dir, sizeof(dir), "%s/multi-queue-num-queues", f->fe);
	assert_true(bl_xs_rm(T.xen, t, dir));
	snprintf(dir, sizeof(dir), "%s/ring-page-order", f->fe);
	assert_true(bl_xs_rm(T.xen, t, dir));
	for (unsigned i = 0; i < f->nq; i++) {
		struct feq *q = &f->q[i];
		void *s;

		q->first_page = guest_alloc(pages);
		for (unsigned k = 0; k < pages; k++)
			fake_gnt_grant(f->domid, GREF(q->first_page + k), q->first_page + k, true);
		s = gp(q->first_page);
		memset(s, 0, (size_t)pages * FAKE_PAGE_SIZE);
		if (f->x32) {
			SHARED_RING_INIT((struct x32_sring *)s);
			FRONT_RING_INIT(&q->r.x, (struct x32_sring *)s, pages * FAKE_PAGE_SIZE);
		} else {
			SHARED_RING_INIT((struct blkif_sring *)s);
			FRONT_RING_INIT(&q->r.n, (struct blkif_sring *)s, pages * FAKE_PAGE_SIZE);
		}
		q->remote = T.next_remote++;
		q->local = -1;
		if (f->nq == 1)
			snprintf(dir, sizeof(dir), "%s", f->fe);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", f->fe, i);
		for (unsigned k = 0; k < pages; k++) {
			if (f->order == 0)
				snprintf(node, sizeof(node), "ring-ref");
			else
				snprintf(node, sizeof(node), "ring-ref%u", k);
			xs_writef(t, dir, node, "%u", GREF(q->first_page + k));
		}
		xs_writef(t, dir, "event-channel", "%u", q->remote);
	}
	if (f->nq > 1)
		xs_writef(t, f->fe, "multi-queue-num-queues", "%u", f->nq);
	if (f->order)
		xs_writef(t, f->fe, "ring-page-order", "%u", f->order);
	xs_writef(t, f->fe, "protocol", "%s", f->protocol);
	xs_writef(t, f->fe, "feature-persistent", "%u", f->persistent ? 1u : 0u);
	xs_writef(t, f->fe, "state", "3");
	assert_true(bl_xs_end(T.xen, t, false));
}

/* After the backend said Connected: find the ports it bound. */
void fe_find_ports(struct fe *f)
{
	for (unsigned i = 0; i < f->nq; i++) {
		f->q[i].local = fake_evtchn_local_port(f->domid, f->q[i].remote);
		assert_true(f->q[i].local > 0);
	}
}

/* The whole handshake: add, InitWait, connect, Connected. */
void connect_device(struct fe *f, const char *params, const char *mode)
{
	toolstack_add(f, params, mode);
	wait_state(f->be, XenbusStateInitWait);
	fe_connect(f);
	wait_state(f->be, XenbusStateConnected);
	fe_find_ports(f);
}

struct vbd *find_vbd(uint32_t devid)
{
	for (struct vbd *v = vbd_list(); v; v = vbd_next(v))
		if (v->xb.domid == DOMID && v->xb.devid == devid)
			return v;
	return NULL;
}

void *fe_sring(struct fe *f, unsigned qi)
{
	return gp(f->q[qi].first_page);
}

/* A segment in wire format, padding zeroed (a struct copy could carry
 * whatever the compiler left in the padding). */
static void put_seg(uint8_t *dst, const struct blkif_request_segment *s)
{
	memcpy(dst, &s->gref, 4);
	dst[4] = s->first_sect;
	dst[5] = s->last_sect;
	dst[6] = dst[7] = 0;
}

/* The next free request entry, zeroed; its fresh id in *id.  The ids have
 * high bits set so a 32-bit truncation anywhere shows. */
uint8_t *fe_slot(struct fe *f, unsigned qi, uint64_t *id)
{
	struct feq *q = &f->q[qi];
	uint8_t *e;

	if (f->x32)
		e = (uint8_t *)RING_GET_REQUEST(&q->r.x, q->r.x.req_prod_pvt++);
	else
		e = (uint8_t *)RING_GET_REQUEST(&q->r.n, q->r.n.req_prod_pvt++);
	memset(e, 0, lay(f)->entry);
	*id = 0xabcd000000000000ull | ((uint64_t)qi << 32) | ++q->next_id;
	memcpy(e + lay(f)->id, id, 8);
	return e;
}

/* A read/write/flush/barrier request.  nseg goes on the ring as given
 * (it may be bogus); at most 11 segments are copied. */
uint64_t put_rw(struct fe *f, unsigned qi, uint8_t op, uint64_t sector,
		const struct blkif_request_segment *seg, unsigned nseg)
{
	const struct layout *L = lay(f);
	uint64_t id;
	uint8_t *e = fe_slot(f, qi, &id);

	e[0] = op;
	e[1] = (uint8_t)nseg;
	memcpy(e + L->sector, &sector, 8);
	for (unsigned i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		put_seg(e + L->seg + 8 * i, &seg[i]);
	return id;
}

uint64_t put_discard(struct fe *f, unsigned qi, uint64_t sector, uint64_t nr)
{
	const struct layout *L = lay(f);
	uint64_t id;
	uint8_t *e = fe_slot(f, qi, &id);

	e[0] = BLKIF_OP_DISCARD;
	memcpy(e + L->sector, &sector, 8);
	memcpy(e + L->nr_sectors, &nr, 8);
	return id;
}

/* An indirect request; its segment list is already in the indirect pages. */
uint64_t put_indirect(struct fe *f, unsigned qi, uint8_t iop, uint64_t sector,
		      uint16_t nseg, const unsigned *ipages, unsigned nipages)
{
	const struct layout *L = lay(f);
	uint64_t id;
	uint8_t *e = fe_slot(f, qi, &id);

	e[0] = BLKIF_OP_INDIRECT;
	e[1] = iop;
	memcpy(e + L->ind_nr_segs, &nseg, 2);
	memcpy(e + L->sector, &sector, 8);
	for (unsigned i = 0; i < nipages; i++) {
		grant_ref_t g = GREF(ipages[i]);

		memcpy(e + L->ind_grefs + 4 * i, &g, 4);
	}
	return id;
}

/* Publish the requests and kick the backend if the ring macros say so. */
void fe_push(struct fe *f, unsigned qi)
{
	struct feq *q = &f->q[qi];
	int notify;

	if (f->x32)
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->r.x, notify);
	else
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->r.n, notify);
	if (notify)
		fake_evtchn_kick((evtchn_port_t)q->local);
}

static RING_IDX fe_rsp_cons(struct fe *f, unsigned qi)
{
	return f->x32 ? f->q[qi].r.x.rsp_cons : f->q[qi].r.n.rsp_cons;
}

unsigned fe_unconsumed(struct fe *f, unsigned qi)
{
	volatile struct blkif_sring *s = fe_sring(f, qi);
	RING_IDX prod = s->rsp_prod;

	rmb();
	return prod - fe_rsp_cons(f, qi);
}

/* Take the next response: id at 0, operation at 8 and status at 10 in both
 * layouts (the entry sizes differ). */
struct rsp fe_pop(struct fe *f, unsigned qi)
{
	struct feq *q = &f->q[qi];
	const uint8_t *e;
	struct rsp r;

	if (f->x32)
		e = (const uint8_t *)RING_GET_RESPONSE(&q->r.x, q->r.x.rsp_cons++);
	else
		e = (const uint8_t *)RING_GET_RESPONSE(&q->r.n, q->r.n.rsp_cons++);
	memcpy(&r.id, e, 8);
	r.op = e[8];
	memcpy(&r.status, e + 10, 2);
	return r;
}

struct rsp_cond {
	struct fe *f;
	unsigned qi, n;
};

static bool has_responses(const void *arg)
{
	const struct rsp_cond *c = arg;

	return fe_unconsumed(c->f, c->qi) >= c->n;
}

/* Run until n responses are there; exactly n must be. */
void fe_wait(struct fe *f, unsigned qi, unsigned n)
{
	struct rsp_cond c = { f, qi, n };

	if (!run_until(has_responses, &c)) {
		struct vbd *v = find_vbd(f->devid);

		for (unsigned i = 0; v && i < v->nr_rings; i++) {
			volatile struct blkif_sring *sr = v->rings[i].sring;

			print_message("queue %u: req_cons %u rsp_prod_pvt %u in flight %u; "
				      "shared req_prod %u rsp_prod %u req_event %u rsp_event %u\n",
				      i, v->rings[i].st->req_cons, v->rings[i].st->rsp_prod_pvt,
				      v->rings[i].st->nr_inflight, sr->req_prod, sr->rsp_prod,
				      sr->req_event, sr->rsp_event);
		}
	}
	assert_int_equal(fe_unconsumed(f, qi), n);
}

/* The one outstanding request's response: checks id and op, returns status. */
int16_t fe_answer(struct fe *f, unsigned qi, uint64_t id, uint8_t op)
{
	struct rsp r;

	fe_wait(f, qi, 1);
	r = fe_pop(f, qi);
	assert_int_equal(r.id, id);
	assert_int_equal(r.op, op);
	return r.status;
}

/* One request on the ring, pushed and answered: its status. */
int16_t do_rw(struct fe *f, unsigned qi, uint8_t op, uint64_t sector,
	      const struct blkif_request_segment *seg, unsigned nseg)
{
	uint64_t id = put_rw(f, qi, op, sector, seg, nseg);

	fe_push(f, qi);
	return fe_answer(f, qi, id, op);
}

int16_t do_discard(struct fe *f, unsigned qi, uint64_t sector, uint64_t nr)
{
	uint64_t id = put_discard(f, qi, sector, nr);

	fe_push(f, qi);
	return fe_answer(f, qi, id, BLKIF_OP_DISCARD);
}

/* n full-page segments over data pages pages[0..n). */
void full_segs(struct blkif_request_segment *seg, const unsigned *pages, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		seg[i] = seg_of(pages[i], 0, 7);
}

/* Write the segment list of an indirect request into its indirect pages. */
void fill_indirect(const unsigned *ipages, const struct blkif_request_segment *seg,
		   unsigned n)
{
	const unsigned per_page = FAKE_PAGE_SIZE / sizeof(*seg);

	for (unsigned i = 0; i < n; i++)
		put_seg(gp(ipages[i / per_page]) + (i % per_page) * sizeof(*seg), &seg[i]);
}

/* The backend's ring as it keeps it (white box, for sizes and caches). */
struct vbd_ring *be_ring(uint32_t devid, unsigned qi)
{
	struct vbd *v = find_vbd(devid);

	assert_non_null(v);
	assert_true(qi < v->nr_rings);
	return &v->rings[qi];
}
