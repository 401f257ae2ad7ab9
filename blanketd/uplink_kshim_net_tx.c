/*
 * uplink_kshim_net_tx.c - the kshim-net uplink's TX path: frames from the
 * switch queued (knet_tx_async, or the copy buffers of knet_tx_buffer),
 * built into chains at KICK time (zero copy, or packet by packet through
 * sw_gso), submitted and completed.  See uplink_kshim_net.c for the design.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "uplink_kshim_net.h"

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
void knet_tx_complete(struct knet *k, struct ktx *t, int res)
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
		copy_pool_put_index(&k->copies, t->copy);
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
void *knet_tx_buffer(struct net_uplink *u, size_t len, const struct net_meta *m)
{
	struct knet *k = to_k(u);
	struct virtio_net_hdr_v1 hdr;

	(void)len;      /* the pieces go in their own pages: any netif frame fits */
	if (k->dead || knet_tx_hdr(m, k->features, &hdr) != -EOPNOTSUPP)
		return NULL;
	return copy_pool_get(&k->copies);
}

void knet_tx_buffer_put(struct net_uplink *u, void *buf)
{
	copy_pool_put(&to_k(u)->copies, buf);
}

int knet_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
		  const struct net_meta *m, void *cookie)
{
	struct knet *k = to_k(u);
	/* the copy buffer the frame is in (knet_tx_buffer's: all its pieces
	 * are), or -1 */
	int copy = n ? copy_pool_index(&k->copies, iov[0].iov_base) : -1;
	struct iovec inl;
	struct ktx *t;
	int rc;

	if (k->dead || k->txq_len >= TX_BACKLOG || n > KNET_TX_MAX_IOV || !(t = calloc(1, sizeof(*t)))) {
		/* a copy buffer is ours again, sent or not */
		if (copy >= 0)
			copy_pool_put_index(&k->copies, copy);
		u->stats.tx_errors++;
		return k->dead ? -EIO : n > KNET_TX_MAX_IOV ? -EINVAL : -ENOBUFS;
	}
	t->copy = copy;
	for (unsigned i = 0; i < n; i++)
		t->len += iov[i].iov_len;
	/* A small frame (a TCP ACK) is copied into its header slot at KICK
	 * time: no registration for it, and the caller's memory (its own copy,
	 * or a guest's mapped page) is free again now.  Sending our copy also
	 * means the guest cannot change the bytes after any checks. */
	if (copy < 0 && t->len <= KNET_TX_INLINE_MAX && !knet_in_arena(k, iov[0].iov_base)) {
		size_t at = 0;

		for (unsigned i = 0; i < n; i++) {
			memcpy(t->inl_data + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		t->inl = true;
		inl = (struct iovec){ .iov_base = t->inl_data, .iov_len = t->len };
		iov = &inl;
		n = 1;
	}
	rc = knet_tx_hdr(m, k->features, &t->hdr);
	t->nchains = 1;
	/* Pages kshim mapped for the device alone cannot be read here (tx_map
	 * is off without the offloads; this only keeps it that way). */
	if (rc == -EOPNOTSUPP && knet_in_arena(k, iov[0].iov_base))
		rc = -EINVAL;
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
	if (t->inl)
		rc = rc < 0 ? rc : 1;   /* nothing to register; one data segment */
	else if (rc == 0) {
		rc = knet_tx_spans(&k->map, t->iov, t->niov, t->span, KNET_TX_MAX_SPANS);
		t->nspan = 0;
	}
	/* The pages no long-lived registration covers: this frame's own. */
	for (int i = 0; !t->inl && i < rc; i++) {
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
	if (rc >= 0 && !t->inl) {
		rc = knet_tx_segs(&k->map, t->span, t->nspan, t->iov, t->niov, t->seg,
				  KNET_TX_MAX_SEGS);
		t->nseg = rc > 0 ? (unsigned)rc : 0;
	}
	if (rc > 0 && !t->soft && 1u + t->nseg > k->q[TXQ].size)
		rc = -EMSGSIZE;
	if (rc <= 0) {
		unreg_spans(k, t);
		if (t->copy >= 0)
			copy_pool_put_index(&k->copies, t->copy);
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

/* Chain c of a small frame: the virtio header, then the packet itself
 * (the frame, or sw_gso's packet c of it: headers and payload) in the
 * same slot, one descriptor in all once kshim merges the two. */
static int chain_inline(struct knet *k, struct ktx *t, unsigned c, unsigned s,
			struct kshim_seg *seg, unsigned room)
{
	uint8_t *slot = k->hdrs + (size_t)s * HDR_SLOT, *pkt = slot + KNET_HDR_LEN;
	struct iovec piece[KNET_TX_MAX_IOV];
	size_t len;
	int np;

	if (room < 1)
		return -E2BIG;
	if (!t->soft) {
		memcpy(slot, &t->hdr, KNET_HDR_LEN);
		memcpy(pkt, t->inl_data, t->len);
		len = t->len;
	} else {
		np = sw_gso_segment(&t->sw, c, t->iov, t->niov, pkt, piece, KNET_TX_MAX_IOV);
		if (np < 0)
			return np;
		len = t->sw.hlen;
		/* each packet is at most the frame: it fits where the frame did */
		for (int i = 0; i < np; i++) {
			if (len + piece[i].iov_len > KNET_TX_INLINE_MAX)
				return -EIO;
			memmove(pkt + len, piece[i].iov_base, piece[i].iov_len);
			len += piece[i].iov_len;
		}
		memset(slot, 0, KNET_HDR_LEN);
	}
	seg[0] = (struct kshim_seg){ .region = k->hdrs_region,
				     .offset = (uint64_t)s * HDR_SLOT + KNET_HDR_LEN,
				     .len = (uint32_t)len };
	return 1;
}

/* Chain c of frame t into slot s and the area from seg[nseg] on: the
 * number of data segments after the header, or -errno (-E2BIG: not within
 * room). */
static int chain_build(struct knet *k, struct ktx *t, unsigned c, unsigned s,
		       struct kshim_seg *seg, unsigned room)
{
	uint8_t *slot = k->hdrs + (size_t)s * HDR_SLOT;
	struct iovec piece[KNET_TX_MAX_IOV];
	int np;

	if (t->inl)
		return chain_inline(k, t, c, s, seg, room);
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
				     .offset = (uint64_t)s * HDR_SLOT + SOFT_PKT_OFF,
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
				.region = k->hdrs_region, .offset = (uint64_t)s * HDR_SLOT,
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

void knet_slot_put(struct knet *k, unsigned s)
{
	k->slot[s] = NULL;
	k->slot_free[k->nslot_free++] = (uint16_t)s;
}

struct ktx *knet_txq_pop(struct knet *k)
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
	struct ktx *t = knet_txq_pop(k);

	t->res = res;
	t->next_chain = t->nchains;
	if (!t->chains_out)
		knet_tx_complete(k, t, res);
}

/* One KICK of the TX queue: submit what fits, collect what the device
 * read.  True if frames completed. */
bool knet_run_tx(struct knet *k, unsigned round)
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
			knet_slot_put(k, (unsigned)q->ch[i].cookie);
		knet_kill_device(k, "TX KICK failed", e);
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
			knet_txq_pop(k);     /* chains go in FIFO order: t is the head */
	}
	k->tx_inflight += kk.sq_done;
	for (unsigned i = kk.sq_done; i < built; i++)
		knet_slot_put(k, (unsigned)q->ch[i].cookie);
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
		knet_slot_put(k, s);
		k->tx_inflight--;
		if (--t->chains_out == 0 && !t->queued)
			knet_tx_complete(k, t, t->res);
	}
	return kk.cq_count > 0 || (e && e != ENOSPC);
}
