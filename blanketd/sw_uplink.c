/*
 * sw_uplink.c - the network uplink (uplink.h) as a port of the switch.
 *
 * Out: a frame for the uplink names a guest's grants (vif_ring.c maps
 * nothing).  The frames of a loop pass wait in a list; at its end
 * (sw_uplink_flush) ONE grant map call maps the pages of all of them,
 * whichever guests they came from, and registers the range with the
 * uplink once if it wants that (kshim pins it), so a busy pass costs a
 * map, a munmap and an unmap for any number of frames rather than four
 * calls per frame.  Each frame is then written straight from the mapping,
 * behind a virtio_net_hdr carrying its GSO and partial-checksum state;
 * the checksum offsets come from the switch's private copy of the
 * headers.  The mapping goes, and the senders' TX slots are answered,
 * when the uplink is done with every frame in it (its last tx_done: for
 * TAP in the same pass, its io_uring writes completing inside the pass's
 * submit; for kshim when the L0 NIC has read them).  A grant revoked
 * between the sender's check and the map fails the batch's call: its
 * frames are then mapped one by one, and only
 * the guilty one is dropped.  A frame no longer than the sender's header
 * copy (a TCP ACK) is not mapped at all: it goes from a copy of that.
 * Nor is a frame the uplink would rather take as a copy (tx_buffer: the
 * TAP, which copies every frame into an skb anyway, or a kshim-net NIC
 * without TSO, whose frames are segmented and checksummed here anyway):
 * the pass's such frames are grant-copied into the uplink's buffers with
 * one call, and their senders answer at once.
 *
 * In: each frame the uplink read enters the switch as a buffer in dom0
 * memory (one fragment, or one per page-sized device buffer), handed back
 * to the uplink's pool when the last guest copied it.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vif.h"

/* Frames mapped by one call. */
struct up_map {
	void *addr;
	uint32_t pages;
	bool registered;          /* with the uplink (mem_register) */
	bool by_uplink;           /* mapped by the uplink itself (tx_map) */
	unsigned busy;            /* frames the uplink has not finished */
	unsigned nframes;
	struct sw_buf *frame[];   /* NULL once the sender took it back */
};

/* A frame the uplink holds (tx_async). */
struct up_tx {
	struct up_map *m;         /* its mapping; NULL: a copy (in data, or the uplink's) */
	struct up_tx *prev, *next;   /* in up.held, or next in up_tx_free */
	uint8_t data[SW_HDR_MAX];    /* !m: the frame, from the header copy */
};

static struct {
	struct sw_port port;
	struct net_uplink *u;
	struct sw *sw;
	struct up_tx *held;          /* frames in the uplink's hands */
	struct sw_buf **pend;        /* frames waiting for the end of the pass */
	unsigned npend, pend_cap;
	uint32_t *domids;            /* the batch's grants */
	grant_ref_t *refs;
	unsigned domids_cap, refs_cap;
	struct up_copy *copy;        /* copy_send's frames */
	struct bl_gnt_copy_seg *segs;
	unsigned copy_cap, segs_cap;
} up;

/* A frame copy_send gives the uplink as a copy. */
struct up_copy {
	void *buf;                /* the uplink's (tx_buffer) */
	struct net_meta meta;
	unsigned seg0;            /* its first segment in up.segs */
};

struct up_buf {
	struct sw_buf b;
	struct net_uplink_buf *ub;
	struct up_buf *next;      /* in up_free */
};

/* The wrappers of frames each way, kept for the next ones: one is taken
 * and given back per frame, a pass's burst of them is more than malloc's
 * per-thread cache keeps, and malloc and free were a third of the
 * userspace instructions of a 64-byte frame into a guest (callgrind over
 * the vif test harness).  Never more than were out at once. */
static struct up_buf *up_free;
static struct up_tx *up_tx_free;

/* NULL only when there is none to reuse and malloc fails. */
static struct up_buf *buf_new(void)
{
	struct up_buf *x = up_free;

	if (!x)
		return malloc(sizeof(*x));
	up_free = x->next;
	return x;
}

static void buf_free(struct up_buf *x)
{
	x->next = up_free;
	up_free = x;
}

static struct up_tx *tx_new(void)
{
	struct up_tx *t = up_tx_free;

	if (!t)
		return malloc(sizeof(*t));
	up_tx_free = t->next;
	return t;
}

static void tx_free(struct up_tx *t)
{
	t->next = up_tx_free;
	up_tx_free = t;
}

/* The uplink is done with one of m's frames; after the last, unmap and
 * let the senders answer their slots. */
static void map_done(struct up_map *m)
{
	if (--m->busy)
		return;
	if (m->by_uplink) {
		up.u->ops->tx_unmap(up.u, m->addr, m->pages);
	} else {
		if (m->registered)
			up.u->ops->mem_unregister(up.u, m->addr,
						  (size_t)m->pages * NETIF_PAGE_SIZE);
		bl_gnt_unmap(vif_ctx.xen, m->addr, m->pages);
	}
	for (unsigned i = 0; i < m->nframes; i++)
		if (m->frame[i])
			sw_buf_put(m->frame[i]);
	free(m);
}

static void up_tx_done(struct net_uplink *u, void *cookie, int res)
{
	struct up_tx *t = cookie;

	(void)u, (void)res;
	if (t->prev)
		t->prev->next = t->next;
	else
		up.held = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->m)
		map_done(t->m);
	tx_free(t);
}

/* Offload state for the virtio_net_hdr; false if netback would drop it. */
static bool frame_meta(const struct sw_buf *b, struct net_meta *m)
{
	*m = b->meta;
	/* netback drops what it cannot set a partial checksum up for. */
	return sw_offload_meta(b->hdr, b->hdr_len, m) == 0;
}

/* Gives t's frame to the uplink, which now holds it until tx_done; false
 * (t freed) if it refused it. */
static bool hold(struct up_tx *t, const struct iovec *iov, unsigned n, const struct net_meta *meta)
{
	t->prev = NULL;
	t->next = up.held;
	if (up.u->ops->tx_async(up.u, iov, n, meta, t) == 0) {
		if (up.held)
			up.held->prev = t;
		up.held = t;
		return true;
	}
	tx_free(t);
	return false;
}

/* Queue frame b with the uplink: mapped at iov (m learns when the uplink
 * is done with it), or, m NULL, a small frame sent from a copy of the
 * header copy it wholly fits in. */
static void send(struct sw_buf *b, const struct iovec *iov, unsigned n, struct up_map *m)
{
	struct net_meta meta;
	struct iovec small;
	struct up_tx *t;

	if (!frame_meta(b, &meta) || !(t = tx_new())) {
		up.u->stats.tx_errors++;
		return;
	}
	t->m = m;
	if (m) {
		m->busy++;
	} else {
		memcpy(t->data, b->hdr, b->len);
		small = (struct iovec){ .iov_base = t->data, .iov_len = b->len };
		iov = &small;
		n = 1;
		up.u->stats.copies += b->len;
	}
	if (!hold(t, iov, n, &meta) && m)
		m->busy--;
}

/* Where fragment i of a frame goes in a copy buffer: page i, at the
 * fragment's own offset, so it is one grant copy segment. */
static uint8_t *copy_at(void *buf, const struct sw_buf *b, unsigned i)
{
	return (uint8_t *)buf + (size_t)i * NETIF_PAGE_SIZE + b->frag[i].offset;
}

/* The uplink took a copy of frame b, in buf, with offloads meta (the
 * sender answers at once: nothing of its pages is held). */
static void send_copy(struct sw_buf *b, void *buf, const struct net_meta *meta)
{
	struct iovec iov[SW_MAX_FRAGS];
	struct up_tx *t = tx_new();

	if (!t)
		abort();
	for (unsigned i = 0; i < b->nr_frags; i++)
		iov[i] = (struct iovec){ .iov_base = copy_at(buf, b, i), .iov_len = b->frag[i].len };
	t->m = NULL;
	up.u->stats.copies += b->len;
	hold(t, iov, b->nr_frags, meta);
}

/* The longest prefix of frames[0..n) the uplink takes as copies of its
 * own (tx_buffer): grant-copied with one call for all of them, sent, and
 * let go of, so their senders answer in this pass without a mapping.
 * Stopping at the first frame it does not want keeps the frames' order.
 * How many it took. */
static unsigned copy_send(struct sw_buf **frames, unsigned n)
{
	unsigned k, nseg = 0;

	if (!up.u->ops->tx_buffer)
		return 0;
	up.copy = vif_grow(up.copy, &up.copy_cap, n, sizeof(*up.copy));
	for (k = 0; k < n; k++) {
		struct sw_buf *b = frames[k];
		struct up_copy *c = &up.copy[k];

		if (b->nr_frags > NET_UPLINK_COPY_PAGES || !frame_meta(b, &c->meta) ||
		    !(c->buf = up.u->ops->tx_buffer(up.u, b->len, &c->meta)))
			break;
		c->seg0 = nseg;
		for (unsigned i = 0; i < b->nr_frags; i++)
			nseg = vif_copy_segs(&up.segs, &up.segs_cap, nseg, &b->frag[i],
					     copy_at(c->buf, b, i));
	}
	if (!k)
		return 0;
	bl_gnt_copy(vif_ctx.xen, up.segs, nseg);
	for (unsigned j = 0; j < k; j++) {
		unsigned end = j + 1 < k ? up.copy[j + 1].seg0 : nseg;
		bool ok = true;

		for (unsigned i = up.copy[j].seg0; i < end; i++)
			ok &= up.segs[i].status == GNTST_okay;
		if (ok) {
			send_copy(frames[j], up.copy[j].buf, &up.copy[j].meta);
		} else {
			/* a grant revoked since the sender's check: only this frame goes */
			up.u->ops->tx_buffer_put(up.u, up.copy[j].buf);
			up.u->stats.tx_errors++;
		}
		sw_buf_put(frames[j]);
	}
	return k;
}

/* Map frames[0..n) with one call and send them; false if the call failed
 * (a revoked grant: nothing was sent). */
static bool map_send(struct sw_buf **frames, unsigned n)
{
	struct up_map *m;
	unsigned pages = 0;

	for (unsigned k = 0; k < n; k++)
		pages += frames[k]->nr_frags;
	up.domids = vif_grow(up.domids, &up.domids_cap, pages, sizeof(*up.domids));
	up.refs = vif_grow(up.refs, &up.refs_cap, pages, sizeof(*up.refs));
	pages = 0;
	for (unsigned k = 0; k < n; k++)
		for (unsigned i = 0; i < frames[k]->nr_frags; i++, pages++) {
			up.domids[pages] = frames[k]->frag[i].domid;
			up.refs[pages] = frames[k]->frag[i].gref;
		}
	m = malloc(sizeof(*m) + (size_t)n * sizeof(m->frame[0]));
	if (!m)
		abort();
	up.u->stats.tx_maps++;
	/* The uplink's own mapping when it has one (no VMA of ours, nothing to
	 * register); failing that (or a grant refused: the gntdev map below
	 * fails too, and the caller takes the frames one by one), ours. */
	m->addr = up.u->ops->tx_map ? up.u->ops->tx_map(up.u, pages, up.domids, up.refs) : NULL;
	m->by_uplink = m->addr != NULL;
	up.u->stats.tx_uplink_maps += m->by_uplink;
	if (!m->addr)
		m->addr = bl_gnt_map_refs(vif_ctx.xen, pages, up.domids, up.refs, false);
	if (!m->addr) {
		free(m);
		return false;
	}
	up.u->stats.tx_map_pages += pages;
	m->pages = pages;
	m->nframes = n;
	m->registered = !m->by_uplink && up.u->ops->mem_register &&
			!up.u->ops->mem_register(up.u, m->addr, (size_t)pages * NETIF_PAGE_SIZE);
	m->busy = 1;            /* ours, while sending */
	pages = 0;
	for (unsigned k = 0; k < n; k++) {
		struct sw_buf *b = frames[k];
		struct iovec iov[SW_MAX_FRAGS];

		m->frame[k] = b;
		for (unsigned i = 0; i < b->nr_frags; i++, pages++) {
			iov[i].iov_base = (uint8_t *)m->addr + (size_t)pages * NETIF_PAGE_SIZE +
					  b->frag[i].offset;
			iov[i].iov_len = b->frag[i].len;
		}
		send(b, iov, b->nr_frags, m);
	}
	map_done(m);
	return true;
}

bool sw_uplink_flush(void)
{
	unsigned n = up.npend, c;
	struct sw_buf **pend = up.pend;

	if (!n)
		return false;
	up.npend = 0;
	c = copy_send(pend, n);
	pend += c;
	n -= c;
	if (!n || map_send(pend, n))
		return true;
	/* One bad frame must not cost the others theirs. */
	for (unsigned k = 0; k < n; k++)
		if (n == 1 || !map_send(&pend[k], 1)) {
			up.u->stats.tx_errors++;
			sw_buf_put(pend[k]);
		}
	return true;
}

static void up_deliver(struct sw_port *p, struct sw_buf *b)
{
	(void)p;
	/* Only guests send to the uplink: their grants are mapped with the
	 * pass's other frames. */
	for (unsigned i = 0; i < b->nr_frags; i++)
		if (b->frag[i].domid == SW_LOCAL) {
			up.u->stats.tx_errors++;
			return;
		}
	/* A frame the header copy holds whole (a TCP ACK: netback's
	 * XEN_NETBACK_TX_COPY_LEN case) needs no mapping, unless the uplink
	 * reads only registered memory and does not copy frames that small
	 * itself (tx_copy_max): a registration per frame would cost more
	 * than its share of the pass's mapping. */
	if (b->len <= b->hdr_len && (!up.u->ops->mem_register || b->len <= up.u->tx_copy_max)) {
		send(b, NULL, 0, NULL);
		return;
	}
	sw_buf_get(b);
	up.pend = vif_grow(up.pend, &up.pend_cap, up.npend + 1, sizeof(*up.pend));
	up.pend[up.npend++] = b;
}

static const struct sw_port_ops up_ops = { .deliver = up_deliver };

static void up_release(struct sw_buf *b)
{
	struct up_buf *x = b->owner;

	up.u->rx_out--;
	up.u->ops->rx_release(up.u, x->ub);
	buf_free(x);
}

bool sw_uplink_may_hold(const struct sw_buf *b)
{
	return b->release == up_release && up.u && up.u->rx_out <= up.u->rx_hold_max;
}

static void up_rx(struct net_uplink *u, struct net_uplink_buf *ub)
{
	struct up_buf *x;

	if (ub->nr_frags > SW_MAX_FRAGS || !(x = buf_new())) {
		u->stats.rx_errors++;
		u->ops->rx_release(u, ub);
		return;
	}
	x->ub = ub;
	u->rx_out++;
	x->b.refs = 1;
	x->b.release = up_release;
	x->b.owner = x;
	x->b.len = (uint32_t)ub->len;
	x->b.nr_frags = ub->nr_frags ? ub->nr_frags : 1;
	if (!ub->nr_frags)
		x->b.frag[0] = (struct sw_frag){ .addr = ub->data, .domid = SW_LOCAL,
						 .self = ub->self, .len = (uint32_t)ub->len };
	for (unsigned i = 0; i < ub->nr_frags; i++)
		x->b.frag[i] = (struct sw_frag){ .addr = ub->frag[i].iov_base, .domid = SW_LOCAL,
						 .self = ub->self,
						 .len = (uint32_t)ub->frag[i].iov_len };
	x->b.meta = ub->meta;
	sw_buf_take_hdr(&x->b);
	sw_input(up.sw, &up.port, &x->b);
	sw_buf_put(&x->b);
}

/* The frame would reach one port, and that port takes GSO frames. */
static bool up_rx_gso_ok(struct net_uplink *u, const uint8_t *dst, bool ipv6)
{
	struct sw_port *p = sw_mac_is_multicast(dst) ? NULL : sw_fdb_lookup(up.sw, dst);

	(void)u;
	return p && p != &up.port && (ipv6 ? p->gso6 : p->gso4);
}

int sw_uplink_attach(struct sw *s, struct net_uplink *u)
{
	up.u = u;
	up.sw = s;
	up.port.ops = &up_ops;
	snprintf(up.port.name, sizeof(up.port.name), "%.9s:%.13s", u->kind, u->name);
	u->rx = up_rx;
	u->tx_done = up_tx_done;
	u->rx_gso_ok = up_rx_gso_ok;
	sw_port_add(s, &up.port);
	return 0;
}

void sw_uplink_forget(bool (*mine)(struct sw_buf *b, void *arg), void *arg)
{
	unsigned k = 0;

	for (unsigned i = 0; i < up.npend; i++) {
		if (mine(up.pend[i], arg))
			sw_buf_put(up.pend[i]);
		else
			up.pend[k++] = up.pend[i];
	}
	up.npend = k;
	for (struct up_tx *t = up.held; t; t = t->next)
		for (unsigned i = 0; t->m && i < t->m->nframes; i++) {
			struct sw_buf *b = t->m->frame[i];

			if (b && mine(b, arg)) {
				t->m->frame[i] = NULL;
				sw_buf_put(b);
			}
		}
}

void sw_uplink_detach(struct sw *s)
{
	if (!up.u || up.sw != s)
		return;
	sw_port_del(s, &up.port);
	while (up.npend)
		sw_buf_put(up.pend[--up.npend]);
	/* Closing calls tx_done for what the uplink still holds. */
	up.u->ops->close(up.u);
	while (up.held) {
		if (up.held->m)
			up.held->m->registered = false;   /* went with the device */
		up_tx_done(NULL, up.held, -1);
	}
	while (up_free) {
		struct up_buf *x = up_free;

		up_free = x->next;
		free(x);
	}
	while (up_tx_free) {
		struct up_tx *t = up_tx_free;

		up_tx_free = t->next;
		free(t);
	}
	up.u = NULL;
	up.sw = NULL;
}

struct sw_port *sw_uplink_port(void)
{
	return up.u ? &up.port : NULL;
}

struct net_uplink *sw_uplink(void)
{
	return up.u;
}
