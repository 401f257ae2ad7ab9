/*
 * uplink_kshim_net.c - the vif switch's uplink over an L0 virtio-net device
 * driven through kshim (`[vif] uplink = kshim:NAME`).
 *
 * TX, zero-copy when the device takes the frame's offloads: its bytes are
 * the sending guest's granted pages, mapped by sw_uplink.c with the pass's
 * other frames and registered with kshim once per pass (mem_register; a
 * page outside it is registered for the frame alone), and the frame
 * becomes one chain: a 12-byte virtio_net_hdr_v1 from a registered dom0
 * pool, then the guest's pieces.  The guest's TX slots stay unanswered,
 * and its pages mapped, until the device returns the chain (tx_async /
 * tx_done, uplink.h).  A frame the device cannot take offloaded comes as
 * a copy instead (kn_tx_buffer, below).
 *
 * RX: a pool of page-sized dom0 buffers, registered once (writable), is
 * kept posted on the receive queue.  Each frame the device fills (one
 * buffer, or num_buffers of them with MRG_RXBUF) enters the switch as
 * dom0 fragments; vif_rx.c grant-copies them into guests, and the buffers
 * are posted again once the last copy is done (rx_release).  A device
 * without GUEST_TSO4 does not coalesce: consecutive TCP segments of one
 * KICK are (rx_offer, sw_gro.h), into one frame of several buffers.
 *
 * Batching as uplink_kshim.c: queued work goes to the device at the end
 * of the event-loop pass (a pass hook, uring.h), one KICK per queue, which
 * also collects completions; an interrupt (the queue's eventfd) only marks
 * the queue.  A busy queue is kicked once per pass: what arrives during
 * the pass waits for the next one (the device's interrupt brings it); an
 * idle queue (nothing in flight, so no interrupt to come) is kicked in any
 * round that has work for it.
 *
 * Offloads: CSUM/HOST_TSO4/6 take the guests' partial checksums and TSO
 * frames as they are; GUEST_CSUM/GUEST_TSO4/6 (with MRG_RXBUF) bring
 * partial checksums and 64 KiB frames in, which netif carries to the
 * guests as they are.  See kshim_net.h for the header and buffer rules.
 *
 * A device without them (QEMU's virtio-net on a hub offers none) still
 * gets the guests' offloaded frames, as Linux's stack would give a NIC
 * without offloads: sw_gso.c fills the checksum in or cuts the TSO frame
 * into MSS-sized TCP packets.  Each packet is one chain: a (zero)
 * virtio_net_hdr and a fixed-up copy of the frame's headers, both from a
 * registered header slot, then that packet's payload.  The packets are
 * built at KICK time straight into the registered slots, as many per pass
 * as the TX area holds.  The payload is the owner's grant copy of the
 * frame into a registered buffer of ours (kn_tx_buffer), so the guest's
 * slots go back at once, as netback's do when Linux segments for such a
 * device; with every copy buffer in use, it is the guest's own pages and
 * the frame is done (tx_done) when the last of its chains is.
 * stats.copies counts the frame copies and the header bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kshim_dev.h"
#include "kshim_net.h"
#include "log.h"
#include "netif.h"
#include "sw_gro.h"
#include "sw_gso.h"
#include "uplink.h"
#include "uring.h"

#define RXQ 0                        /* receiveq1 */
#define TXQ 1                        /* transmitq1 */
#define HDR_SLOT 16u                 /* bytes per TX header in the pool */
/* ... when packets carry their headers there too (sw_gso): 256-byte
 * slots never cross a page, so each piece of a slot is one descriptor. */
#define HDR_SLOT_SOFT 256u
/* The packet's headers right after the virtio header: kshim merges the two
 * into one descriptor (VERSION_1 lets a frame be laid out any way). */
#define SOFT_PKT_OFF KNET_HDR_LEN
_Static_assert(SOFT_PKT_OFF + SW_GSO_HDR_MAX <= HDR_SLOT_SOFT, "header slot too small");
#define TX_BACKLOG 1024u             /* frames waiting for the device at most */
/* Software-GSO frames copied into dom0 (see the top): buffers of a whole
 * frame each (netif's 64 KiB plus an Ethernet header, page-rounded). */
#define COPY_BUFS 32u
#define COPY_BUF_SIZE (NET_UPLINK_COPY_PAGES * 4096u)

/* A frame given to tx_async: one chain, or (soft) one per packet that
 * sw_gso makes of it. */
struct ktx {
	struct ktx *next;                /* the FIFO */
	void *cookie;
	struct virtio_net_hdr_v1 hdr;
	size_t len;
	unsigned nseg, nspan;
	struct kshim_seg seg[KNET_TX_MAX_SEGS];
	struct knet_span span[KNET_TX_MAX_SPANS];
	unsigned nchains;                /* chains the frame is sent as */
	unsigned next_chain;             /* chains submitted so far */
	unsigned chains_out;             /* submitted, not completed */
	bool queued;                     /* on the FIFO (chains left to submit) */
	int res;                         /* what tx_done will say */
	int bad;                         /* a chain cannot be built: drop at the head */
	bool soft;                       /* offload done here: sw, iov */
	unsigned niov;
	struct iovec iov[KNET_TX_MAX_IOV]; /* the caller's array is gone after tx_async */
	struct sw_gso sw;
	int copy;                        /* copy buffer holding the frame, or -1 */
};

/* A received frame in the switch's hands. */
struct krx {
	struct net_uplink_buf nb;        /* first: rx_release hands us &nb */
	struct iovec frag[NET_UPLINK_MAX_FRAGS];
	uint16_t buf[NET_UPLINK_MAX_FRAGS];
	unsigned nbufs;
};

struct knet {
	struct net_uplink u;
	struct ev_loop *loop;
	char pci[16];
	int fd;
	bool dead;
	uint64_t features;
	bool mrg;
	uint8_t mac[6];
	struct kshim_q q[2];
	bool collect[2];                 /* the interrupt fired */
	struct uring_pass_hook pass;
	struct kmap map;                 /* long-lived registrations (mem_register) */
	/* TX */
	uint8_t *hdrs;                   /* header slots, registered read-only */
	size_t hdrs_len, slot_size;
	uint32_t hdrs_region;
	struct ktx **slot;               /* [nslots]: the frame using header slot i */
	uint16_t *slot_free;             /* stack of free slot numbers */
	unsigned nslots, nslot_free;
	struct ktx *txq, **txq_tail;     /* waiting for the device */
	unsigned txq_len, tx_inflight;
	bool tx_full;                    /* ENOSPC until something completes */
	uint8_t *copies;                 /* COPY_BUFS frame buffers, registered read-only */
	size_t copies_len;
	uint32_t copies_region;
	uint16_t copy_free[COPY_BUFS];   /* stack of free copy buffers */
	unsigned ncopy_free;
	/* RX */
	uint8_t *bufs;                   /* nbufs pages, registered writable */
	size_t bufs_len;
	uint32_t bufs_region;
	unsigned nbufs, rx_posted;
	uint16_t *buf_free;              /* stack of buffers to post */
	unsigned nbuf_free;
	struct krx *frames, *frame_free; /* [nbufs]: a frame holds at least one buffer */
	struct knet_rxframe cur;         /* the frame being received */
	bool rx_empty;                   /* nothing posted: counted once per episode */
	/* Coalescing (sw_gro.h) when the device does not (no GUEST_TSO4):
	 * the frame being built from consecutive segments of one KICK. */
	bool gro;
	struct krx *gro_x;               /* its first segment's frame, or NULL */
	struct sw_gro_seg gro_first;
	unsigned gro_nsegs;
	size_t gro_payload;
	uint32_t gro_next;               /* the sequence number that follows */
	bool gro_psh, gro_ended;
};

static struct knet *to_k(struct net_uplink *u)
{
	return (struct knet *)u;
}

/* --- TX ---------------------------------------------------------------------------------- */

static void unreg_spans(struct knet *k, struct ktx *t)
{
	for (unsigned i = 0; i < t->nspan; i++) {
		uint32_t id = t->span[i].region;

		/* A dead device's regions went with its file. */
		if (!k->dead && ioctl(k->fd, KSHIM_IOC_UNREG_MEM, &id) < 0)
			log_err("kshim-net %s: releasing a frame's pages: %s", k->u.name, strerror(errno));
	}
	t->nspan = 0;
}

/* The device is done with t (res 0), or it never will be: let the owner
 * go, and the copy buffer. */
static void tx_complete(struct knet *k, struct ktx *t, int res)
{
	unreg_spans(k, t);
	if (res == 0) {
		k->u.stats.tx_pkts++;
		k->u.stats.tx_bytes += t->len;
	} else {
		k->u.stats.tx_errors++;
	}
	k->u.stats.tx_inflight--;
	if (k->u.tx_done)
		k->u.tx_done(&k->u, t->cookie, res);
	if (t->copy >= 0)
		k->copy_free[k->ncopy_free++] = (uint16_t)t->copy;
	free(t);
}

/* A frame the device cannot take with its offloads (it is segmented or
 * checksummed here) is better taken as a copy, as Linux's skb_segment
 * copies a zero-copy skb's pages (netback's among them) for a NIC without
 * TSO: the owner grant-copies it into one of our registered buffers and
 * the guest's slots go back at once, instead of after the device sent
 * every packet, so the guest's TCP small-queue limit does not wait on the
 * L0 device; no mapping or registration either.  The checksums read every
 * byte anyway, and now read bytes the guest can no longer change.  With
 * every buffer in use: NULL, zero copy from the guest's pages. */
static void *kn_tx_buffer(struct net_uplink *u, size_t len, const struct net_meta *m)
{
	struct knet *k = to_k(u);
	struct virtio_net_hdr_v1 hdr;

	(void)len;      /* the pieces go in their own pages: any netif frame fits */
	if (k->dead || !k->ncopy_free || knet_tx_hdr(m, k->features, &hdr) != -EOPNOTSUPP)
		return NULL;
	return k->copies + (size_t)k->copy_free[--k->ncopy_free] * COPY_BUF_SIZE;
}

static void kn_tx_buffer_put(struct net_uplink *u, void *buf)
{
	struct knet *k = to_k(u);

	k->copy_free[k->ncopy_free++] = (uint16_t)(((uint8_t *)buf - k->copies) / COPY_BUF_SIZE);
}

/* The copy buffer a frame is in (kn_tx_buffer's: all its pieces are), or
 * -1. */
static int copy_index(const struct knet *k, const struct iovec *iov, unsigned n)
{
	const uint8_t *p = iov[0].iov_base;

	if (!n || !k->copies || p < k->copies || p >= k->copies + k->copies_len)
		return -1;
	return (int)((size_t)(p - k->copies) / COPY_BUF_SIZE);
}

static int kn_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
		       const struct net_meta *m, void *cookie)
{
	struct knet *k = to_k(u);
	int copy = copy_index(k, iov, n);
	struct ktx *t;
	int rc;

	if (k->dead || k->txq_len >= TX_BACKLOG || n > KNET_TX_MAX_IOV || !(t = calloc(1, sizeof(*t)))) {
		/* a copy buffer is ours again, sent or not */
		if (copy >= 0)
			k->copy_free[k->ncopy_free++] = (uint16_t)copy;
		u->stats.tx_errors++;
		return k->dead ? -EIO : n > KNET_TX_MAX_IOV ? -EINVAL : -ENOBUFS;
	}
	t->copy = copy;
	for (unsigned i = 0; i < n; i++)
		t->len += iov[i].iov_len;
	rc = knet_tx_hdr(m, k->features, &t->hdr);
	t->nchains = 1;
	if (rc == -EOPNOTSUPP) {
		/* The device lacks the offload: done here, packet by packet. */
		rc = sw_gso_prepare(&t->sw, iov, n, m);
		if (rc < 0)
			log_debug("kshim-net %s: dropping an offloaded frame the device cannot take "
				  "and sw_gso refuses: %s", u->name, strerror(-rc));
		t->soft = rc == 0;
		t->nchains = t->sw.nsegs;
	}
	t->niov = n;
	memcpy(t->iov, iov, n * sizeof(*iov));
	if (rc == 0) {
		rc = knet_tx_spans(&k->map, t->iov, t->niov, t->span, KNET_TX_MAX_SPANS);
		t->nspan = 0;
	}
	/* The pages no long-lived registration covers: this frame's own. */
	for (int i = 0; i < rc; i++) {
		if (kshim_reg(k->fd, t->span[i].addr, t->span[i].len, false, &t->span[i].region) < 0) {
			log_debug("kshim-net %s: registering a frame's pages: %s", u->name,
				  strerror(errno));
			rc = -EIO;
			break;
		}
		t->nspan++;
		u->stats.registrations++;
	}
	/* A soft frame's chains are built later from the same spans: this
	 * checks now that every page is covered. */
	if (rc >= 0) {
		rc = knet_tx_segs(&k->map, t->span, t->nspan, t->iov, t->niov, t->seg,
				  KNET_TX_MAX_SEGS);
		t->nseg = rc > 0 ? (unsigned)rc : 0;
	}
	if (rc > 0 && !t->soft && 1u + t->nseg > k->q[TXQ].size)
		rc = -EMSGSIZE;
	if (rc <= 0) {
		unreg_spans(k, t);
		if (t->copy >= 0)
			k->copy_free[k->ncopy_free++] = (uint16_t)t->copy;
		free(t);
		u->stats.tx_errors++;
		return rc ? rc : -EINVAL;
	}
	t->cookie = cookie;
	t->queued = true;
	*k->txq_tail = t;
	k->txq_tail = &t->next;
	k->txq_len++;
	u->stats.tx_inflight++;
	return 0;
}

static void kill_device(struct knet *k, const char *why, int e);

/* Chain c of frame t into slot s and the area from seg[nseg] on: the
 * number of data segments after the header, or -errno (-E2BIG: not within
 * room). */
static int chain_build(struct knet *k, struct ktx *t, unsigned c, unsigned s,
		       struct kshim_seg *seg, unsigned room)
{
	uint8_t *slot = k->hdrs + (size_t)s * k->slot_size;
	struct iovec piece[KNET_TX_MAX_IOV];
	int np;

	if (!t->soft) {
		if (t->nseg > room)
			return -E2BIG;
		memcpy(slot, &t->hdr, KNET_HDR_LEN);
		memcpy(seg, t->seg, t->nseg * sizeof(*t->seg));
		return (int)t->nseg;
	}
	/* No offload asked of the device: a zero virtio header, the packet's
	 * fixed-up headers right after it in the same slot (kshim makes the
	 * two one descriptor), then the guest's payload pieces. */
	if (room < 1)
		return -E2BIG;
	np = sw_gso_segment(&t->sw, c, t->iov, t->niov, slot + SOFT_PKT_OFF, piece,
			    KNET_TX_MAX_IOV);
	if (np >= 0)
		np = knet_tx_segs(&k->map, t->span, t->nspan, piece, (unsigned)np, seg + 1,
				  room - 1);
	if (np < 0)
		return np;
	seg[0] = (struct kshim_seg){ .region = k->hdrs_region,
				     .offset = (uint64_t)s * k->slot_size + SOFT_PKT_OFF,
				     .len = t->sw.hlen };
	np++;
	memset(slot, 0, KNET_HDR_LEN);
	return np;
}

/* The chains that fit into the TX area, from the FIFO's head (frames stay
 * on it until the KICK has taken all their chains). */
static unsigned tx_build(struct knet *k, unsigned *nslot)
{
	struct kshim_q *q = &k->q[TXQ];
	unsigned n = 0, nseg = 0;

	for (struct ktx *t = k->txq; t && n < q->size && !t->bad; t = t->next) {
		unsigned c;

		for (c = t->next_chain; c < t->nchains && n < q->size; c++) {
			unsigned s;
			int np;

			if (nseg + 1 > q->size || !k->nslot_free)
				goto out;
			s = k->slot_free[k->nslot_free - 1];
			q->seg[nseg] = (struct kshim_seg){
				.region = k->hdrs_region, .offset = (uint64_t)s * k->slot_size,
				.len = KNET_HDR_LEN };
			np = chain_build(k, t, c, s, &q->seg[nseg + 1], q->size - nseg - 1);
			if (np == -E2BIG && nseg)
				goto out;       /* the next KICK has room */
			if (np < 0) {
				/* Never fits, or a page not covered: our bug. */
				log_err("kshim-net %s: a TX chain cannot be built: %s", k->u.name,
					strerror(-np));
				t->bad = np == -E2BIG ? -EMSGSIZE : -EIO;
				goto out;
			}
			k->nslot_free--;
			k->slot[s] = t;
			q->ch[n++] = (struct kshim_chain){ .cookie = s, .seg_first = nseg,
							   .seg_count = (uint16_t)(1 + np) };
			nseg += 1 + (unsigned)np;
		}
		if (c < t->nchains)
			break;
	}
out:
	*nslot = n;
	return n;
}

static void slot_put(struct knet *k, unsigned s)
{
	k->slot[s] = NULL;
	k->slot_free[k->nslot_free++] = (uint16_t)s;
}

static struct ktx *txq_pop(struct knet *k)
{
	struct ktx *t = k->txq;

	k->txq = t->next;
	if (!k->txq)
		k->txq_tail = &k->txq;
	k->txq_len--;
	t->queued = false;
	return t;
}

/* The head of the FIFO is dropped (res): its chains at the device still
 * complete, then the owner hears. */
static void tx_abandon(struct knet *k, int res)
{
	struct ktx *t = txq_pop(k);

	t->res = res;
	t->next_chain = t->nchains;
	if (!t->chains_out)
		tx_complete(k, t, res);
}

/* One KICK of the TX queue: submit what fits, collect what the device
 * read.  True if frames completed. */
static bool run_tx(struct knet *k, unsigned round)
{
	struct kshim_q *q = &k->q[TXQ];
	struct kshim_kick kk = { .queue = q->idx };
	unsigned n = 0, built;
	int e = 0;

	/* A frame one of whose chains cannot be built goes once it is first. */
	while (k->txq && k->txq->bad)
		tx_abandon(k, k->txq->bad);
	if (round >= 1 && k->tx_inflight && !k->collect[TXQ])
		return false;
	/* The KICK collects before it submits: an interrupt may have freed
	 * the descriptors a full ring lacked. */
	if (k->txq && (!k->tx_full || k->collect[TXQ]))
		tx_build(k, &n);
	if (!n && !k->collect[TXQ])
		return false;
	built = n;
	k->collect[TXQ] = false;
	kk.sq_count = n;
	k->u.stats.kicks++;
	if (ioctl(k->fd, KSHIM_IOC_KICK, &kk) < 0)
		e = errno;
	if (e && e != ENOSPC && e != EINVAL && e != ENOENT && e != ERANGE && e != EPERM) {
		for (unsigned i = 0; i < built; i++)
			slot_put(k, (unsigned)q->ch[i].cookie);
		kill_device(k, "TX KICK failed", e);
		return true;
	}
	/* Frames whose chains are all submitted leave the FIFO; the others
	 * keep their place. */
	for (unsigned i = 0; i < kk.sq_done; i++) {
		struct ktx *t = k->slot[q->ch[i].cookie];

		t->next_chain++;
		t->chains_out++;
		if (t->soft)
			k->u.stats.copies += t->sw.hlen;
		if (t->next_chain == t->nchains && t->queued)
			txq_pop(k);     /* chains go in FIFO order: t is the head */
	}
	k->tx_inflight += kk.sq_done;
	for (unsigned i = kk.sq_done; i < built; i++)
		slot_put(k, (unsigned)q->ch[i].cookie);
	if (e == ENOSPC) {
		/* A frame needing more descriptors than the whole ring would wait
		 * forever: with nothing in flight, drop it. */
		if (!k->tx_inflight && kk.sq_done == 0 && kk.cq_count == 0 && k->txq) {
			log_err("kshim-net %s: a frame does not fit the TX ring", k->u.name);
			tx_abandon(k, -EMSGSIZE);
		} else {
			k->tx_full = true;
		}
	} else if (e) {
		/* kshim refused a chain we built: our bug, not the guest's. */
		log_err("kshim-net %s: TX chain refused: %s", k->u.name, strerror(e));
		if (k->txq)
			tx_abandon(k, -EIO);
	}
	if (k->txq && k->txq->bad)
		tx_abandon(k, k->txq->bad);
	if (kk.cq_count)
		k->tx_full = false;
	for (unsigned i = 0; i < kk.cq_count; i++) {
		unsigned s = (unsigned)q->cqe[i].cookie;
		struct ktx *t = s < k->nslots ? k->slot[s] : NULL;

		if (!t)
			continue; /* kshim checked the id; the cookie is ours */
		slot_put(k, s);
		k->tx_inflight--;
		if (--t->chains_out == 0 && !t->queued)
			tx_complete(k, t, t->res);
	}
	return kk.cq_count > 0 || (e && e != ENOSPC);
}

/* --- RX ---------------------------------------------------------------------------------- */

static void buf_put(struct knet *k, uint16_t b)
{
	k->buf_free[k->nbuf_free++] = b;
}

static void kn_rx_release(struct net_uplink *u, struct net_uplink_buf *nb)
{
	struct knet *k = to_k(u);
	struct krx *x = (struct krx *)nb;

	/* Posted again at the next KICK of the receive queue. */
	for (unsigned i = 0; i < x->nbufs; i++)
		buf_put(k, x->buf[i]);
	x->nb.next = &k->frame_free->nb;
	k->frame_free = x;
}

static void rx_hand(struct knet *k, struct krx *x)
{
	if (k->u.rx)
		k->u.rx(&k->u, &x->nb);
	else
		kn_rx_release(&k->u, &x->nb);
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
			buf_put(k, f->buf[i]);
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
			buf_put(k, f->buf[i]);
		break;
	}
	memset(f, 0, offsetof(struct knet_rxframe, hdr));
}

/* One KICK of the receive queue: post the free buffers, collect frames. */
static bool run_rx(struct knet *k, unsigned round)
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
		kill_device(k, "RX KICK failed", e);
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

/* --- the pass, interrupts, failure ----------------------------------------------------------- */

static bool kn_pass(struct uring_pass_hook *h, unsigned round)
{
	struct knet *k = (struct knet *)((char *)h - offsetof(struct knet, pass));
	bool more = false;

	if (!k->dead)
		more |= run_rx(k, round);
	if (!k->dead)
		more |= run_tx(k, round);
	return more;
}

static void kn_interrupt(struct ev_loop *l, ev_io *w, int revents)
{
	struct kshim_q *q = (struct kshim_q *)((char *)w - offsetof(struct kshim_q, w));
	struct knet *k = (struct knet *)((char *)(q - q->idx) - offsetof(struct knet, q));

	(void)l, (void)revents;
	kshim_q_ack(q, k->u.name);
	k->collect[q->idx] = true;
}

/* Reset the device (closing its file stops DMA and unpins everything). */
static void close_device(struct knet *k)
{
	uring_pass_hook_del(&k->pass);
	for (unsigned i = 0; i < 2; i++)
		kshim_q_free(k->loop, &k->q[i]);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->dead = true;
}

/* Every frame queued or in flight is done with, unsent. */
static void fail_tx(struct knet *k, int res)
{
	for (unsigned s = 0; s < k->nslots; s++)
		if (k->slot[s]) {
			struct ktx *t = k->slot[s];

			slot_put(k, s);
			k->tx_inflight--;
			if (!t->res)
				t->res = res;
			if (--t->chains_out == 0 && !t->queued)
				tx_complete(k, t, t->res);
		}
	/* Queued frames have no chain out now. */
	while (k->txq) {
		struct ktx *t = txq_pop(k);

		tx_complete(k, t, t->res ? t->res : res);
	}
}

static void kill_device(struct knet *k, const char *why, int e)
{
	log_err("kshim-net %s (%s): %s: %s; the uplink is down until blanketd restarts",
		k->u.name, k->pci, why, strerror(e));
	close_device(k);
	fail_tx(k, -EIO);
}

/* --- memory ---------------------------------------------------------------------------------- */

static int kn_mem_register(struct net_uplink *u, void *addr, size_t len)
{
	struct knet *k = to_k(u);
	uint32_t id;

	if (k->dead || kshim_reg(k->fd, (uintptr_t)addr, len, false, &id) < 0)
		return -1;
	if (kmap_add(&k->map, (uintptr_t)addr, len, id, false) < 0) {
		ioctl(k->fd, KSHIM_IOC_UNREG_MEM, &id);
		return -1;
	}
	u->stats.mem_regions++;
	return 0;
}

static void kn_mem_unregister(struct net_uplink *u, void *addr, size_t len)
{
	struct knet *k = to_k(u);
	const struct kmap_entry *e = kmap_find(&k->map, (uintptr_t)addr);
	uint32_t id;

	if (!e)
		return;
	id = e->region;
	if (!k->dead && ioctl(k->fd, KSHIM_IOC_UNREG_MEM, &id) < 0)
		log_err("kshim-net %s: releasing a registration: %s", u->name, strerror(errno));
	kmap_del(&k->map, (uintptr_t)addr, len);
	u->stats.mem_regions--;
}

/* --- opening and closing --------------------------------------------------------------------- */

static void kn_free(struct knet *k)
{
	if (!k->dead)
		close_device(k);
	if (k->hdrs)
		munmap(k->hdrs, k->hdrs_len);
	if (k->bufs)
		munmap(k->bufs, k->bufs_len);
	if (k->copies)
		munmap(k->copies, k->copies_len);
	if (k->map.bucket)
		kmap_destroy(&k->map);
	free(k->slot);
	free(k->slot_free);
	free(k->buf_free);
	free(k->frames);
	free(k);
}

static void kn_close(struct net_uplink *u)
{
	struct knet *k = to_k(u);

	/* The switch has given every received frame back (its vifs are gone);
	 * what it still sends is over. */
	close_device(k);
	fail_tx(k, -ECANCELED);
	kn_free(k);
}

static const struct net_uplink_ops kn_ops = {
	.tx_async = kn_tx_async,
	.rx_release = kn_rx_release,
	.close = kn_close,
	.tx_buffer = kn_tx_buffer,
	.tx_buffer_put = kn_tx_buffer_put,
	.mem_register = kn_mem_register,
	.mem_unregister = kn_mem_unregister,
};

#define HAS(k, f) (((k)->features >> (f)) & 1)

/*
 * Features.  VERSION_1 (kshim requires it; the header is then always 12
 * bytes), ACCESS_PLATFORM when offered (kshim requires that too), EVENT_IDX
 * (fewer notifications and interrupts), MAC (to log which NIC it is).
 * MRG_RXBUF: page-sized receive buffers (one descriptor each, a full
 * ring's worth posted) that a 64 KiB frame spans, rather than 64 KiB
 * buffers of 17 descriptors each; the guest-side TSO needs it.  The
 * offloads go both ways so GSO and partial checksums cross the uplink
 * unchanged: CSUM, HOST_TSO4/6 (TX) and GUEST_CSUM, GUEST_TSO4/6 (RX), the
 * spec's dependencies respected (TSO needs the checksum offload).
 */
static int negotiate(struct knet *k, const struct kshim_info *info, char *err, size_t errlen)
{
	unsigned want[16], n = 0;
	uint64_t off = info->features;

#define OFFERED(f) ((off >> (f)) & 1)
	want[n++] = VIRTIO_F_VERSION_1;
	want[n++] = VIRTIO_F_ACCESS_PLATFORM;
	want[n++] = VIRTIO_RING_F_EVENT_IDX;
	/* A TX chain (header, then the guest's pieces) takes one slot of the
	 * ring instead of one per piece: 2-3 times the packets in flight. */
	want[n++] = VIRTIO_RING_F_INDIRECT_DESC;
	want[n++] = VIRTIO_NET_F_MAC;
	want[n++] = VIRTIO_NET_F_MRG_RXBUF;
	if (OFFERED(VIRTIO_NET_F_CSUM)) {
		want[n++] = VIRTIO_NET_F_CSUM;
		want[n++] = VIRTIO_NET_F_HOST_TSO4;
		want[n++] = VIRTIO_NET_F_HOST_TSO6;
	}
	if (OFFERED(VIRTIO_NET_F_GUEST_CSUM)) {
		want[n++] = VIRTIO_NET_F_GUEST_CSUM;
		/* 64 KiB frames only fit page buffers when they can merge. */
		if (OFFERED(VIRTIO_NET_F_MRG_RXBUF)) {
			want[n++] = VIRTIO_NET_F_GUEST_TSO4;
			want[n++] = VIRTIO_NET_F_GUEST_TSO6;
		}
	}
#undef OFFERED
	if (kshim_dev_features(k->fd, k->pci, info, want, n, &k->features, err, errlen))
		return -1;
	k->mrg = HAS(k, VIRTIO_NET_F_MRG_RXBUF);
	/* A device that does not coalesce received segments: we do (rx_offer). */
	k->gro = !HAS(k, VIRTIO_NET_F_GUEST_TSO4);
	if (HAS(k, VIRTIO_NET_F_MAC))
		for (unsigned i = 0; i < 6; i++) {
			uint64_t v;

			if (kshim_dev_config(k->fd, (uint32_t)offsetof(struct virtio_net_config, mac) + i,
					     1, &v) < 0) {
				snprintf(err, errlen, "%s: reading its MAC: %s", k->pci, strerror(errno));
				return -1;
			}
			k->mac[i] = (uint8_t)v;
		}
	if (info->num_queues < 2 || info->msix_vectors < 2) {
		snprintf(err, errlen, "%s has no receive/transmit queue pair with MSI-X vectors",
			 k->pci);
		return -1;
	}
	return 0;
}

/* Header slots for every chain that can be in flight or being built, and
 * the receive buffers: registered once. */
static int pools(struct knet *k, char *err, size_t errlen)
{
	k->nslots = 2u * k->q[TXQ].size;
	k->slot_size = HAS(k, VIRTIO_NET_F_CSUM) && HAS(k, VIRTIO_NET_F_HOST_TSO4) &&
		       HAS(k, VIRTIO_NET_F_HOST_TSO6) ? HDR_SLOT : HDR_SLOT_SOFT;
	k->hdrs_len = k->nslots * k->slot_size;
	k->nbufs = k->q[RXQ].size;
	k->bufs_len = (size_t)k->nbufs * KNET_BUF;
	k->slot = calloc(k->nslots, sizeof(*k->slot));
	k->slot_free = calloc(k->nslots, sizeof(*k->slot_free));
	k->buf_free = calloc(k->nbufs, sizeof(*k->buf_free));
	k->frames = calloc(k->nbufs, sizeof(*k->frames));
	if (!k->slot || !k->slot_free || !k->buf_free || !k->frames || kmap_init(&k->map)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	k->hdrs = kshim_pool(k->fd, &k->hdrs_len, false, &k->hdrs_region);
	if (k->hdrs)
		k->bufs = kshim_pool(k->fd, &k->bufs_len, true, &k->bufs_region);
	if (!k->hdrs || !k->bufs) {
		snprintf(err, errlen, "%s: registering %zu bytes of buffers: %s (RLIMIT_MEMLOCK?)",
			 k->pci, k->hdrs ? k->bufs_len : k->hdrs_len, strerror(errno));
		return -1;
	}
	/* Software segmentation takes frames as copies (kn_tx_buffer); chains name
	 * them through the long-lived map like any registered memory. */
	if (k->slot_size == HDR_SLOT_SOFT) {
		k->copies_len = (size_t)COPY_BUFS * COPY_BUF_SIZE;
		k->copies = kshim_pool(k->fd, &k->copies_len, false, &k->copies_region);
		if (!k->copies || kmap_add(&k->map, (uintptr_t)k->copies, k->copies_len,
					   k->copies_region, false) < 0) {
			snprintf(err, errlen, "%s: registering %zu bytes of buffers: %s "
				 "(RLIMIT_MEMLOCK?)", k->pci, k->copies_len, strerror(errno));
			return -1;
		}
		for (unsigned b = COPY_BUFS; b-- > 0;)
			k->copy_free[k->ncopy_free++] = (uint16_t)b;
	}
	for (unsigned s = k->nslots; s-- > 0;)
		slot_put(k, s);
	for (unsigned b = k->nbufs; b-- > 0;)
		buf_put(k, (uint16_t)b);
	for (unsigned i = 0; i < k->nbufs; i++) {
		k->frames[i].nb.next = &k->frame_free->nb;
		k->frame_free = &k->frames[i];
	}
	return 0;
}

struct net_uplink *uplink_kshim_net_open(struct ev_loop *loop, const char *name,
					 const char *pci, char *err, size_t errlen)
{
	struct kshim_info info;
	struct knet *k = calloc(1, sizeof(*k));

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->u.ops = &kn_ops;
	k->u.kind = "kshim-net";
	snprintf(k->u.name, sizeof(k->u.name), "%s", name);
	snprintf(k->pci, sizeof(k->pci), "%s", pci);
	k->loop = loop;
	k->txq_tail = &k->txq;
	k->q[0].efd = k->q[1].efd = -1;
	k->fd = kshim_dev_open(pci, VIRTIO_ID_NET, "network device", &info, err, errlen);
	if (k->fd < 0)
		goto fail;
	if (negotiate(k, &info, err, errlen) ||
	    kshim_q_setup(k->fd, pci, &k->q[RXQ], RXQ, 0, err, errlen) ||
	    kshim_q_setup(k->fd, pci, &k->q[TXQ], TXQ, 0, err, errlen) || pools(k, err, errlen))
		goto fail;
	if (ioctl(k->fd, KSHIM_IOC_DRIVER_OK) < 0) {
		snprintf(err, errlen, "/dev/kshim-%s: DRIVER_OK: %s", pci, strerror(errno));
		goto fail;
	}
	k->pass.run = kn_pass;
	uring_pass_hook_add(&k->pass);
	for (unsigned i = 0; i < 2; i++)
		kshim_q_start(loop, &k->q[i], kn_interrupt);
	log_info("kshim-net %s (%s): MAC %02x:%02x:%02x:%02x:%02x:%02x, queues of %u/%u, features "
		 "%#" PRIx64 "%s%s%s", name, pci, k->mac[0], k->mac[1], k->mac[2], k->mac[3],
		 k->mac[4], k->mac[5], k->q[RXQ].size, k->q[TXQ].size, k->features,
		 k->mrg ? ", mergeable RX buffers" : "", HAS(k, VIRTIO_NET_F_CSUM) ? ", TX offloads" : "",
		 HAS(k, VIRTIO_NET_F_GUEST_CSUM) ? ", RX offloads" : "");
	if (k->slot_size == HDR_SLOT_SOFT)
		log_info("kshim-net %s: the device lacks %s: guests' partial checksums and TSO "
			 "frames are copied, completed and segmented in software", name,
			 HAS(k, VIRTIO_NET_F_CSUM) ? "TSO" : "checksum offload and TSO");
	if (k->gro)
		log_info("kshim-net %s: the device does not coalesce received TCP segments: "
			 "blanketd does, for guests that take GSO frames", name);
	return &k->u;
fail:
	kn_free(k);
	return NULL;
}
