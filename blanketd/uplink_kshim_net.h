/*
 * uplink_kshim_net.h - private to the kshim-net uplink: the constants,
 * structures and functions shared by uplink_kshim_net.c (the device's
 * life), uplink_kshim_net_tx.c (TX) and uplink_kshim_net_rx.c (RX) only.
 * Not an API: the uplink's is uplink_kshim_net_open() in uplink.h.
 */
#ifndef BLANKETD_UPLINK_KSHIM_NET_H
#define BLANKETD_UPLINK_KSHIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "xen.h"
#include "kshim_chain.h"
#include "kshim_dev.h"
#include "copy_pool.h"
#include "kshim_net.h"
#include "sw_gro.h"
#include "sw_gso.h"
#include "uplink.h"
#include "uring.h"

#define RXQ 0                        /* receiveq1 */
#define TXQ 1                        /* transmitq1 */
/* Bytes per TX header slot: the virtio header, then whatever of the
 * packet is written there (sw_gso's headers, or a whole small frame).
 * 256-byte slots never cross a page, so each piece of a slot is one
 * descriptor. */
#define HDR_SLOT 256u
/* A frame this small is copied into its slot (knet_tx_async) and sent
 * from there: no registration, and its memory is free at once. */
#define KNET_TX_INLINE_MAX (HDR_SLOT - KNET_HDR_LEN)
/* The packet's headers right after the virtio header: kshim merges the two
 * into one descriptor (VERSION_1 lets a frame be laid out any way). */
#define SOFT_PKT_OFF KNET_HDR_LEN
_Static_assert(SOFT_PKT_OFF + SW_GSO_HDR_MAX <= HDR_SLOT, "header slot too small");
#define TX_BACKLOG 1024u             /* frames waiting for the device at most */
/* Software-GSO frames copied into dom0 (see uplink_kshim_net.c's top):
 * buffers of a whole frame each (netif's 64 KiB plus an Ethernet header,
 * page-rounded). */
/* Addresses for guests' pages kshim maps for the device (tx_map): a
 * reservation nothing maps, ARENA_PAGES pages, handed out by a bitmap. */
#define ARENA_PAGES 32768u
#define COPY_BUFS 32u
_Static_assert(COPY_BUFS <= COPY_POOL_MAX, "copy buffers beyond copy_pool.h's stack");

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
	bool inl;                        /* a small frame, copied into inl_data */
	uint8_t inl_data[KNET_TX_INLINE_MAX];
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
	uint8_t *arena;                  /* tx_map's addresses (PROT_NONE), or NULL */
	uint64_t arena_used[ARENA_PAGES / 64];
	unsigned arena_next;             /* where the next search starts */
	/* TX */
	uint8_t *hdrs;                   /* header slots, registered read-only */
	size_t hdrs_len;
	bool tx_soft;                    /* no CSUM/HOST_TSO4/6: sw_gso's job */
	uint32_t hdrs_region;
	struct ktx **slot;               /* [nslots]: the frame using header slot i */
	uint16_t *slot_free;             /* stack of free slot numbers */
	unsigned nslots, nslot_free;
	struct ktx *txq, **txq_tail;     /* waiting for the device */
	unsigned txq_len, tx_inflight;
	bool tx_full;                    /* ENOSPC until something completes */
	struct copy_pool copies;         /* COPY_BUFS frame buffers, registered read-only */
	size_t copies_len;
	uint32_t copies_region;
	/* RX */
	uint8_t *bufs;                   /* nbufs pages, registered writable */
	struct bl_self_pages bufs_self;  /* bufs, when they are granted to ourselves */
	struct bl_xen *xen;              /* NULL: plain memory */
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

/* Is p one of tx_map's addresses (a guest page only the device reads)? */
static inline bool knet_in_arena(const struct knet *k, const void *p)
{
	return k->arena && (const uint8_t *)p >= k->arena &&
	       (const uint8_t *)p < k->arena + (size_t)ARENA_PAGES * 4096u;
}

static inline struct knet *to_k(struct net_uplink *u)
{
	return (struct knet *)u;
}

/* uplink_kshim_net.c */
void knet_kill_device(struct knet *k, const char *why, int e);

/* uplink_kshim_net_tx.c */
void knet_tx_complete(struct knet *k, struct ktx *t, int res);
void *knet_tx_buffer(struct net_uplink *u, size_t len, const struct net_meta *m);
void knet_tx_buffer_put(struct net_uplink *u, void *buf);
int knet_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
		  const struct net_meta *m, void *cookie);
void knet_slot_put(struct knet *k, unsigned s);
struct ktx *knet_txq_pop(struct knet *k);
bool knet_run_tx(struct knet *k, unsigned round);

/* uplink_kshim_net_rx.c */
void knet_buf_put(struct knet *k, uint16_t b);
void knet_rx_release(struct net_uplink *u, struct net_uplink_buf *nb);
bool knet_run_rx(struct knet *k, unsigned round);

#endif
