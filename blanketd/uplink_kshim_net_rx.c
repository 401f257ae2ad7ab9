/*
 * uplink_kshim_net_rx.c - the kshim-net uplink's RX path: the receive
 * buffers posted, the frames the device fills collected and handed to the
 * switch (coalesced first through sw_gro when the device does not), the
 * buffers taken back.  See uplink_kshim_net.c for the design.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "netif.h"
#include "uplink_kshim_net.h"

void knet_buf_put(struct knet *k, uint16_t b)
{
	k->buf_free[k->nbuf_free++] = b;
}

void knet_rx_release(struct net_uplink *u, struct net_uplink_buf *nb)
{
	struct knet *k = to_k(u);
	struct krx *x = (struct krx *)nb;

	/* Posted again at the next KICK of the receive queue. */
	for (unsigned i = 0; i < x->nbufs; i++)
		knet_buf_put(k, x->buf[i]);
	x->nb.next = &k->frame_free->nb;
	k->frame_free = x;
}

static void rx_hand(struct knet *k, struct krx *x)
{
	if (k->u.rx)
		k->u.rx(&k->u, &x->nb);
	else
		knet_rx_release(&k->u, &x->nb);
}

/* The frame being coalesced goes on: as one GSO frame if it took more
 * than one segment, else as it came (its checksum known good). */
static void gro_flush(struct knet *k)
{
	struct krx *x = k->gro_x;

	if (!x)
		return;
	k->gro_x = NULL;
	if (k->gro_nsegs > 1) {
		/* the length was kept within IP's when segments were added */
		sw_gro_finish(x->nb.data, &k->gro_first, k->gro_payload, k->gro_psh, &x->nb.meta);
		k->u.stats.rx_gro_frames++;
		k->u.stats.rx_gro_segs += k->gro_nsegs;
	} else {
		x->nb.meta.data_validated = true;
	}
	rx_hand(k, x);
}

/* Appends segment s (frame x) to the frame being coalesced: its payload
 * becomes a fragment, its buffer the frame's; x itself is free again. */
static void gro_append(struct knet *k, struct krx *x, const struct sw_gro_seg *s)
{
	struct krx *h = k->gro_x;

	h->frag[h->nb.nr_frags++] = (struct iovec){ (uint8_t *)x->nb.data + s->hlen, s->payload };
	h->buf[h->nbufs++] = x->buf[0];
	h->nb.len += s->payload;
	k->gro_payload += s->payload;
	k->gro_next += s->payload;
	k->gro_nsegs++;
	k->gro_psh |= (s->flags & SW_GRO_TCP_PSH) != 0;
	k->gro_ended = sw_gro_ends(&k->gro_first, s);
	x->nb.next = &k->frame_free->nb;
	k->frame_free = x;
}

/* A received frame: coalesced with the ones before it where sw_gro
 * allows and its destination takes GSO frames, else handed on. */
static void rx_offer(struct knet *k, struct krx *x)
{
	const uint8_t *f = x->nb.data;
	struct sw_gro_seg s;

	if (!k->gro || x->nbufs != 1 || x->nb.nr_frags != 1 || x->nb.meta.csum_blank ||
	    x->nb.meta.gso_type != XEN_NETIF_GSO_TYPE_NONE || sw_gro_parse(f, x->nb.len, &s)) {
		gro_flush(k);
		rx_hand(k, x);
		return;
	}
	if (k->gro_x && !k->gro_ended && k->gro_x->nb.nr_frags < NET_UPLINK_MAX_FRAGS &&
	    k->gro_first.hlen - k->gro_first.l3_off + k->gro_payload + s.payload <= 0xffff &&
	    sw_gro_follows(k->gro_x->nb.data, &k->gro_first, k->gro_nsegs, k->gro_next, f, &s)) {
		gro_append(k, x, &s);
		if (k->gro_ended)
			gro_flush(k);
		return;
	}
	gro_flush(k);
	x->nb.meta.data_validated = true;
	if (!s.mergeable || (s.flags & SW_GRO_TCP_PSH) || !k->u.rx_gso_ok ||
	    !k->u.rx_gso_ok(&k->u, f, s.ipv6)) {
		rx_hand(k, x);
		return;
	}
	k->gro_x = x;
	k->gro_first = s;
	k->gro_nsegs = 1;
	k->gro_payload = s.payload;
	k->gro_next = s.seq + s.payload;
	k->gro_psh = false;
	k->gro_ended = false;
}

/* The frame in k->cur is whole: into the switch. */
static void rx_deliver(struct knet *k)
{
	struct knet_rxframe *f = &k->cur;
	struct krx *x = k->frame_free;

	if (!x || knet_rx_meta(&f->hdr, &x->nb.meta) < 0) {
		k->u.stats.rx_errors++;
		for (unsigned i = 0; i < f->nbufs; i++)
			knet_buf_put(k, f->buf[i]);
		return;
	}
	k->frame_free = (struct krx *)x->nb.next;
	memcpy(x->buf, f->buf, f->nbufs * sizeof(*f->buf));
	memcpy(x->frag, f->frag, f->nfrags * sizeof(*f->frag));
	x->nbufs = f->nbufs;
	x->nb.frag = x->frag;
	x->nb.nr_frags = f->nfrags;
	x->nb.data = f->frag[0].iov_base;
	x->nb.len = f->len;
	k->u.stats.rx_pkts++;
	k->u.stats.rx_bytes += f->len;
	rx_offer(k, x);
}

static void rx_completion(struct knet *k, const struct kshim_cqe *c)
{
	struct knet_rxframe *f = &k->cur;
	uint16_t b = (uint16_t)c->cookie;

	if (c->cookie >= k->nbufs)
		return;
	k->rx_posted--;
	switch (knet_rx_add(f, k->mrg, b, k->bufs + (size_t)b * KNET_BUF, c->len)) {
	case KNET_RX_MORE:
		return;
	case KNET_RX_FRAME:
		rx_deliver(k);
		break;
	case KNET_RX_BAD:
		k->u.stats.rx_errors++;
		for (unsigned i = 0; i < f->nbufs; i++)
			knet_buf_put(k, f->buf[i]);
		break;
	}
	memset(f, 0, offsetof(struct knet_rxframe, hdr));
}

/* One KICK of the receive queue: post the free buffers, collect frames. */
bool knet_run_rx(struct knet *k, unsigned round)
{
	struct kshim_q *q = &k->q[RXQ];
	struct kshim_kick kk = { .queue = q->idx };
	unsigned n = 0;
	int e = 0;

	if (round >= 1 && k->rx_posted && !k->collect[RXQ])
		return false;
	/* Buffers go out from the top of the stack, so the chains built are
	 * the last n entries: what kshim does not take simply stays there. */
	while (n < k->nbuf_free && n < q->size && k->rx_posted + n < q->size) {
		uint16_t b = k->buf_free[k->nbuf_free - 1 - n];

		q->seg[n] = (struct kshim_seg){ .region = k->bufs_region, .flags = KSHIM_SEG_DEV_WRITE,
						.offset = (uint64_t)b * KNET_BUF, .len = KNET_BUF };
		q->ch[n] = (struct kshim_chain){ .cookie = b, .seg_first = n, .seg_count = 1 };
		n++;
	}
	if (!n && !k->collect[RXQ])
		return false;
	k->collect[RXQ] = false;
	kk.sq_count = n;
	k->u.stats.kicks++;
	if (ioctl(k->fd, KSHIM_IOC_KICK, &kk) < 0)
		e = errno;
	if (e && e != ENOSPC) {
		knet_kill_device(k, "RX KICK failed", e);
		return true;
	}
	k->nbuf_free -= kk.sq_done;
	k->rx_posted += kk.sq_done;
	for (unsigned i = 0; i < kk.cq_count; i++)
		rx_completion(k, &q->cqe[i]);
	/* coalescing never holds a frame past the KICK that brought it */
	gro_flush(k);
	if (!k->rx_posted && !k->rx_empty)
		k->u.stats.rx_pool_empty++;
	k->rx_empty = !k->rx_posted;
	return kk.cq_count > 0;
}
