/*
 * vif_ring.c - a vif queue's rings, its TX path, and the control ring.
 *
 * TX: every packet is copied out of the shared ring once and validated by
 * libblanket/netif.c (netback's rules).  The packets of one kick are then
 * looked at with ONE grant copy call: it copies each packet's first
 * SW_HDR_MAX bytes (the switch's private copy of its headers) and one byte
 * of every further slot, which proves every grant of the batch good before
 * the packet goes anywhere (netback's failed grant copy: an error
 * response).  Nothing is mapped here: the packet enters the switch as a
 * struct sw_buf naming the guest's grants.  A guest's RX queue copies it
 * grant to grant at the end of the pass; the uplink maps what it must
 * write out, the whole pass's frames in one call (sw_uplink.c).  The
 * guest's slots are answered when the last port that took the packet is
 * done with it: the same pass for guests and the TAP uplink (its io_uring
 * writes complete inside the pass's submit); for the kshim uplink once
 * the L0 NIC has read the pages (its TX completion, normally within the
 * next pass or two); a queue closing takes such packets back
 * (sw_uplink_forget).
 *
 * Responses are pushed, and the frontend notified as the ring macros say,
 * once per queue per pass (vif_flush_all).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "log.h"
#include "notify.h"
#include "state.h"
#include "vif.h"

struct vif_ctx vif_ctx;

struct vif_txp {
	struct sw_buf b;
	struct vif_queue *q;
	struct netif_tx_pkt *pkt;        /* q->st->tx_pkt[its index] */
	unsigned seg0, nsegs;    /* its segments in the batch's copy */
	struct vif_txp *next_free;
};

static struct vif_queue *dirty_head;

void vif_mark_dirty(struct vif_queue *q)
{
	if (!q->on_list) {
		q->on_list = true;
		q->dirty_next = dirty_head;
		dirty_head = q;
	}
}

/* --- TX ------------------------------------------------------------------------ */

static void tx_respond(struct vif_queue *q, const struct netif_tx_pkt *pkt, int16_t status)
{
	q->st->tx_rsp_pvt += netif_tx_respond(q->tx_sring, q->tx_size, q->st->tx_rsp_pvt, pkt, status);
	q->tx_dirty = true;
	vif_mark_dirty(q);
}

static void txp_free(struct vif_queue *q, struct vif_txp *t)
{
	t->next_free = q->txp_free;
	q->txp_free = t;
}

/* The last port let go of the packet (and unmapped what it mapped):
 * answer its slots. */
static void txp_release(struct sw_buf *b)
{
	struct vif_txp *t = (struct vif_txp *)((char *)b - offsetof(struct vif_txp, b));
	struct vif_queue *q = t->q;

	tx_respond(q, t->pkt, NETIF_RSP_OKAY);
	q->st->tx_inflight--;
	txp_free(q, t);
}

/* Is b one of q's packets (for sw_uplink_forget)? */
static bool txp_of_queue(struct sw_buf *b, void *q)
{
	return b->release == txp_release &&
	       ((struct vif_txp *)((char *)b - offsetof(struct vif_txp, b)))->q == q;
}

/* Multicast control through the TX ring (netback's xenvif_mcast_add/del). */
static void tx_mcast(struct vif_queue *q, const struct netif_tx_pkt *pkt)
{
	struct vif *v = q->vif;
	int16_t st = NETIF_RSP_OKAY;

	q->stats.mcast_ops++;
	if (pkt->kind == NETIF_TX_MCAST_ADD) {
		if (sw_mcast_add(&v->port, pkt->extra[XEN_NETIF_EXTRA_TYPE_MCAST_ADD].u.mcast.addr))
			st = NETIF_RSP_ERROR;
	} else {
		sw_mcast_del(&v->port, pkt->extra[XEN_NETIF_EXTRA_TYPE_MCAST_DEL].u.mcast.addr);
	}
	tx_respond(q, pkt, st);
}

/* Where packet t's header area starts in q->tx_hdrs (SW_HDR_MAX bytes,
 * never across a page). */
static size_t tx_hdr_off(struct vif_queue *q, const struct vif_txp *t)
{
	return (size_t)(t - q->txp) * SW_HDR_MAX;
}

/* The bytes of packet t the batch copy brings into its header area. */
static unsigned tx_hdr_len(const struct vif_txp *t)
{
	return t->pkt->len < SW_HDR_MAX ? t->pkt->len : SW_HDR_MAX;
}

/* Hand a packet whose headers the batch copy brought in to the switch. */
static void tx_submit(struct vif_queue *q, struct vif_txp *t)
{
	struct vif *v = q->vif;
	struct netif_tx_pkt *pkt = t->pkt;
	struct sw_buf *b = &t->b;
	uint64_t spoof = v->port.stats.drop_spoof;

	memset(b, 0, offsetof(struct sw_buf, hdr));
	b->refs = 1;
	b->release = txp_release;
	b->owner = t;
	b->len = pkt->len;
	b->nr_frags = pkt->nr_slots;
	for (unsigned i = 0; i < pkt->nr_slots; i++)
		b->frag[i] = (struct sw_frag){
			.domid = v->xb.fe_domid,
			.gref = pkt->slot[i].gref,
			.offset = pkt->slot[i].offset,
			.len = pkt->slot[i].size,
		};
	b->meta.csum_blank = pkt->csum_blank;
	b->meta.data_validated = pkt->data_validated;
	if (netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_GSO)) {
		b->meta.gso_type = pkt->extra[XEN_NETIF_EXTRA_TYPE_GSO].u.gso.type;
		b->meta.gso_size = pkt->extra[XEN_NETIF_EXTRA_TYPE_GSO].u.gso.size;
		/* netback's checksum_setup: GSO implies a partial checksum. */
		b->meta.csum_blank = true;
	}
	b->hdr_len = tx_hdr_len(t);
	memcpy(b->hdr, q->tx_hdrs.addr + tx_hdr_off(q, t), b->hdr_len);
	q->stats.tx_pkts++;
	q->stats.tx_bytes += pkt->len;
	sw_input(vif_ctx.sw, &v->port, b);
	q->stats.drops[VIF_DROP_SPOOF] += v->port.stats.drop_spoof - spoof;
	sw_buf_put(b);
}

/*
 * The packets collected by this kick: one copy call for all of them, then
 * into the switch in ring order.  Each data slot is one segment: the part
 * of the header it holds, or a 1-byte probe of its grant (into
 * bl_gnt_probe_sink) when the header lies wholly before it.  A slot of
 * size 0 is not probed: no byte of it is ever read.
 */
static void tx_batch_run(struct vif_queue *q)
{
	struct bl_copy_ptr probe = bl_gnt_probe_sink(vif_ctx.xen);
	struct vif *v = q->vif;
	unsigned n = 0;

	if (!q->tx_nbatch)
		return;
	for (unsigned k = 0; k < q->tx_nbatch; k++) {
		struct vif_txp *t = q->tx_batch[k];
		unsigned want = tx_hdr_len(t), got = 0;
		size_t hdr = tx_hdr_off(q, t);

		t->seg0 = n;
		for (unsigned i = 0; i < t->pkt->nr_slots; i++) {
			const struct netif_tx_slot *sl = &t->pkt->slot[i];
			unsigned len = sl->size < want - got ? sl->size : want - got;
			struct bl_gnt_copy_seg *g = &q->tx_segs[n];

			if (!sl->size)
				continue;
			g->src = (struct bl_copy_ptr){ .foreign = true, .domid = v->xb.fe_domid,
						       .gref = sl->gref, .offset = sl->offset };
			g->dst = len ? bl_self_ptr(&q->tx_hdrs, hdr + got) : probe;
			g->len = (uint16_t)(len ? len : 1);
			g->status = GNTST_general_error;
			got += len;
			n++;
		}
		t->nsegs = n - t->seg0;
	}
	if (n)
		bl_gnt_copy(vif_ctx.xen, q->tx_segs, n);
	q->stats.tx_copy_calls++;
	q->stats.tx_copy_segs += n;
	for (unsigned k = 0; k < q->tx_nbatch; k++) {
		struct vif_txp *t = q->tx_batch[k];
		bool ok = true;

		for (unsigned i = t->seg0; i < t->seg0 + t->nsegs; i++)
			ok &= q->tx_segs[i].status == GNTST_okay;
		if (!ok) {
			/* A bad ref anywhere in the packet: netback's failed grant copy. */
			q->stats.drops[VIF_DROP_TX_MAP]++;
			tx_respond(q, t->pkt, NETIF_RSP_ERROR);
			txp_free(q, t);
			continue;
		}
		q->st->tx_inflight++;
		tx_submit(q, t);
	}
	q->tx_nbatch = 0;
}

static void credit_refill(struct vif_queue *q, double now)
{
	struct vif *v = q->vif;
	uint64_t max_burst = v->rate_bytes > 131072 ? v->rate_bytes : 131072;
	uint64_t c = q->remaining_credit + v->rate_bytes;

	/* netback's tx_add_credit: at most one window's worth beyond 128 KiB
	 * bursts, so a 64 KiB packet always gets through eventually. */
	if (c < q->remaining_credit)
		c = UINT64_MAX;
	q->remaining_credit = c < max_burst ? c : max_burst;
	q->next_credit = now + (double)v->rate_usec / 1e6;
}

static void on_credit(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct vif_queue *q = (struct vif_queue *)((char *)w - offsetof(struct vif_queue, credit_timer));

	(void)revents;
	credit_refill(q, ev_now(loop));
	vif_tx_kick(q);
}

/* netback's tx_credit_exceeded: true if the packet must wait for credit. */
static bool credit_exceeded(struct vif_queue *q, unsigned size)
{
	struct vif *v = q->vif;
	double now = ev_now(vif_ctx.loop);

	if (!v->rate_usec)
		return false;
	if (ev_is_active(&q->credit_timer))
		return true;
	if (now >= q->next_credit)
		credit_refill(q, now);
	if (size > q->remaining_credit) {
		ev_timer_set(&q->credit_timer, q->next_credit - now > 0 ? q->next_credit - now : 0, 0.);
		ev_timer_start(vif_ctx.loop, &q->credit_timer);
		q->stats.credit_waits++;
		return true;
	}
	q->remaining_credit -= size;
	return false;
}

/* Read what the guest posted into the batch (copied and validated):
 * NULL, or why the frontend must be stopped. */
static const char *tx_collect(struct vif_queue *q)
{
	struct vif *v = q->vif;
	volatile struct netif_tx_sring *s = q->tx_sring;

	for (;;) {
		RING_IDX prod = s->req_prod;

		bl_rmb();
		while (q->st->tx_held || q->st->tx_cons != prod) {
			struct vif_txp *t = q->txp_free;
			enum netif_tx_verdict vd = NETIF_TX_OK;

			if (v->disabled) {
				q->stats.drops[VIF_DROP_TX_DISABLED]++;
				return NULL;
			}
			/* At most one packet per unanswered slot: cannot run out. */
			if (!t)
				return NULL;
			/* A packet waiting for credit was read already: never twice. */
			if (q->st->tx_held)
				*t->pkt = q->st->held;
			else
				vd = netif_tx_copy_packet(q->tx_sring, q->tx_size, q->st->tx_cons, prod,
							  q->st->tx_rsp_pvt, t->pkt);
			if (vd == NETIF_TX_EMPTY)
				break;
			if (vd == NETIF_TX_FATAL)
				return netif_tx_reason_str(t->pkt->reason);
			if (vd == NETIF_TX_ERROR) {
				q->st->tx_cons += t->pkt->consumed;
				q->stats.drops[VIF_DROP_TX_ERROR]++;
				log_debug("vif %u/%u: TX packet dropped: %s", v->xb.domid, v->xb.devid,
					  netif_tx_reason_str(t->pkt->reason));
				tx_respond(q, t->pkt, NETIF_RSP_ERROR);
				continue;
			}
			if (t->pkt->kind != NETIF_TX_DATA) {
				q->st->tx_cons += t->pkt->consumed;
				tx_mcast(q, t->pkt);
				continue;
			}
			if (credit_exceeded(q, t->pkt->len)) {
				if (!q->st->tx_held)
					q->st->held = *t->pkt;
				q->st->tx_held = true;
				return NULL;
			}
			q->st->tx_held = false;
			q->st->tx_cons += t->pkt->consumed;
			q->txp_free = t->next_free;
			q->tx_batch[q->tx_nbatch++] = t;
		}
		/* RING_FINAL_CHECK_FOR_REQUESTS: notify us of the next one. */
		s->req_event = q->st->tx_cons + 1;
		bl_mb();
		if (s->req_prod == q->st->tx_cons)
			return NULL;
	}
}

void vif_tx_kick(struct vif_queue *q)
{
	struct vif *v = q->vif;
	const char *fatal;

	if (!v->connected || !q->tx_sring)
		return;
	fatal = tx_collect(q);
	/* What came before a fatal packet was good: it goes out, as it would
	 * have from netback. */
	tx_batch_run(q);
	if (fatal)
		vif_fatal(v, fatal);
}

/* TX requests that wait unread (ring_watch.h), unless a credit wait
 * explains them.  The stall the test bed saw: guest-to-guest TCP, 122
 * requests unread, nothing in flight; the guest's retransmissions queued
 * behind the lost notification. */
void vif_queue_watchdog(struct vif_queue *q)
{
	volatile struct netif_tx_sring *s = q->tx_sring;
	RING_IDX prod, cons;

	if (!s || !q->st || !q->vif->connected || q->vif->disabled)
		return;
	prod = s->req_prod;
	cons = q->st->tx_cons;
	if (ring_watch_stalled(&q->watch, prod, cons) && !q->st->tx_held &&
	    !ev_is_active(&q->credit_timer)) {
		q->stats.missed_events++;
		log_warn("vif %u/%u: queue %u: %u TX requests waited over a second without an event; "
			 "serving them", q->vif->xb.domid, q->vif->xb.devid, q->index, prod - cons);
		vif_tx_kick(q);
		cons = q->st->tx_cons;
	}
	ring_watch_note(&q->watch, prod, cons);
}

/* --- pushing responses ------------------------------------------------------------ */

/* Publish responses up to new; true if the frontend wants an event.
 * TX, RX and ctrl rings share the header layout (ring.h). */
static bool push(void *sring, RING_IDX new)
{
	volatile struct netif_tx_sring *s = sring;
	RING_IDX old = s->rsp_prod;

	bl_wmb();
	s->rsp_prod = new;
	bl_mb();
	return (RING_IDX)(new - s->rsp_event) < (RING_IDX)(new - old);
}

static void notify(struct vif_queue *q, evtchn_port_t port)
{
	q->stats.notifies++;
	notify_later(vif_ctx.xen, port);
}

bool vif_flush_all(void)
{
	struct vif_queue *again = NULL;
	/* First the uplink's frames: mapped and queued (TAP's go in this
	 * pass's io_uring submit, and are answered in its next round). */
	bool did = sw_uplink_flush();

	if (!dirty_head)
		return did;
	did |= vif_rx_run(dirty_head);
	while (dirty_head) {
		struct vif_queue *q = dirty_head;
		bool tx = false, rx = false;

		dirty_head = q->dirty_next;
		q->on_list = false;
		if (q->rx_more) {
			q->dirty_next = again;
			again = q;
		}
		if (q->tx_dirty && q->tx_sring)
			tx = push(q->tx_sring, q->st->tx_rsp_pvt);
		if (q->rx_dirty && q->rx_sring)
			rx = push(q->rx_sring, q->st->rx_rsp_pvt);
		did |= q->tx_dirty;
		q->tx_dirty = q->rx_dirty = false;
		/* One event when both rings share a channel. */
		if (tx || (rx && q->rx_port == q->tx_port))
			notify(q, q->tx_port);
		if (rx && q->rx_port != q->tx_port)
			notify(q, q->rx_port);
	}
	/* Queues that had more than a batch go round again. */
	while (again) {
		struct vif_queue *q = again;

		again = q->dirty_next;
		q->rx_more = false;
		vif_mark_dirty(q);
		did = true;
	}
	return did;
}

/* --- queue setup ------------------------------------------------------------------ */

int vif_queue_open(struct vif_queue *q, struct vif *v, unsigned index, grant_ref_t tx_ref,
		   grant_ref_t rx_ref, evtchn_port_t tx_evt, evtchn_port_t rx_evt)
{
	struct bl_xen *x = vif_ctx.xen;
	int port;

	memset(q, 0, sizeof(*q));
	q->st_fd = -1;
	q->vif = v;
	q->index = index;
	ev_init(&q->credit_timer, on_credit);
	q->tx_size = netif_tx_ring_size(1);
	q->rx_size = netif_rx_ring_size(1);
	q->remaining_credit = UINT64_MAX;
	q->tx_sring = bl_gnt_map(x, v->xb.fe_domid, 1, &tx_ref, true);
	q->rx_sring = bl_gnt_map(x, v->xb.fe_domid, 1, &rx_ref, true);
	if (!q->tx_sring || !q->rx_sring) {
		log_err("vif %u/%u: cannot map queue %u's rings: %s", v->xb.domid, v->xb.devid, index,
			strerror(errno));
		goto fail;
	}
	port = bl_evtchn_bind(x, v->xb.fe_domid, tx_evt);
	if (port < 0)
		goto fail;
	q->tx_port = q->rx_port = (evtchn_port_t)port;
	if (rx_evt != tx_evt) {
		port = bl_evtchn_bind(x, v->xb.fe_domid, rx_evt);
		if (port < 0)
			goto fail;
		q->rx_port = (evtchn_port_t)port;
	}
	q->txp = calloc(q->tx_size, sizeof(*q->txp));
	q->tx_batch = calloc(q->tx_size, sizeof(*q->tx_batch));
	q->tx_segs = calloc(q->tx_size, sizeof(*q->tx_segs));
	q->st_len = sizeof(*q->st) + q->tx_size * sizeof(q->st->tx_pkt[0]);
	q->st = bl_state_alloc("blanket-vif-queue", q->st_len, &q->st_fd);
	if (!q->txp || !q->tx_batch || !q->tx_segs || !q->st || vif_rx_init(q) ||
	    bl_self_pages_alloc(x, q->tx_size * SW_HDR_MAX / NETIF_PAGE_SIZE, &q->tx_hdrs) < 0)
		goto fail;
	q->st->tx_size = q->tx_size;
	q->st->rx_size = q->rx_size;
	for (unsigned i = 0; i < q->tx_size; i++) {
		q->txp[i].q = q;
		q->txp[i].pkt = &q->st->tx_pkt[i];
		txp_free(q, &q->txp[i]);
	}
	return 0;
fail:
	vif_queue_close(q);
	return -1;
}

void vif_queue_resume(struct vif_queue *q)
{
	volatile struct netif_tx_sring *t = q->tx_sring;
	volatile struct netif_rx_sring *r = q->rx_sring;

	/* Everything after the last pushed response is served again: a TX
	 * packet may go out twice, which a network tolerates. */
	q->st->tx_cons = q->st->tx_rsp_pvt = t->rsp_prod;
	q->st->rx_cons = q->st->rx_rsp_pvt = r->rsp_prod;
}

void vif_queue_close(struct vif_queue *q)
{
	struct bl_xen *x = vif_ctx.xen;

	if (!q->vif)
		return;
	/* Packets of ours waiting in other guests' backlogs move to dom0
	 * memory (their TX slots are answered while the ring is mapped). */
	if (q->st && q->st->tx_inflight)
		vif_rx_bounce_all();
	if (q->st && q->st->tx_inflight)
		sw_uplink_forget(txp_of_queue, q);
	vif_rx_purge(q);
	if (q->on_list) {
		for (struct vif_queue **l = &dirty_head; *l; l = &(*l)->dirty_next)
			if (*l == q) {
				*l = q->dirty_next;
				break;
			}
	}
	if (q->tx_sring && q->st && q->tx_dirty)
		push(q->tx_sring, q->st->tx_rsp_pvt);
	if (vif_ctx.loop)
		ev_timer_stop(vif_ctx.loop, &q->credit_timer);
	/* Queued notifications go to the port they were queued for. */
	notify_flush();
	if (q->rx_port && q->rx_port != q->tx_port)
		bl_evtchn_unbind(x, q->rx_port);
	if (q->tx_port)
		bl_evtchn_unbind(x, q->tx_port);
	if (q->tx_sring)
		bl_gnt_unmap(x, q->tx_sring, 1);
	if (q->rx_sring)
		bl_gnt_unmap(x, q->rx_sring, 1);
	free(q->txp);
	free(q->tx_batch);
	free(q->tx_segs);
	bl_self_pages_free(x, &q->tx_hdrs);
	bl_state_free(q->st, q->st_len, q->st_fd);
	free(q->backlog);
	memset(q, 0, sizeof(*q));
	q->st_fd = -1;
}

/* --- control ring ----------------------------------------------------------------- */

int vif_ctrl_open(struct vif *v, grant_ref_t ref, evtchn_port_t evt)
{
	int port;

	v->ctrl_size = netif_ctrl_ring_size(1);
	v->ctrl_cons = v->ctrl_rsp_pvt = 0;
	v->ctrl_sring = bl_gnt_map(vif_ctx.xen, v->xb.fe_domid, 1, &ref, true);
	if (!v->ctrl_sring)
		return -1;
	port = bl_evtchn_bind(vif_ctx.xen, v->xb.fe_domid, evt);
	if (port < 0) {
		vif_ctrl_close(v);
		return -1;
	}
	v->ctrl_port = (evtchn_port_t)port;
	return 0;
}

void vif_ctrl_resume(struct vif *v)
{
	volatile struct xen_netif_ctrl_sring *s = v->ctrl_sring;

	v->ctrl_cons = v->ctrl_rsp_pvt = s->rsp_prod;
}

void vif_ctrl_close(struct vif *v)
{
	notify_flush();
	if (v->ctrl_port)
		bl_evtchn_unbind(vif_ctx.xen, v->ctrl_port);
	if (v->ctrl_sring)
		bl_gnt_unmap(vif_ctx.xen, v->ctrl_sring, 1);
	v->ctrl_port = 0;
	v->ctrl_sring = NULL;
}

/* One control request: validated by netif.c, data grant-copied once. */
static uint32_t ctrl_one(struct vif *v, struct netif_ctrl_req *req, uint32_t status)
{
	uint8_t data[NETIF_PAGE_SIZE];
	size_t len = 0;

	if (req->action == NETIF_CTRL_ANSWER || status != XEN_NETIF_CTRL_STATUS_SUCCESS)
		return status;
	if (req->action == NETIF_CTRL_COPY_KEY || req->action == NETIF_CTRL_COPY_MAPPING) {
		struct bl_gnt_copy_seg seg = { 0 };

		len = req->action == NETIF_CTRL_COPY_KEY ? req->len : (size_t)req->len * 4;
		seg.src = (struct bl_copy_ptr){ .foreign = true, .domid = v->xb.fe_domid,
						.gref = req->gref, .offset = 0 };
		seg.dst = (struct bl_copy_ptr){ .virt = data };
		seg.len = (uint16_t)len;
		if (len > sizeof(data) || bl_gnt_copy(vif_ctx.xen, &seg, 1) ||
		    seg.status != GNTST_okay)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	}
	return netif_hash_apply(&v->hash, req, len ? data : NULL, len, v->nr_queues);
}

void vif_ctrl_kick(struct vif *v)
{
	volatile struct xen_netif_ctrl_sring *s = v->ctrl_sring;
	bool any = false;

	if (!s || !v->connected || v->disabled)
		return;
	for (;;) {
		RING_IDX prod = s->req_prod;

		bl_rmb();
		if (netif_ring_unconsumed(prod, v->ctrl_cons, v->ctrl_rsp_pvt, v->ctrl_size) < 0) {
			vif_fatal(v, "control ring producer ran past the ring");
			return;
		}
		while (v->ctrl_cons != prod) {
			struct netif_ctrl_req req;
			uint32_t st = netif_ctrl_copy_request(v->ctrl_sring, v->ctrl_size,
							      v->ctrl_cons++, &v->hash, &req);

			st = ctrl_one(v, &req, st);
			v->ctrl_reqs++;
			netif_ctrl_rsp(v->ctrl_sring, v->ctrl_size, v->ctrl_rsp_pvt++, req.id,
				       req.type, st, st == XEN_NETIF_CTRL_STATUS_SUCCESS ? req.rsp_data : 0);
			any = true;
		}
		s->req_event = v->ctrl_cons + 1;
		bl_mb();
		if (s->req_prod == v->ctrl_cons)
			break;
	}
	if (any && push(v->ctrl_sring, v->ctrl_rsp_pvt))
		notify_later(vif_ctx.xen, v->ctrl_port);
}
