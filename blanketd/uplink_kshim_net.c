/*
 * uplink_kshim_net.c - the vif switch's uplink over an L0 virtio-net device
 * driven through kshim (`[vif] uplink = kshim:NAME`).
 *
 * TX, zero-copy when the device takes the frame's offloads: its bytes are
 * the sending guest's granted pages, which kshim maps for the device alone
 * with the pass's other frames, one ioctl (tx_map: KSHIM_IOC_MAP_GRANTS;
 * without it, sw_uplink.c maps them through gntdev and registers the
 * mapping once per pass, mem_register), and the frame becomes one chain: a
 * 12-byte virtio_net_hdr_v1 from a registered dom0 pool, then the guest's
 * pieces.  The guest's TX slots stay unanswered,
 * and its pages mapped, until the device returns the chain (tx_async /
 * tx_done, uplink.h).  A frame the device cannot take offloaded comes as
 * a copy instead (knet_tx_buffer).  A small frame (up to
 * KNET_TX_INLINE_MAX bytes: TCP ACKs) is copied into its header slot,
 * right after the virtio header, and sent from there: sw_uplink.c gives
 * it from its own header copy (tx_copy_max), so no grant is mapped, no
 * page registered, and the guest's slot is answered in the same pass.
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
 * frame into a registered buffer of ours (knet_tx_buffer), so the guest's
 * slots go back at once, as netback's do when Linux segments for such a
 * device; with every copy buffer in use, it is the guest's own pages and
 * the frame is done (tx_done) when the last of its chains is.
 * stats.copies counts the frame copies and the header bytes.
 *
 * Files: this one has the device's life (opening, negotiation, the
 * registered pools, the pass and its interrupts, memory registration,
 * failure, closing) and the ops table; the TX path is in
 * uplink_kshim_net_tx.c, the RX path in uplink_kshim_net_rx.c, and what
 * the three share in uplink_kshim_net.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "uplink_kshim_net.h"

/* --- the pass, interrupts, failure ----------------------------------------------------------- */

static bool kn_pass(struct uring_pass_hook *h, unsigned round)
{
	struct knet *k = (struct knet *)((char *)h - offsetof(struct knet, pass));
	bool more = false;

	if (!k->dead)
		more |= knet_run_rx(k, round);
	if (!k->dead)
		more |= knet_run_tx(k, round);
	return more;
}

static void kn_interrupt(struct ev_loop *l, ev_io *w, int revents)
{
	struct kshim_q *q = (struct kshim_q *)((char *)w - offsetof(struct kshim_q, w));
	struct knet *k = (struct knet *)((char *)(q - q->idx) - offsetof(struct knet, q));

	(void)l, (void)revents;
	kshim_q_ack(q, k->u.name);
	k->collect[q->idx] = true;
	if (q->idx == TXQ)
		k->u.stats.irqs_tx++;
	else
		k->u.stats.irqs_rx++;
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

			knet_slot_put(k, s);
			k->tx_inflight--;
			if (!t->res)
				t->res = res;
			if (--t->chains_out == 0 && !t->queued)
				knet_tx_complete(k, t, t->res);
		}
	/* Queued frames have no chain out now. */
	while (k->txq) {
		struct ktx *t = knet_txq_pop(k);

		knet_tx_complete(k, t, t->res ? t->res : res);
	}
}

void knet_kill_device(struct knet *k, const char *why, int e)
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

/* tx_map: the guests' pages of a pass mapped by kshim for the device alone
 * (KSHIM_IOC_MAP_GRANTS), one ioctl each way: no gntdev VMA, PTEs, pin,
 * TLB flush or registration of ours.  Not for a device without the TX
 * offloads, whose frames sw_gso reads.  The region gets addresses in the
 * arena so that chains name it through k->map like any other. */
static int arena_alloc(struct knet *k, unsigned n)
{
	for (unsigned tried = 0, run = 0, at = k->arena_next; tried < ARENA_PAGES + n; tried++) {
		unsigned p = (k->arena_next + tried) % ARENA_PAGES;

		if (p == 0)
			run = 0;        /* a range does not wrap */
		if (k->arena_used[p / 64] >> (p % 64) & 1) {
			run = 0;
			continue;
		}
		if (run++ == 0)
			at = p;
		if (run == n) {
			for (unsigned i = at; i < at + n; i++)
				k->arena_used[i / 64] |= 1ull << (i % 64);
			k->arena_next = (at + n) % ARENA_PAGES;
			return (int)at;
		}
	}
	return -1;
}

static void arena_free(struct knet *k, unsigned at, unsigned n)
{
	for (unsigned i = at; i < at + n; i++)
		k->arena_used[i / 64] &= ~(1ull << (i % 64));
}

static void *kn_tx_map(struct net_uplink *u, unsigned n, const uint32_t *domids,
		       const uint32_t *refs)
{
	struct knet *k = to_k(u);
	uint32_t id;
	uint8_t *addr;
	int at;

	if (k->dead || k->tx_soft || !k->arena || n > KSHIM_GRANTS_MAX ||
	    (at = arena_alloc(k, n)) < 0)
		return NULL;
	addr = k->arena + (size_t)at * 4096u;
	if (kshim_map_grants(k->fd, n, domids, refs, &id) < 0) {
		/* ENODEV (not a PV dom0): gntdev from now on */
		if (errno == ENODEV) {
			log_info("kshim-net %s: kshim cannot map grants here; mapping them "
				 "through gntdev", u->name);
			munmap(k->arena, (size_t)ARENA_PAGES * 4096u);
			k->arena = NULL;
		}
		arena_free(k, (unsigned)at, n);
		return NULL;
	}
	if (kmap_add(&k->map, (uintptr_t)addr, (size_t)n * 4096u, id, false) < 0) {
		ioctl(k->fd, KSHIM_IOC_UNREG_MEM, &id);
		arena_free(k, (unsigned)at, n);
		return NULL;
	}
	u->stats.mem_regions++;
	return addr;
}

static void kn_tx_unmap(struct net_uplink *u, void *addr, unsigned n)
{
	struct knet *k = to_k(u);

	kn_mem_unregister(u, addr, (size_t)n * 4096u);
	if (k->arena)
		arena_free(k, (unsigned)(((uint8_t *)addr - k->arena) / 4096u), n);
}

/* --- opening and closing --------------------------------------------------------------------- */

static void kn_free(struct knet *k)
{
	if (!k->dead)
		close_device(k);
	if (k->hdrs)
		munmap(k->hdrs, k->hdrs_len);
	if (k->bufs_self.addr)
		bl_self_pages_free(k->xen, &k->bufs_self);
	else if (k->bufs)
		munmap(k->bufs, k->bufs_len);
	if (k->copies.mem)
		munmap(k->copies.mem, k->copies_len);
	if (k->arena)
		munmap(k->arena, (size_t)ARENA_PAGES * 4096u);
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
	.tx_async = knet_tx_async,
	.rx_release = knet_rx_release,
	.close = kn_close,
	.tx_buffer = knet_tx_buffer,
	.tx_buffer_put = knet_tx_buffer_put,
	.mem_register = kn_mem_register,
	.mem_unregister = kn_mem_unregister,
	.tx_map = kn_tx_map,
	.tx_unmap = kn_tx_unmap,
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
	k->tx_soft = !(HAS(k, VIRTIO_NET_F_CSUM) && HAS(k, VIRTIO_NET_F_HOST_TSO4) &&
		       HAS(k, VIRTIO_NET_F_HOST_TSO6));
	k->hdrs_len = k->nslots * HDR_SLOT;
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
	/* Receive buffers granted to ourselves (xen-gntalloc) where we can:
	 * the copies into guests then name them by grant and gntdev pins no
	 * page per segment.  Plain memory otherwise. */
	if (k->hdrs && k->xen && bl_self_pages_alloc(k->xen, k->nbufs, &k->bufs_self) == 0) {
		if (k->bufs_self.refs &&
		    kshim_reg(k->fd, (uintptr_t)k->bufs_self.addr, k->bufs_len, true, &k->bufs_region) == 0)
			k->bufs = k->bufs_self.addr;
		else
			bl_self_pages_free(k->xen, &k->bufs_self);
	}
	if (k->hdrs && !k->bufs)
		k->bufs = kshim_pool(k->fd, &k->bufs_len, true, &k->bufs_region);
	if (!k->hdrs || !k->bufs) {
		snprintf(err, errlen, "%s: registering %zu bytes of buffers: %s (RLIMIT_MEMLOCK?)",
			 k->pci, k->hdrs ? k->bufs_len : k->hdrs_len, strerror(errno));
		return -1;
	}
	/* With the offloads, guests' frames go from pages kshim maps (tx_map);
	 * without the reservation, from gntdev mappings as before. */
	if (!k->tx_soft) {
		k->arena = mmap(NULL, (size_t)ARENA_PAGES * 4096u, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (k->arena == MAP_FAILED)
			k->arena = NULL;
	}
	/* Software segmentation takes frames as copies (knet_tx_buffer); chains name
	 * them through the long-lived map like any registered memory. */
	if (k->tx_soft) {
		k->copies_len = (size_t)COPY_BUFS * COPY_POOL_BUF_SIZE;
		copy_pool_init(&k->copies, kshim_pool(k->fd, &k->copies_len, false, &k->copies_region),
			       COPY_BUFS);
		if (!k->copies.mem || kmap_add(&k->map, (uintptr_t)k->copies.mem, k->copies_len,
					       k->copies_region, false) < 0) {
			snprintf(err, errlen, "%s: registering %zu bytes of buffers: %s "
				 "(RLIMIT_MEMLOCK?)", k->pci, k->copies_len, strerror(errno));
			return -1;
		}
	}
	for (unsigned s = k->nslots; s-- > 0;)
		knet_slot_put(k, s);
	for (unsigned b = k->nbufs; b-- > 0;)
		knet_buf_put(k, (uint16_t)b);
	for (unsigned i = 0; i < k->nbufs; i++) {
		k->frames[i].nb.self = k->bufs_self.addr ? &k->bufs_self : NULL;
		k->frames[i].nb.next = &k->frame_free->nb;
		k->frame_free = &k->frames[i];
	}
	return 0;
}

struct net_uplink *uplink_kshim_net_open(struct ev_loop *loop, struct bl_xen *x,
					 const char *name, const char *pci, char *err,
					 size_t errlen)
{
	struct kshim_info info;
	struct knet *k = calloc(1, sizeof(*k));

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->u.ops = &kn_ops;
	k->u.kind = "kshim-net";
	k->u.tx_copy_max = KNET_TX_INLINE_MAX;
	snprintf(k->u.name, sizeof(k->u.name), "%s", name);
	snprintf(k->pci, sizeof(k->pci), "%s", pci);
	k->loop = loop;
	k->xen = x;
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
		 "%#" PRIx64 "%s%s%s, RX buffers %s", name, pci, k->mac[0], k->mac[1], k->mac[2],
		 k->mac[3], k->mac[4], k->mac[5], k->q[RXQ].size, k->q[TXQ].size, k->features,
		 k->mrg ? ", mergeable RX buffers" : "", HAS(k, VIRTIO_NET_F_CSUM) ? ", TX offloads" : "",
		 HAS(k, VIRTIO_NET_F_GUEST_CSUM) ? ", RX offloads" : "",
		 k->bufs_self.addr ? "granted to ourselves" : "in plain memory (no xen-gntalloc)");
	if (k->tx_soft)
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
