/*
 * test_vbd.c - blanketd's block backend, end to end, without Xen.
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
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_xen.h"
#include "test_loop.h"
#include "log.h"
#include "uring.h"
#include "vbd.h"

/* xen/io/ring.h's macros expect the OS to provide these. */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#define DOMID 5u
#define DEVID 51712u            /* xvda */
#define DEVID2 51728u           /* xvdb */
#define IMG_BYTES (8u << 20)
#define IMG_SECTORS (IMG_BYTES / 512u)
#define TIMEOUT_MS 5000
/* Guest grant refs differ from page numbers so a mix-up shows. */
#define GREF(page) (0x10000u + (page))
#define IMG_SEED 0xf11eu        /* the image's initial contents */

/*
 * The x86_32 ring ("x86_32-abi"): 108-byte requests and 12-byte responses,
 * 64-bit fields only 4-byte aligned.  Described as bytes so that the test
 * does not share blkif.c's structs: the offsets below are the ABI, checked
 * by hand against blkback's common.h.
 */
struct x32_req { uint8_t b[108]; };
struct x32_rsp { uint8_t b[12]; };
DEFINE_RING_TYPES(x32, struct x32_req, struct x32_rsp);

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

static struct {
	struct bl_xen *xen;
	struct ev_loop *loop;
	struct bl_config cfg;
	struct test_loop tl;
	char img[64];
	int img_fd;
	unsigned next_page;        /* guest page allocator */
	evtchn_port_t next_remote; /* frontend port allocator */
} T;

static bool run_until(bool (*cond)(const void *), const void *arg)
{
	return test_run_until(&T.tl, cond, arg, TIMEOUT_MS);
}

static void run_for(int ms)
{
	test_run_for(&T.tl, ms);
}

static uint8_t pat(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)seed * 0xc2b2ae3d27d4eb4full;

	return (uint8_t)(x >> 29 ^ x >> 41);
}

static void fill(void *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)p)[i] = pat(seed, i);
}

static void file_write(uint64_t off, const void *buf, size_t len)
{
	assert_int_equal(pwrite(T.img_fd, buf, len, (off_t)off), (ssize_t)len);
}

static void file_read(uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(T.img_fd, buf, len, (off_t)off), (ssize_t)len);
}

static uint8_t *file_snapshot(void)
{
	uint8_t *b = malloc(IMG_BYTES);

	assert_non_null(b);
	file_read(0, b, IMG_BYTES);
	return b;
}

/* The image still holds snap, byte for byte; frees snap. */
static void assert_file_is(uint8_t *snap)
{
	uint8_t *now_ = file_snapshot();

	for (size_t i = 0; i < IMG_BYTES; i++)
		if (now_[i] != snap[i])
			fail_msg("image changed at byte %zu (sector %zu)", i, i / 512);
	free(now_);
	free(snap);
}

static int setup(void **state)
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
	test_loop_start(&T.tl, T.loop, T.xen, vbd_xs_event, vbd_evtchn_event);
	assert_int_equal(vbd_init(T.loop, T.xen, &T.cfg), 0);
	T.next_page = 0;
	T.next_remote = 10;
	return 0;
}

static bool quiesced(const void *arg)
{
	(void)arg;
	return vbd_quiesce();
}

static int teardown(void **state)
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
static unsigned guest_alloc(unsigned n)
{
	unsigned p = T.next_page;

	assert_true(p + n <= FAKE_GUEST_PAGES);
	T.next_page += n;
	return p;
}

/* A fresh page granted to the backend by DOMID. */
static unsigned data_page(bool writable)
{
	unsigned p = guest_alloc(1);

	fake_gnt_grant(DOMID, GREF(p), p, writable);
	return p;
}

static uint8_t *gp(unsigned page)
{
	return fake_guest_page(page);
}

static struct blkif_request_segment seg_of(unsigned page, uint8_t first, uint8_t last)
{
	return (struct blkif_request_segment){ .gref = GREF(page), .first_sect = first,
					       .last_sect = last };
}

/* --- xenstore as the toolstack sees it --------------------------------------- */

static void xs_writef(bl_xs_txn t, const char *dir, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void xs_writef(bl_xs_txn t, const char *dir, const char *node, const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	assert_true(bl_xs_write(T.xen, t, path, val));
}

/* A node's value (static buffer), or NULL. */
static const char *xs_get(const char *dir, const char *node)
{
	static char val[256];
	char path[256], *v;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	v = bl_xs_read(T.xen, 0, path);
	if (!v)
		return NULL;
	snprintf(val, sizeof(val), "%s", v);
	free(v);
	return val;
}

static int xs_state(const char *dir)
{
	const char *s = xs_get(dir, "state");

	return s ? atoi(s) : -1;
}

/* --- the frontend ------------------------------------------------------------- */

struct feq {
	unsigned first_page;      /* the ring's pages, contiguous */
	evtchn_port_t remote;     /* our port, as written to xenstore */
	int local;                /* the backend's end of it */
	union {
		struct blkif_front_ring n;
		struct x32_front_ring x;
	} r;
	uint64_t next_id;
};

struct fe {
	uint32_t domid, devid;
	char be[128], fe[128];
	const char *protocol;
	bool x32, persistent;
	unsigned order, nq;
	struct feq q[4];
};

static void fe_init(struct fe *f, uint32_t devid)
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
static void toolstack_add(const struct fe *f, const char *params, const char *mode)
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

struct state_cond {
	const char *dir;
	int state;
};

static bool state_is(const void *arg)
{
	const struct state_cond *c = arg;

	return xs_state(c->dir) == c->state;
}

/* Run until dir/state == s and insist on it. */
static void wait_state(const char *dir, int s)
{
	struct state_cond c = { dir, s };

	run_until(state_is, &c);
	assert_int_equal(xs_state(dir), s);
}

/* blkfront's talk_to_blkback(): rings, ports, protocol, then Initialised. */
static void fe_connect(struct fe *f)
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
static void fe_find_ports(struct fe *f)
{
	for (unsigned i = 0; i < f->nq; i++) {
		f->q[i].local = fake_evtchn_local_port(f->domid, f->q[i].remote);
		assert_true(f->q[i].local > 0);
	}
}

/* The whole handshake: add, InitWait, connect, Connected. */
static void connect_device(struct fe *f, const char *params, const char *mode)
{
	toolstack_add(f, params, mode);
	wait_state(f->be, XenbusStateInitWait);
	fe_connect(f);
	wait_state(f->be, XenbusStateConnected);
	fe_find_ports(f);
}

static struct vbd *find_vbd(uint32_t devid)
{
	for (struct vbd *v = vbd_list(); v; v = v->next)
		if (v->domid == DOMID && v->devid == devid)
			return v;
	return NULL;
}

static void *fe_sring(struct fe *f, unsigned qi)
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
static uint8_t *fe_slot(struct fe *f, unsigned qi, uint64_t *id)
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
static uint64_t put_rw(struct fe *f, unsigned qi, uint8_t op, uint64_t sector,
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

static uint64_t put_discard(struct fe *f, unsigned qi, uint64_t sector, uint64_t nr)
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
static uint64_t put_indirect(struct fe *f, unsigned qi, uint8_t iop, uint64_t sector,
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
static void fe_push(struct fe *f, unsigned qi)
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

struct rsp {
	uint64_t id;
	uint8_t op;
	int16_t status;
};

static RING_IDX fe_rsp_cons(struct fe *f, unsigned qi)
{
	return f->x32 ? f->q[qi].r.x.rsp_cons : f->q[qi].r.n.rsp_cons;
}

static unsigned fe_unconsumed(struct fe *f, unsigned qi)
{
	volatile struct blkif_sring *s = fe_sring(f, qi);
	RING_IDX prod = s->rsp_prod;

	rmb();
	return prod - fe_rsp_cons(f, qi);
}

/* Take the next response: id at 0, operation at 8 and status at 10 in both
 * layouts (the entry sizes differ). */
static struct rsp fe_pop(struct fe *f, unsigned qi)
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
static void fe_wait(struct fe *f, unsigned qi, unsigned n)
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
static int16_t fe_answer(struct fe *f, unsigned qi, uint64_t id, uint8_t op)
{
	struct rsp r;

	fe_wait(f, qi, 1);
	r = fe_pop(f, qi);
	assert_int_equal(r.id, id);
	assert_int_equal(r.op, op);
	return r.status;
}

/* One request on the ring, pushed and answered: its status. */
static int16_t do_rw(struct fe *f, unsigned qi, uint8_t op, uint64_t sector,
		     const struct blkif_request_segment *seg, unsigned nseg)
{
	uint64_t id = put_rw(f, qi, op, sector, seg, nseg);

	fe_push(f, qi);
	return fe_answer(f, qi, id, op);
}

static int16_t do_discard(struct fe *f, unsigned qi, uint64_t sector, uint64_t nr)
{
	uint64_t id = put_discard(f, qi, sector, nr);

	fe_push(f, qi);
	return fe_answer(f, qi, id, BLKIF_OP_DISCARD);
}

/* n full-page segments over data pages pages[0..n). */
static void full_segs(struct blkif_request_segment *seg, const unsigned *pages, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		seg[i] = seg_of(pages[i], 0, 7);
}

/* Write the segment list of an indirect request into its indirect pages. */
static void fill_indirect(const unsigned *ipages, const struct blkif_request_segment *seg,
			  unsigned n)
{
	const unsigned per_page = FAKE_PAGE_SIZE / sizeof(*seg);

	for (unsigned i = 0; i < n; i++)
		put_seg(gp(ipages[i / per_page]) + (i % per_page) * sizeof(*seg), &seg[i]);
}

/* The backend's ring as it keeps it (white box, for sizes and caches). */
static struct vbd_ring *be_ring(uint32_t devid, unsigned qi)
{
	struct vbd *v = find_vbd(devid);

	assert_non_null(v);
	assert_true(qi < v->nr_rings);
	return &v->rings[qi];
}

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

/* --- tests: the lifecycle ---------------------------------------------------------- */

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
	struct blkif_request_segment s[4];
	unsigned p[4];
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	f.persistent = false;
	connect_device(&f, T.img, "w");
	for (int i = 0; i < 4; i++)
		p[i] = data_page(true);
	full_segs(s, p, 4);
	for (int i = 0; i < 8; i++)
		put_rw(&f, 0, BLKIF_OP_READ, (uint64_t)i * 64, s, 4);
	fe_push(&f, 0);
	ev_run(T.loop, EVRUN_NOWAIT);
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
	struct blkif_request_segment s[4];
	uint32_t devid = DEVID;
	unsigned p[4];
	struct fe f;

	(void)state;
	fe_init(&f, DEVID);
	connect_device(&f, T.img, "w");
	for (int i = 0; i < 4; i++)
		p[i] = data_page(true);
	full_segs(s, p, 4);
	for (int i = 0; i < 8; i++)
		put_rw(&f, 0, i & 1 ? BLKIF_OP_WRITE : BLKIF_OP_READ, (uint64_t)i * 64, s, 4);
	fe_push(&f, 0);
	/* One pass: the requests are taken and queued to io_uring. */
	ev_run(T.loop, EVRUN_NOWAIT);
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

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TC(f, conf) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)conf)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_handshake),
		T_(test_publish_retries_transactions),
		T_(test_read_write_roundtrip),
		T_(test_persistent_grants_reused),
		TC(test_persistent_cache_full, "max-persistent-grants = 4\n"),
		T_(test_nonpersistent_maps_per_request),
		TC(test_persistent_disabled_by_config, "persistent-grants = no\n"),
		T_(test_indirect),
		T_(test_multipage_multiqueue),
		T_(test_flush_and_barrier),
		T_(test_discard),
		T_(test_readonly),
		T_(test_notifications),
		TC(test_persistent_purge, "max-persistent-grants = 4\n"),
		T_(test_discard_disabled),
		T_(test_backing_io_error),
		T_(test_merge_neighbours),
		T_(test_stats_render),
		T_(test_malformed_requests),
		T_(test_malformed_requests_persistent),
		T_(test_producer_overrun),
		T_(test_producer_backwards),
		T_(test_many_inflight),
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
		TC(test_x86_32_abi, "direct-io = no\n"),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
