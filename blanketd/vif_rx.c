/*
 * vif_rx.c - frames from the switch into a guest's buffers.
 *
 * The switch hands a vif a frame (vif_port_ops.deliver); the vif picks a
 * queue (the guest's Toeplitz configuration if it set one, else a flow
 * hash) and keeps a reference in that queue's bounded backlog.  At the end
 * of the loop pass vif_rx_run() takes the buffers every guest posted and
 * describes each frame's placement as grant-copy segments (netback's
 * rx.c layout: first data slot, then the extras, then more data slots),
 * and issues ONE copy call for all queues of all vifs.  A fragment that
 * is another guest's TX grant is copied straight from that grant: no dom0
 * buffer in between.
 *
 * A frame that cannot be placed in this pass (no buffers posted) must not
 * keep another guest's TX slots, nor an uplink's buffer the uplink needs:
 * it is moved into dom0 memory of its own (bounced), and waits there,
 * counted against the backlog bound.  An uplink may spare some of its
 * buffers (rx_hold_max: the TAP's pool is in dom0 memory anyway), and the
 * frames in those wait as they are: under a guest slower than its sender
 * (dom0 -> guest TCP) nearly every frame waits a pass, and copying each
 * cost blanketd a memcpy of up to 64 KiB.  Beyond the bound frames are
 * dropped and counted.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "log.h"
#include "vif.h"

/* At most this many frames per queue per pass (netback's RX_BATCH_SIZE), so
 * a busy guest cannot starve the others. */
#define RX_BATCH 64u
/* netfront takes at most this many data slots per packet. */
#define RX_MAX_DATA_SLOTS XEN_NETIF_NR_SLOTS_MIN

struct vif_rxe {
	struct sw_buf *b;
	int hash_type;         /* -1: no hash extra */
	uint32_t hash;
};

/* What the copy call of this pass carries, and whom a failure concerns. */
struct seg_meta {
	struct vif_queue *q;
	RING_IDX idx;
	uint16_t id, flags;
};

static struct {
	struct bl_gnt_copy_seg *seg;
	struct seg_meta *meta;
	unsigned n, cap;
	struct sw_buf **done;  /* frames copied in this pass, put after the copy */
	unsigned ndone, done_cap;
} pass;

const char *const vif_drop_name[VIF_NR_DROPS] = {
	"tx_error", "tx_bad_grant", "tx_disabled", "spoofed_source", "rx_backlog_full",
	"rx_down", "rx_no_sg", "rx_no_gso", "rx_no_csum_offload", "rx_bad_size", "rx_copy_failed",
};

void *vif_grow(void *p, unsigned *cap, unsigned need, size_t elem)
{
	unsigned c = *cap ? *cap : 256;

	if (need <= *cap)
		return p;
	while (c < need)
		c *= 2;
	p = realloc(p, (size_t)c * elem);
	if (!p)
		abort();
	*cap = c;
	return p;
}

/* --- the switch port --------------------------------------------------------------- */

static unsigned flow_hash(const struct netif_flow *f)
{
	uint32_t h = 2166136261u;
	const uint8_t *p[4] = { f->saddr, f->daddr, f->sport, f->dport };
	const unsigned n[4] = { f->ipv6 ? 16u : 4u, f->ipv6 ? 16u : 4u, 2, 2 };

	/* Symmetric is not needed: one direction, one queue. */
	for (int k = 0; k < 4; k++)
		for (unsigned i = 0; i < n[k]; i++)
			h = (h ^ p[k][i]) * 16777619u;
	return h;
}

static void port_deliver(struct sw_port *p, struct sw_buf *b)
{
	struct vif *v = (struct vif *)((char *)p - offsetof(struct vif, port));
	struct vif_rxe e = { .b = b, .hash_type = -1 };
	struct vif_queue *q;
	struct netif_flow f;
	struct sw_l34 l;
	unsigned qi = 0;

	if (!v->nr_queues)
		return;
	if (!v->connected || v->disabled) {
		v->queues[0].stats.drops[VIF_DROP_RX_DOWN]++;
		return;
	}
	if (v->nr_queues > 1 || v->hash.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) {
		sw_parse(b->hdr, b->hdr_len, &l);
		if (sw_flow(b->hdr, b->hdr_len, &l, &f)) {
			e.hash_type = netif_hash_flow(&v->hash, &f, &e.hash);
			if (e.hash_type >= 0)
				qi = netif_hash_queue(&v->hash, e.hash, v->nr_queues);
			else
				qi = flow_hash(&f) % v->nr_queues;
		}
	}
	q = &v->queues[qi];
	if (q->bl_len == q->bl_cap) {
		q->stats.drops[VIF_DROP_RX_BACKLOG]++;
		return;
	}
	sw_buf_get(b);
	q->backlog[(q->bl_head + q->bl_len++) % q->bl_cap] = e;
	vif_mark_dirty(q);
}

const struct sw_port_ops vif_port_ops = { .deliver = port_deliver };

int vif_rx_init(struct vif_queue *q)
{
	q->bl_cap = vif_ctx.cfg->vif.rx_backlog;
	q->backlog = calloc(q->bl_cap, sizeof(*q->backlog));
	return q->backlog ? 0 : -1;
}

static struct vif_rxe bl_pop(struct vif_queue *q)
{
	struct vif_rxe e = q->backlog[q->bl_head];

	q->bl_head = (q->bl_head + 1) % q->bl_cap;
	q->bl_len--;
	return e;
}

void vif_rx_purge(struct vif_queue *q)
{
	while (q->bl_len) {
		struct vif_rxe e = bl_pop(q);

		q->stats.drops[VIF_DROP_RX_DOWN]++;
		sw_buf_put(e.b);
	}
}

/* --- bouncing ---------------------------------------------------------------------- */

struct bounce {
	struct sw_buf b;
	uint8_t data[];
};

static void bounce_release(struct sw_buf *b)
{
	free(b->owner);
}

unsigned vif_copy_segs(struct bl_gnt_copy_seg **segs, unsigned *cap, unsigned n,
		       const struct sw_frag *f, uint8_t *dst)
{
	for (uint32_t done = 0; done < f->len;) {
		uint32_t room = NETIF_PAGE_SIZE - ((uintptr_t)(dst + done) & (NETIF_PAGE_SIZE - 1));
		uint32_t k = f->len - done < room ? f->len - done : room;

		*segs = vif_grow(*segs, cap, n + 1, sizeof(**segs));
		(*segs)[n++] = (struct bl_gnt_copy_seg){
			.src = { .foreign = true, .domid = f->domid, .gref = f->gref,
				 .offset = (uint16_t)(f->offset + done) },
			.dst = { .virt = dst + done },
			.len = (uint16_t)k,
		};
		done += k;
	}
	return n;
}

/* Move the frames still waiting in q into dom0 memory of their own: a
 * guest's fragments with one grant copy call for all of them.  A frame
 * whose copy failed (its sender revoked a grant) stays as an empty frame,
 * dropped as rx_bad_size when its turn comes. */
static void bounce(struct vif_queue *q)
{
	static struct bl_gnt_copy_seg *segs;
	static unsigned cap;
	unsigned n = 0, first[q->bl_len ? q->bl_len : 1];

	for (unsigned k = 0; k < q->bl_len; k++) {
		struct vif_rxe *e = &q->backlog[(q->bl_head + k) % q->bl_cap];
		struct sw_buf *old = e->b;
		struct bounce *c;
		size_t off = 0;

		first[k] = n;
		/* Our copy already, or an uplink buffer the uplink can spare. */
		if (old->release == bounce_release || sw_uplink_may_hold(old))
			continue;
		c = malloc(sizeof(*c) + old->len);
		if (!c)
			abort();
		for (unsigned i = 0; i < old->nr_frags; i++) {
			if (old->frag[i].domid == SW_LOCAL)
				memcpy(c->data + off, old->frag[i].addr, old->frag[i].len);
			else
				n = vif_copy_segs(&segs, &cap, n, &old->frag[i], c->data + off);
			off += old->frag[i].len;
		}
		memcpy(&c->b, old, offsetof(struct sw_buf, frag));
		c->b.refs = 1;
		c->b.release = bounce_release;
		c->b.owner = c;
		c->b.nr_frags = 1;
		c->b.frag[0] = (struct sw_frag){ .addr = c->data, .domid = SW_LOCAL, .len = old->len };
		c->b.meta = old->meta;
		c->b.hdr_len = old->hdr_len;
		memcpy(c->b.hdr, old->hdr, old->hdr_len);
		e->b = &c->b;
		q->stats.rx_bounced++;
		sw_buf_put(old);
	}
	if (!n)
		return;
	bl_gnt_copy(vif_ctx.xen, segs, n);
	for (unsigned k = 0; k < q->bl_len; k++) {
		struct sw_buf *b = q->backlog[(q->bl_head + k) % q->bl_cap].b;
		unsigned end = k + 1 < q->bl_len ? first[k + 1] : n;

		for (unsigned i = first[k]; i < end; i++)
			if (segs[i].status != GNTST_okay)
				b->len = b->frag[0].len = 0;
	}
}

void vif_rx_bounce_all(void)
{
	for (struct vif *v = vif_list(); v; v = vif_next(v))
		for (unsigned i = 0; i < v->nr_queues; i++)
			if (v->queues[i].backlog)
				bounce(&v->queues[i]);
}

/* --- placing frames ------------------------------------------------------------------ */

/* Why the frontend cannot take b, or VIF_NR_DROPS if it can. */
static enum vif_drop refuse(const struct vif *v, const struct sw_buf *b, unsigned *data_slots)
{
	unsigned cap = NETIF_PAGE_SIZE - v->xdp_headroom;
	struct sw_l34 l;

	if (b->len == 0 || b->len > VIF_MAX_FRAME)
		return VIF_DROP_RX_SIZE;
	*data_slots = (b->len + cap - 1) / cap;
	if (*data_slots > RX_MAX_DATA_SLOTS)
		return VIF_DROP_RX_SIZE;
	if (*data_slots > 1 && !v->sg)
		return VIF_DROP_RX_NO_SG;
	if (b->meta.gso_type != XEN_NETIF_GSO_TYPE_NONE &&
	    !(b->meta.gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && v->gso4) &&
	    !(b->meta.gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && v->gso6))
		return VIF_DROP_RX_NO_GSO;
	if (b->meta.csum_blank) {
		sw_parse(b->hdr, b->hdr_len, &l);
		if (!v->csum || (l.ipv6 && !v->ipv6_csum))
			return VIF_DROP_RX_NO_CSUM;
	}
	return VIF_NR_DROPS;
}

/* Where byte foff of a self-granted fragment lies in its bl_self_pages. */
static size_t self_off(const struct sw_frag *f, uint32_t foff)
{
	return (size_t)(f->addr + foff - f->self->addr);
}

static void add_seg(struct vif_queue *q, RING_IDX idx, const struct netif_rx_req *req,
		    uint16_t dst_off, const struct sw_frag *f, uint32_t foff, uint16_t len)
{
	struct bl_gnt_copy_seg *s;

	if (pass.n == pass.cap) {
		/* meta follows seg's capacity: grown together, not per segment */
		pass.seg = vif_grow(pass.seg, &pass.cap, pass.n + 1, sizeof(*pass.seg));
		pass.meta = realloc(pass.meta, (size_t)pass.cap * sizeof(*pass.meta));
		if (!pass.meta)
			abort();
	}
	s = &pass.seg[pass.n];
	memset(s, 0, sizeof(*s));
	if (f->domid == SW_LOCAL && f->self)
		s->src = bl_self_ptr(f->self, self_off(f, foff));
	else if (f->domid == SW_LOCAL)
		s->src = (struct bl_copy_ptr){ .virt = (void *)(f->addr + foff) };
	else
		s->src = (struct bl_copy_ptr){ .foreign = true, .domid = f->domid, .gref = f->gref,
					       .offset = (uint16_t)(f->offset + foff) };
	s->dst = (struct bl_copy_ptr){ .foreign = true, .domid = q->vif->xb.fe_domid,
				       .gref = req->gref, .offset = dst_off };
	s->len = len;
	pass.meta[pass.n] = (struct seg_meta){ .q = q, .idx = idx, .id = req->id };
	pass.n++;
	q->stats.rx_copy_segs++;
}

/* Lay frame e out over the guest's next buffers, as netback's
 * xenvif_rx_skb: data slot, extras, data slots. */
static void place(struct vif_queue *q, const struct vif_rxe *e)
{
	struct vif *v = q->vif;
	const struct sw_buf *b = e->b;
	struct netif_extra ex[3];
	unsigned nex = 0, ei = 0, slot = 0, fi = 0;
	uint32_t foff = 0, remaining = b->len;

	memset(ex, 0, sizeof(ex));
	if (b->meta.gso_type != XEN_NETIF_GSO_TYPE_NONE) {
		ex[nex].type = XEN_NETIF_EXTRA_TYPE_GSO;
		ex[nex].u.gso.type = b->meta.gso_type;
		ex[nex++].u.gso.size = b->meta.gso_size;
	}
	if (e->hash_type >= 0) {
		ex[nex].type = XEN_NETIF_EXTRA_TYPE_HASH;
		ex[nex].u.hash.type = (uint8_t)e->hash_type;
		ex[nex].u.hash.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
		ex[nex++].u.hash.value = e->hash;
	}
	if (v->xdp_headroom) {
		ex[nex].type = NETIF_EXTRA_TYPE_XDP;
		ex[nex++].u.xdp.headroom = v->xdp_headroom;
	}
	do {
		RING_IDX idx = q->st->rx_cons++;
		struct netif_rx_req req;
		unsigned first_seg = pass.n;
		uint16_t off = v->xdp_headroom, flags = 0;

		netif_rx_copy_request(q->rx_sring, q->rx_size, idx, &req);
		if (slot != 0 && ei < nex) {
			if (ei + 1 < nex)
				ex[ei].flags |= XEN_NETIF_EXTRA_FLAG_MORE;
			netif_rx_put_extra(q->rx_sring, q->rx_size, idx, &ex[ei++]);
			slot++;
			continue;
		}
		while (remaining && off < NETIF_PAGE_SIZE) {
			const struct sw_frag *f = &b->frag[fi];
			uint32_t chunk = f->len - foff;

			if (chunk > NETIF_PAGE_SIZE - off)
				chunk = NETIF_PAGE_SIZE - off;
			/* A grant end stays inside its page (gntdev splits only
			 * ends named by address). */
			if (f->domid == SW_LOCAL && f->self) {
				uint32_t soff = (uint32_t)self_off(f, foff) & (NETIF_PAGE_SIZE - 1);

				if (chunk > NETIF_PAGE_SIZE - soff)
					chunk = NETIF_PAGE_SIZE - soff;
			}
			add_seg(q, idx, &req, off, f, foff, (uint16_t)chunk);
			off = (uint16_t)(off + chunk);
			foff += chunk;
			remaining -= chunk;
			if (foff == f->len) {
				fi++;
				foff = 0;
			}
		}
		if (remaining)
			flags |= NETRXF_more_data;
		if (slot == 0) {
			if (b->meta.csum_blank)
				flags |= NETRXF_csum_blank | NETRXF_data_validated;
			else if (b->meta.data_validated)
				flags |= NETRXF_data_validated;
			if (nex)
				flags |= NETRXF_extra_info;
		}
		for (unsigned i = first_seg; i < pass.n; i++)
			pass.meta[i].flags = flags;
		/* netback: offset 0, status the end of the data in the page. */
		netif_rx_rsp(q->rx_sring, q->rx_size, idx, req.id, 0, flags, (int16_t)off);
		slot++;
	} while (remaining || ei < nex);
	q->st->rx_rsp_pvt = q->st->rx_cons;
	q->rx_dirty = true;
	q->stats.rx_pkts++;
	q->stats.rx_bytes += b->len;
}

static bool rx_queue(struct vif_queue *q)
{
	struct vif *v = q->vif;
	volatile struct netif_rx_sring *s = q->rx_sring;
	unsigned done = 0;

	if (!v->connected || v->disabled || !s) {
		vif_rx_purge(q);
		return false;
	}
	while (q->bl_len && done < RX_BATCH) {
		struct vif_rxe *e = &q->backlog[q->bl_head];
		unsigned data_slots = 0, need;
		enum vif_drop why = refuse(v, e->b, &data_slots);
		RING_IDX prod;

		if (why != VIF_NR_DROPS) {
			q->stats.drops[why]++;
			sw_buf_put(bl_pop(q).b);
			continue;
		}
		need = data_slots + (e->b->meta.gso_type != XEN_NETIF_GSO_TYPE_NONE) +
		       (e->hash_type >= 0) + (v->xdp_headroom != 0);
		prod = s->req_prod;
		bl_rmb();
		if (prod - q->st->rx_cons > q->rx_size) {
			vif_fatal(v, "RX request producer ran past the ring");
			return done != 0;
		}
		if (prod - q->st->rx_cons < need) {
			/* Wake us when it posts more (netback's slots_available). */
			s->req_event = prod + 1;
			bl_mb();
			if (s->req_prod != prod)
				continue;
			break;
		}
		place(q, e);
		pass.done = vif_grow(pass.done, &pass.done_cap, pass.ndone + 1, sizeof(*pass.done));
		pass.done[pass.ndone++] = bl_pop(q).b;
		done++;
	}
	/* More than a batch: again in the next round of the pass. */
	q->rx_more = q->bl_len && done == RX_BATCH;
	return done != 0;
}

/* The one copy call of the pass; failed segments overwrite their slot's
 * status with the grant-table error, as netback's xenvif_rx_copy_flush. */
static void copy_flush(void)
{
	struct vif_queue *last = NULL;

	if (pass.n)
		bl_gnt_copy(vif_ctx.xen, pass.seg, pass.n);
	for (unsigned i = 0; i < pass.n; i++) {
		struct seg_meta *m = &pass.meta[i];

		if (m->q != last) {
			m->q->stats.rx_copy_calls++;
			last = m->q;
		}
		if (pass.seg[i].status == GNTST_okay)
			continue;
		m->q->stats.drops[VIF_DROP_RX_COPY]++;
		netif_rx_rsp(m->q->rx_sring, m->q->rx_size, m->idx, m->id, 0, m->flags,
			     pass.seg[i].status);
	}
	pass.n = 0;
	/* Only now may the senders' TX slots be answered. */
	for (unsigned i = 0; i < pass.ndone; i++)
		sw_buf_put(pass.done[i]);
	pass.ndone = 0;
}

bool vif_rx_run(struct vif_queue *list)
{
	bool did = false;

	for (struct vif_queue *q = list; q; q = q->dirty_next)
		if (q->bl_len)
			did |= rx_queue(q);
	copy_flush();
	for (struct vif_queue *q = list; q; q = q->dirty_next)
		if (q->bl_len && q->backlog)
			bounce(q);
	return did;
}
