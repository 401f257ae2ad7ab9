/*
 * vbd_ring.c - one blkif ring: requests in, uplink I/O, responses out.
 *
 * Per pass over the ring every new request is copied out once and validated
 * (libblanket/blkif.c), its grants are resolved (persistent cache first, one
 * batched map call for the rest), and it is queued to the uplink as one
 * operation; reads or writes that continue one another on the disk share
 * one operation (blkfront cuts large I/O into 128 KiB requests, and each
 * uplink operation costs the kernel or the device as much as a request).  Nothing here makes a syscall per request in the steady state:
 * the I/O goes out in one io_uring_submit per loop pass and responses are
 * pushed, with at most one notification per ring, in the same place.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "log.h"
#include "notify.h"
#include "state.h"
#include "vbd.h"

struct vbd_ring_ctx vbd_ring_ctx;

/* The runtime side of a ring slot; the request itself is in the memfd state. */
struct vbd_io {
	struct uplink_io uio;
	struct vbd_ring *ring;
	unsigned slot;
	uint8_t step;           /* position in a flush-write-flush sequence */
	void *tmap;             /* transient mapping of grants not in the cache */
	uint32_t tmap_count;
	uint16_t nr_pg;
	struct vbd_io *merged;  /* requests whose data rides on this one's operation */
	uint64_t merge_end;     /* sector after the last one of this operation */
	uint32_t started;       /* vbd_ring_ctx.ticks when the request came */
	bool reported;          /* already logged as stuck */
	struct pgrant *pg[BLK_MAX_INDIRECT_SEGMENTS];
	struct iovec iov[BLK_MAX_INDIRECT_SEGMENTS];
};

static struct vbd_ring *dirty_head;

static struct blk_req *io_req(struct vbd_io *io)
{
	return &io->ring->st->slot[io->slot].req;
}

/*
 * Resolve n grant refs to addresses: from the persistent cache where the
 * frontend negotiated it (mapping and keeping new ones while there is room),
 * the rest mapped transiently in a single call.  On failure nothing stays
 * held and -1 is returned (a bad or foreign gref: the request fails).
 */
static int map_refs(struct vbd_ring *r, const grant_ref_t *refs, unsigned n, bool writable,
		    void **addr, struct pgrant **pg, uint16_t *nr_pg,
		    void **tmap, uint32_t *tcount)
{
	struct bl_xen *x = vbd_ring_ctx.xen;
	struct vbd *v = r->vbd;
	grant_ref_t tref[BLK_MAX_INDIRECT_SEGMENTS];
	unsigned tidx[BLK_MAX_INDIRECT_SEGMENTS], nt = 0;

	for (unsigned i = 0; i < n; i++) {
		if (v->persistent) {
			bool full;
			struct pgrant *p = pgrant_get(&r->pg, x, v->xb.fe_domid, refs[i], &full);

			if (p) {
				pg[(*nr_pg)++] = p;
				addr[i] = p->addr;
				continue;
			}
			if (!full)
				goto fail;
		}
		tidx[nt] = i;
		tref[nt++] = refs[i];
	}
	if (nt) {
		/* Persistent grants are granted writable; so map those writable too. */
		*tmap = bl_gnt_map(x, v->xb.fe_domid, nt, tref, writable || v->persistent);
		r->stats.transient_maps++;
		if (!*tmap)
			goto fail;
		*tcount = nt;
		for (unsigned k = 0; k < nt; k++)
			addr[tidx[k]] = (char *)*tmap + (size_t)k * BLK_PAGE_SIZE;
	}
	return 0;
fail:
	while (*nr_pg)
		pgrant_put(pg[--(*nr_pg)]);
	return -1;
}

static void unmap_refs(struct pgrant **pg, uint16_t *nr_pg, void **tmap, uint32_t *tcount)
{
	while (*nr_pg)
		pgrant_put(pg[--(*nr_pg)]);
	if (*tmap) {
		bl_gnt_unmap(vbd_ring_ctx.xen, *tmap, *tcount);
		*tmap = NULL;
	}
}

/* Copy the segment list out of the request's indirect pages. */
static enum blk_verdict read_indirect(struct vbd_ring *r, struct blk_req *req)
{
	void *addr[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct pgrant *pg[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint16_t nr_pg = 0;
	void *tmap = NULL;
	uint32_t tcount = 0;
	enum blk_verdict v;

	if (map_refs(r, req->indirect_grefs, req->nr_indirect_pages, false, addr, pg, &nr_pg,
		     &tmap, &tcount))
		return BLK_ERROR;
	v = blkif_copy_indirect(req, (const void *const *)addr, &r->vbd->lim);
	unmap_refs(pg, &nr_pg, &tmap, &tcount);
	return v;
}

/* Map the data segments and describe them as iovecs, merging neighbours. */
static int map_data(struct vbd_io *io, struct blk_req *req)
{
	grant_ref_t refs[BLK_MAX_INDIRECT_SEGMENTS];
	void *addr[BLK_MAX_INDIRECT_SEGMENTS];
	unsigned n = 0;

	for (unsigned i = 0; i < req->nr_segments; i++)
		refs[i] = req->seg[i].gref;
	if (map_refs(io->ring, refs, req->nr_segments, req->op == BLKIF_OP_READ, addr, io->pg,
		     &io->nr_pg, &io->tmap, &io->tmap_count))
		return -1;
	for (unsigned i = 0; i < req->nr_segments; i++) {
		char *base = (char *)addr[i] + blk_seg_off(&req->seg[i]);
		size_t len = blk_seg_len(&req->seg[i]);

		if (n && (char *)io->iov[n - 1].iov_base + io->iov[n - 1].iov_len == base) {
			io->iov[n - 1].iov_len += len;
			continue;
		}
		io->iov[n].iov_base = base;
		io->iov[n++].iov_len = len;
	}
	io->uio.iov = io->iov;
	io->uio.iovcnt = n;
	return 0;
}

static void mark_dirty(struct vbd_ring *r)
{
	if (!r->dirty) {
		r->dirty = true;
		r->dirty_next = dirty_head;
		dirty_head = r;
	}
}

/* Answer the request in io's slot and free the slot. */
static void finish(struct vbd_io *io, int16_t status)
{
	struct vbd_ring *r = io->ring;
	struct vbd_ring_state *st = r->st;
	struct blk_req *req = io_req(io);

	unmap_refs(io->pg, &io->nr_pg, &io->tmap, &io->tmap_count);
	if (status != BLKIF_RSP_OKAY)
		r->stats.errors++;
	blkif_put_response(r->proto, r->sring, r->size, st->rsp_prod_pvt, req->id,
			   blk_req_rsp_op(req), status);
	st->rsp_prod_pvt++;
	st->slot[io->slot].busy = 0;
	st->nr_inflight--;
	r->free_slot[r->nr_free++] = io->slot;
	mark_dirty(r);
}

static void submit(struct vbd_io *io, enum uplink_op op, bool ordered);

static void io_done(struct uplink_io *u, int res)
{
	struct vbd_io *io = (struct vbd_io *)((char *)u - offsetof(struct vbd_io, uio));
	struct blk_req *req = io_req(io);
	bool data = u->op == UPLINK_READ || u->op == UPLINK_WRITE;

	/* A merged operation answers its requests in the order they came:
	 * those its result covers whole succeed, the others fail (a short
	 * transfer ends inside one of them). */
	if (io->merged) {
		uint64_t done = res > 0 ? (uint64_t)res : 0, at = 0;

		if (res < 0 || done != u->len)
			log_debug("vbd %u/%u: merged %s at %llu: %s", io->ring->vbd->xb.domid,
				  io->ring->vbd->xb.devid, u->op == UPLINK_READ ? "read" : "write",
				  (unsigned long long)u->offset, res < 0 ? strerror(-res) : "short");
		for (struct vbd_io *m = io, *next; m; m = next) {
			uint64_t len = io_req(m)->nr_sectors << BLK_SECTOR_SHIFT;
			bool ok = at + len <= done;

			next = m->merged;
			m->merged = NULL;
			at += len;
			if (ok && u->op == UPLINK_READ)
				io->ring->stats.bytes_read += len;
			else if (ok)
				io->ring->stats.bytes_written += len;
			finish(m, ok ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
		}
		return;
	}
	if (res < 0 || (data && (uint64_t)res != u->len)) {
		if (res < 0)
			log_debug("vbd %u/%u: %s at %llu failed: %s", io->ring->vbd->xb.domid,
				  io->ring->vbd->xb.devid, u->op == UPLINK_READ ? "read" : "write",
				  (unsigned long long)u->offset, strerror(-res));
		finish(io, res == -EOPNOTSUPP && !data ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR);
		return;
	}
	if (u->op == UPLINK_READ)
		io->ring->stats.bytes_read += u->len;
	else if (u->op == UPLINK_WRITE)
		io->ring->stats.bytes_written += u->len;
	/* Flush or barrier carrying data: flush, write, flush (FUA). */
	if ((req->op == BLKIF_OP_FLUSH_DISKCACHE || req->op == BLKIF_OP_WRITE_BARRIER) &&
	    req->nr_segments && io->step < 2) {
		io->step++;
		submit(io, io->step == 1 ? UPLINK_WRITE : UPLINK_FLUSH, false);
		return;
	}
	finish(io, BLKIF_RSP_OKAY);
}

/* Describe io's request as an uplink operation (iovecs set by map_data). */
static void prepare(struct vbd_io *io, enum uplink_op op, bool ordered)
{
	struct blk_req *req = io_req(io);
	struct uplink_io *u = &io->uio;

	u->op = op;
	u->ordered = ordered;
	u->offset = req->sector_number << BLK_SECTOR_SHIFT;
	u->len = req->nr_sectors << BLK_SECTOR_SHIFT;
	u->done = io_done;
}

static void submit(struct vbd_io *io, enum uplink_op op, bool ordered)
{
	prepare(io, op, ordered);
	if (uplink_submit(io->ring->vbd->up, &io->uio))
		finish(io, BLKIF_RSP_ERROR);
}

/* Submit the read or write being merged, if any. */
static void submit_pending(struct vbd_ring *r)
{
	struct vbd_io *io = r->pending;

	if (!io)
		return;
	r->pending = NULL;
	if (uplink_submit(r->vbd->up, &io->uio))
		io->uio.done(&io->uio, -EIO);
}

/*
 * Queue a mapped read or write.  It joins the pending operation when it
 * continues it on the disk in the same direction and the iovecs still fit
 * (256, i.e. 1 MiB of pages); otherwise the pending one goes out and this
 * one waits for followers.  The ring pass submits what is left.
 */
static void queue_rw(struct vbd_ring *r, struct vbd_io *io, enum uplink_op op)
{
	struct vbd_io *p = r->pending, **tail;
	struct blk_req *req = io_req(io);
	struct uplink_io *pu;

	if (p && p->uio.op == op && p->merge_end == req->sector_number &&
	    p->uio.iovcnt + io->uio.iovcnt <= BLK_MAX_INDIRECT_SEGMENTS) {
		pu = &p->uio;
		for (unsigned i = 0; i < io->uio.iovcnt; i++) {
			const struct iovec *v = &io->uio.iov[i];
			struct iovec *last = &p->iov[pu->iovcnt - 1];

			if ((char *)last->iov_base + last->iov_len == v->iov_base)
				last->iov_len += v->iov_len;
			else
				p->iov[pu->iovcnt++] = *v;
		}
		pu->len += req->nr_sectors << BLK_SECTOR_SHIFT;
		p->merge_end += req->nr_sectors;
		for (tail = &p->merged; *tail; tail = &(*tail)->merged)
			;
		*tail = io;
		io->merged = NULL;
		r->stats.merged++;
		return;
	}
	submit_pending(r);
	prepare(io, op, false);
	io->merged = NULL;
	io->merge_end = req->sector_number + req->nr_sectors;
	r->pending = io;
}

static enum vbd_stat_op stat_op(uint8_t op)
{
	switch (op) {
	case BLKIF_OP_READ: return VBD_OP_READ;
	case BLKIF_OP_WRITE: return VBD_OP_WRITE;
	case BLKIF_OP_WRITE_BARRIER: return VBD_OP_BARRIER;
	case BLKIF_OP_FLUSH_DISKCACHE: return VBD_OP_FLUSH;
	case BLKIF_OP_DISCARD: return VBD_OP_DISCARD;
	case BLKIF_OP_INDIRECT: return VBD_OP_INDIRECT;
	default: return VBD_OP_INVALID;
	}
}

static void start_request(struct vbd_ring *r, unsigned slot, RING_IDX idx)
{
	struct vbd_io *io = &r->io[slot];
	struct blk_req *req = &r->st->slot[slot].req;
	enum blk_verdict v;

	r->st->slot[slot].busy = 1;
	r->st->nr_inflight++;
	io->step = 0;
	io->started = vbd_ring_ctx.ticks;
	io->reported = false;
	v = blkif_copy_request(r->proto, r->sring, r->size, idx, &r->vbd->lim, req);
	/* Everything but a plain read or write goes out after the pending one
	 * (a barrier must see it submitted). */
	if ((v != BLK_OK && v != BLK_NEED_INDIRECT) ||
	    (req->op != BLKIF_OP_READ && req->op != BLKIF_OP_WRITE))
		submit_pending(r);
	r->stats.reqs[stat_op(req->op)]++;
	if (req->operation == BLKIF_OP_INDIRECT)
		r->stats.reqs[VBD_OP_INDIRECT]++;
	if (v == BLK_NEED_INDIRECT)
		v = read_indirect(r, req);
	if (v != BLK_OK) {
		finish(io, v == BLK_EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR);
		return;
	}
	switch (req->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (map_data(io, req)) {
			finish(io, BLKIF_RSP_ERROR);
			return;
		}
		queue_rw(r, io, req->op == BLKIF_OP_READ ? UPLINK_READ : UPLINK_WRITE);
		return;
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		if (req->nr_segments && map_data(io, req)) {
			finish(io, BLKIF_RSP_ERROR);
			return;
		}
		/* A barrier orders against everything before it; a flush only
		 * covers completed writes (REQ_PREFLUSH semantics). */
		submit(io, UPLINK_FLUSH, req->op == BLKIF_OP_WRITE_BARRIER);
		break;
	case BLKIF_OP_DISCARD:
		if (!req->nr_sectors) {
			finish(io, BLKIF_RSP_OKAY);
			return;
		}
		submit(io, UPLINK_DISCARD, false);
		break;
	default:
		finish(io, BLKIF_RSP_EOPNOTSUPP);
	}
}

void vbd_ring_kick(struct vbd_ring *r)
{
	volatile struct blkif_sring *s = r->sring;
	struct vbd_ring_state *st = r->st;

	if (r->dead || !r->vbd->connected)
		return;
	for (;;) {
		RING_IDX rp = s->req_prod;

		bl_rmb();
		/* More unanswered requests than slots: the frontend is lying
		 * about its producer index.  Stop trusting this ring. */
		if (rp - st->rsp_prod_pvt > r->size) {
			r->dead = true;
			vbd_fatal(r->vbd, "request producer index ran past the ring");
			return;
		}
		while (st->req_cons != rp) {
			/* Cannot happen after the check above; never spin if it does. */
			if (!r->nr_free) {
				submit_pending(r);
				r->dead = true;
				vbd_fatal(r->vbd, "more requests than ring slots");
				return;
			}
			start_request(r, r->free_slot[--r->nr_free], st->req_cons++);
		}
		submit_pending(r);
		/*
		 * While requests are in flight their completions wake us anyway,
		 * and vbd_ring_flush_all() looks at the ring then: leave
		 * req_event behind so the frontend does not notify for every new
		 * request.  That halves the wake-ups (and the syscalls each one
		 * costs a PV dom0) under load and batches more per pass.  Only an
		 * idle ring asks to be notified.
		 */
		if (st->nr_inflight)
			break;
		s->req_event = st->req_cons + 1;
		bl_mb();
		if (s->req_prod == st->req_cons)
			break;
	}
}

static void push(struct vbd_ring *r)
{
	volatile struct blkif_sring *s = r->sring;
	RING_IDX old = s->rsp_prod, new = r->st->rsp_prod_pvt;

	bl_wmb();
	s->rsp_prod = new;
	bl_mb();
	if ((RING_IDX)(new - s->rsp_event) < (RING_IDX)(new - old)) {
		r->stats.notifies++;
		notify_later(vbd_ring_ctx.xen, r->port);
	}
}

void vbd_ring_flush_all(void)
{
	while (dirty_head) {
		struct vbd_ring *r = dirty_head;

		dirty_head = r->dirty_next;
		r->dirty = false;
		if (r->sring)
			push(r);
		/* A device waiting for its last requests to drain can go on now. */
		if (!r->vbd->connected && r->st->nr_inflight == 0) {
			vbd_drained(r->vbd);
			continue;
		}
		/* Requests queued without a notification while we were busy. */
		vbd_ring_kick(r);
	}
}

bool vbd_ring_busy(const struct vbd_ring *r)
{
	return r->st && r->st->nr_inflight > 0;
}

/* A request the backing has not answered for this long is worth a line:
 * the guest is waiting for it (a partition scan at connect holds up every
 * other xenbus device of the guest), and nothing else would say so. */
#define VBD_STUCK_TICKS 10

/* Requests posted that wait unread (ring_watch.h): an idle ring asks for a
 * notification (req_event), and without it the frontend never sends more. */
static void check_unread(struct vbd_ring *r)
{
	volatile struct blkif_sring *s = r->sring;
	RING_IDX prod, cons;

	if (!s || !r->st || r->dead || !r->vbd->connected)
		return;
	prod = s->req_prod;
	cons = r->st->req_cons;
	if (ring_watch_stalled(&r->watch, prod, cons)) {
		r->stats.missed_events++;
		log_warn("vbd %u/%u: ring %u: %u requests waited over a second without an event; "
			 "serving them", r->vbd->xb.domid, r->vbd->xb.devid, r->index, prod - cons);
		vbd_ring_kick(r);
		cons = r->st->req_cons;
	}
	ring_watch_note(&r->watch, prod, cons);
}

void vbd_ring_check_stuck(struct vbd_ring *r)
{
	check_unread(r);
	for (unsigned i = 0; r->st && i < r->size; i++) {
		struct vbd_io *io = &r->io[i];
		struct blk_req *req;

		if (!r->st->slot[i].busy || io->reported ||
		    vbd_ring_ctx.ticks - io->started < VBD_STUCK_TICKS)
			continue;
		req = io_req(io);
		io->reported = true;
		r->stats.stuck++;
		log_warn("vbd %u/%u: ring %u: request %" PRIu64 " (op %u, sector %" PRIu64
			 ", %u segments) unanswered for %u s; %u in flight on this ring",
			 r->vbd->xb.domid, r->vbd->xb.devid, r->index, req->id, req->op,
			 req->sector_number, req->nr_segments, vbd_ring_ctx.ticks - io->started,
			 r->st->nr_inflight);
	}
}

void vbd_ring_purge(struct vbd_ring *r)
{
	/* Like blkback: once full, drop the least recently used 5%. */
	if (r->pg.max && r->pg.count == r->pg.max)
		pgrant_purge(&r->pg, vbd_ring_ctx.xen, r->pg.max / 20 + 1);
}

int vbd_ring_open(struct vbd_ring *r, struct vbd *v, unsigned index, enum blkif_proto proto,
		  const grant_ref_t *refs, unsigned nr_pages, evtchn_port_t remote_port)
{
	struct bl_xen *x = vbd_ring_ctx.xen;
	int port;

	memset(r, 0, sizeof(*r));
	r->vbd = v;
	r->index = index;
	r->proto = proto;
	r->nr_pages = nr_pages;
	r->size = blkif_ring_size(proto, nr_pages);
	r->st_fd = -1;
	r->sring = bl_gnt_map(x, v->xb.fe_domid, nr_pages, refs, true);
	if (!r->sring) {
		log_err("vbd %u/%u: cannot map ring %u (%u pages): %s", v->xb.domid, v->xb.devid, index,
			nr_pages, strerror(errno));
		return -1;
	}
	port = bl_evtchn_bind(x, v->xb.fe_domid, remote_port);
	if (port < 0) {
		log_err("vbd %u/%u: cannot bind event channel %u: %s", v->xb.domid, v->xb.devid,
			remote_port, strerror(errno));
		goto fail;
	}
	r->port = (evtchn_port_t)port;
	r->st_len = sizeof(*r->st) + r->size * sizeof(r->st->slot[0]);
	r->st = bl_state_alloc("blanket-vbd-ring", r->st_len, &r->st_fd);
	r->io = calloc(r->size, sizeof(*r->io));
	r->free_slot = calloc(r->size, sizeof(*r->free_slot));
	if (!r->st || !r->io || !r->free_slot ||
	    pgrant_init(&r->pg, v->persistent ? vbd_ring_ctx.cfg->vbd.max_persistent_grants : 0))
		goto fail;
	r->st->ring_size = r->size;
	for (unsigned i = 0; i < r->size; i++) {
		r->io[i].ring = r;
		r->io[i].slot = i;
		r->free_slot[r->nr_free++] = r->size - 1 - i;
	}
	return 0;
fail:
	vbd_ring_close(r);
	return -1;
}

void vbd_ring_resume(struct vbd_ring *r)
{
	volatile struct blkif_sring *s = r->sring;

	/* Everything after the last pushed response is (re)done; a lying
	 * rsp_prod is caught by vbd_ring_kick's producer check. */
	r->st->req_cons = r->st->rsp_prod_pvt = s->rsp_prod;
}

void vbd_ring_close(struct vbd_ring *r)
{
	struct bl_xen *x = vbd_ring_ctx.xen;

	/* Never unmap guest pages with I/O in flight: callers wait for drain. */
	if (r->dirty) {
		for (struct vbd_ring **l = &dirty_head; *l; l = &(*l)->dirty_next)
			if (*l == r) {
				*l = r->dirty_next;
				break;
			}
		r->dirty = false;
	}
	if (r->sring && r->st)
		push(r);
	pgrant_destroy(&r->pg, x);
	/* Queued notifications go to the port they were queued for. */
	notify_flush();
	if (r->port)
		bl_evtchn_unbind(x, r->port);
	if (r->sring)
		bl_gnt_unmap(x, r->sring, r->nr_pages);
	bl_state_free(r->st, r->st_len, r->st_fd);
	free(r->io);
	free(r->free_slot);
	memset(r, 0, sizeof(*r));
	r->st_fd = -1;
}
