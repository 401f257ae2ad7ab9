/*
 * kshim_net.h - the part of the kshim-net uplink that needs no kernel:
 * the virtio-net header both ways, where a TX frame's bytes are for kshim
 * (its segments), and how the device's receive buffers make frames.
 *
 * Header.  With VIRTIO_F_VERSION_1 every frame carries a 12-byte
 * little-endian virtio_net_hdr_v1 (num_buffers always present); its first
 * 10 bytes are the TAP's vnet header, so vnet_hdr.c translates both.  A TX
 * frame whose offload the device did not negotiate cannot be sent as is
 * (its checksum field is in the guest's read-only page): knet_tx_hdr
 * refuses it, and uplink_kshim_net_tx.c does the offload in software
 * instead (sw_gso.h: header copies, the payload still the guest's pages).
 *
 * Receive buffers.  The RX pool is page-sized buffers (one descriptor
 * each).  With VIRTIO_NET_F_MRG_RXBUF a frame of up to 64 KiB (GUEST_TSO)
 * spans num_buffers of them, header first; without it a frame is one
 * buffer (and GUEST_TSO is not taken, so frames stay <= 1518 bytes).
 */
#ifndef BLANKETD_KSHIM_NET_H
#define BLANKETD_KSHIM_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "kshim_chain.h"
#include "uplink.h"

#define KNET_HDR_LEN 12u                 /* sizeof(struct virtio_net_hdr_v1) */
#define KNET_BUF 4096u                   /* one receive buffer: a page */
#define KNET_TX_MAX_IOV 19u              /* a netif packet's slots at most */
#define KNET_TX_MAX_SEGS (2u * KNET_TX_MAX_IOV) /* data segments of one frame */
#define KNET_TX_MAX_SPANS KNET_TX_MAX_IOV /* page runs registered per frame */

/* The header for a TX frame, given the negotiated features: 0, or
 * -EOPNOTSUPP when the device cannot take its offload (csum_blank without
 * VIRTIO_NET_F_CSUM, TSO without HOST_TSO4/6): sw_gso's job then. */
int knet_tx_hdr(const struct net_meta *m, uint64_t features, struct virtio_net_hdr_v1 *h);
/* A received frame's offload state: 0, or -1 (what netif cannot carry). */
int knet_rx_meta(const struct virtio_net_hdr_v1 *h, struct net_meta *m);

/* Guest memory registered for one frame only: [addr, addr + len) is
 * region `region` from its start. */
struct knet_span {
	uintptr_t addr;
	size_t len;
	uint32_t region;
};

/* The page runs of iov that no long-lived registration (m) covers: what
 * must be registered for this frame, neighbouring pages merged into one
 * run.  The number of spans (region unset), or -E2BIG beyond max. */
int knet_tx_spans(const struct kmap *m, const struct iovec *iov, unsigned n,
		  struct knet_span *spans, unsigned max);
/* The frame's data as kshim segments (device-readable), each page found in
 * spans or in m; contiguous pieces of a region share one segment.  The
 * number of segments, or -ENOENT (a page in neither), -E2BIG (beyond max). */
int knet_tx_segs(const struct kmap *m, const struct knet_span *spans, unsigned nspans,
		 const struct iovec *iov, unsigned n, struct kshim_seg *segs, unsigned max);

/* A frame being put together from the device's completed buffers. */
struct knet_rxframe {
	unsigned nbufs;                  /* buffers taken so far */
	unsigned want;                   /* num_buffers */
	uint16_t buf[NET_UPLINK_MAX_FRAGS];
	unsigned nfrags;
	struct iovec frag[NET_UPLINK_MAX_FRAGS];
	size_t len;                      /* frame bytes (headers excluded) */
	struct virtio_net_hdr_v1 hdr;
};

enum knet_rx_verdict {
	KNET_RX_MORE,                    /* the frame goes on in the next buffer */
	KNET_RX_FRAME,                   /* f holds a whole frame */
	KNET_RX_BAD,                     /* drop f's buffers (a device bug) */
};

/* Buffer buf (its bytes at data, len written by the device) is the next
 * of the frame in f (empty: nbufs == 0).  After FRAME or BAD the caller
 * takes f->buf[0 .. nbufs) and empties f. */
enum knet_rx_verdict knet_rx_add(struct knet_rxframe *f, bool mrg, uint16_t buf,
				 uint8_t *data, uint32_t len);

#endif
