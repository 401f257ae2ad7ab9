/*
 * uplink.h - the contract between a vbd and what stores its data.
 *
 * A vbd turns each guest request into uplink_io operations and submits them;
 * the uplink calls io->done() once per operation, from the event loop.  Two
 * uplinks implement it: uplink_file.c (a raw image or block device through
 * io_uring) and uplink_kshim.c (an L0 virtio-blk device through the kshim
 * module, the guest's pages handed to the device's DMA).
 *
 * Memory: READ/WRITE iovecs point at guest pages mapped in this process.
 * An uplink that can only reach memory registered with it beforehand
 * (kshim pins and DMA-maps it) has mem_register/mem_unregister; the vbd
 * calls them for mappings that outlive a request (persistent grants), so
 * the steady state registers nothing.  Memory never registered is still
 * served: such an uplink registers it for the operation and releases it on
 * completion (counted in stats.registrations).
 */
#ifndef BLANKETD_UPLINK_H
#define BLANKETD_UPLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "config.h"

enum uplink_op { UPLINK_READ, UPLINK_WRITE, UPLINK_FLUSH, UPLINK_DISCARD };

struct uplink_io {
	enum uplink_op op;
	bool ordered;            /* start only after everything submitted before completes */
	uint64_t offset, len;    /* bytes; len of READ/WRITE is the iovecs' sum */
	const struct iovec *iov; /* READ/WRITE: guest memory, used in place */
	unsigned iovcnt;
	/* res: bytes transferred (READ/WRITE), 0, or -errno. */
	void (*done)(struct uplink_io *io, int res);
};

struct uplink_stats {
	uint64_t ops, errors;
	uint64_t copies;         /* data copies made by the uplink (0: zero-copy) */
	uint64_t registrations;  /* per-operation memory registrations (transient mappings) */
	uint64_t mem_regions;    /* long-lived registrations held now (mem_register) */
	uint64_t device_reqs;    /* device requests (an op split by device limits makes several) */
	uint64_t kicks;          /* submission calls into the kernel */
};

struct uplink {
	const struct uplink_ops *ops;
	const char *kind;        /* "file", "blockdev", "kshim" */
	uint64_t size;           /* bytes */
	unsigned sector_size, physical_sector_size;
	bool readonly, can_discard, direct;
	struct uplink_stats stats;
};

struct uplink_ops {
	/* Queue io; completion comes through io->done().  Non-zero: not queued. */
	int (*submit)(struct uplink *u, struct uplink_io *io);
	void (*close)(struct uplink *u);
	/* Optional (NULL: any memory of the process will do).  Register the
	 * page-aligned [addr, addr + len) for I/O until mem_unregister, which
	 * is only called with no operation in flight on it.  writable: the
	 * device may write into it (READ data).  Non-zero: not registered
	 * (operations on it are then registered one by one). */
	int (*mem_register)(struct uplink *u, void *addr, size_t len, bool writable);
	void (*mem_unregister)(struct uplink *u, void *addr, size_t len);
};

static inline int uplink_submit(struct uplink *u, struct uplink_io *io)
{
	u->stats.ops++;
	return u->ops->submit(u, io);
}

/* Open a raw image file or block device; NULL with a one-line reason in err. */
struct uplink *uplink_file_open(const char *path, bool readonly, bool direct,
				char *err, size_t errlen);

/* Open the L0 virtio-blk device at PCI address pci (0000:00:05.0) through
 * kshim, binding it to kshim first if needed; name is its blanket.conf name,
 * for messages.  NULL with a one-line reason in err. */
struct uplink *uplink_kshim_open(const char *name, const char *pci, bool readonly,
				 char *err, size_t errlen);
/* Bind the device to kshim now (blanketd's start): 0, or -1 with a reason. */
int uplink_kshim_bind(const char *pci, char *err, size_t errlen);

/* ---- network ------------------------------------------------------------------
 *
 * The vif switch's way out of dom0.  TX hands the uplink one Ethernet frame
 * as iovecs (a guest's granted pages mapped here, used in place) plus its
 * offload metadata, in virtio_net_hdr terms, with tx_async(): the uplink
 * queues it (TAP: a writev on the io_uring, submitted at the end of the
 * pass; kshim: the L0 NIC DMAs from the pages later); the pages stay mapped
 * until the uplink calls the owner's tx_done(cookie), once per frame it
 * accepted (0 returned), whatever became of it.  RX goes the other way:
 * the uplink reads frames into buffers of its own bounded pool and calls
 * rx() once per frame; whoever rx() hands it to calls rx_release() when
 * the last copy into a guest is done, which returns the buffer to the pool.
 */
struct net_meta {
	uint8_t gso_type;        /* XEN_NETIF_GSO_TYPE_NONE/TCPV4/TCPV6 */
	uint16_t gso_size;       /* MSS when gso_type != NONE */
	bool csum_blank;         /* L4 checksum to be filled in (partial) */
	bool data_validated;     /* checksum known good */
	uint16_t csum_start;     /* csum_blank: where the L4 header starts */
	uint16_t csum_offset;    /* csum_blank: checksum field, from csum_start */
	uint16_t hdr_len;        /* GSO: bytes of headers */
};

struct net_uplink;

/* A copy buffer's pages (tx_buffer): one per fragment of a netif packet. */
#define NET_UPLINK_COPY_PAGES 19

/* A frame spread over more than one buffer (a virtio-net device's
 * mergeable page-sized buffers): at most this many pieces. */
#define NET_UPLINK_MAX_FRAGS 19

struct bl_self_pages;

struct net_uplink_buf {
	void *data;              /* the frame, when nr_frags == 0 */
	size_t len;              /* the frame's bytes (in either form) */
	unsigned nr_frags;       /* 0: data; else the frame is frag[0 .. nr_frags) */
	struct iovec *frag;      /* each piece within one page */
	struct net_meta meta;
	/* The memory data/frag lie in, when it is granted to ourselves
	 * (libblanket's bl_self_pages): grant copies into guests then name it
	 * by grant and gntdev pins nothing.  NULL: plain memory. */
	const struct bl_self_pages *self;
	struct net_uplink_buf *next; /* the pool's free list */
};

struct net_uplink_stats {
	uint64_t tx_pkts, tx_bytes, tx_errors;  /* frames written; failed writes */
	uint64_t rx_pkts, rx_bytes, rx_errors;  /* frames read; bad headers */
	uint64_t rx_pool_empty;  /* times reading paused for want of buffers */
	/* received TCP segments coalesced in software (sw_gro.h): frames of
	 * more than one segment handed on, and the segments in them */
	uint64_t rx_gro_frames, rx_gro_segs;
	/* the switch side: guests' TX pages mapped for this uplink */
	uint64_t tx_maps, tx_map_pages; /* map calls (one per loop pass), pages */
	uint64_t tx_uplink_maps;        /* of those calls, the uplink's own (tx_map) */
	/* kshim-net: the costs of the data path */
	uint64_t copies;         /* frame bytes copied by the uplink (0: zero-copy) */
	uint64_t registrations;  /* per-frame memory registrations (TX pages) */
	uint64_t mem_regions;    /* long-lived registrations held now (mem_register) */
	uint64_t kicks;          /* submission calls into the kernel */
	/* the device's interrupts that woke us (a queue's eventfd read), by
	 * queue: each is a wake-up and a KICK, syscalls through Xen */
	uint64_t irqs_tx, irqs_rx;
	uint64_t tx_inflight;    /* frames accepted by tx_async, not yet done */
};

struct net_uplink_ops {
	/* Queue one frame; 0 (tx_done follows), or -errno (dropped, no tx_done). */
	int (*tx_async)(struct net_uplink *u, const struct iovec *iov, unsigned iovcnt,
			const struct net_meta *m, void *cookie);
	void (*rx_release)(struct net_uplink *u, struct net_uplink_buf *b);
	void (*close)(struct net_uplink *u);
	/* Optional: a buffer of the uplink's own (NET_UPLINK_COPY_PAGES pages,
	 * page-aligned) for a frame of len bytes with offloads m, when the
	 * uplink would rather take that frame as a copy (it must read or
	 * rewrite all of it anyway, e.g. segment it in software); NULL to take
	 * it from the guest's pages.  The owner copies fragment i into page i,
	 * at the fragment's own offset in its page (so each is one grant copy
	 * segment), and passes those pieces to tx_async, or hands the buffer
	 * back with tx_buffer_put. */
	void *(*tx_buffer)(struct net_uplink *u, size_t len, const struct net_meta *m);
	void (*tx_buffer_put)(struct net_uplink *u, void *buf);
	/* Optional, as uplink_ops': memory that outlives a frame (persistent
	 * TX mappings), registered once instead of per frame. */
	int (*mem_register)(struct net_uplink *u, void *addr, size_t len);
	void (*mem_unregister)(struct net_uplink *u, void *addr, size_t len);
	/* Optional: map n guest pages (page i granted by domids[i] as refs[i])
	 * for the uplink's own use, instead of the owner mapping and
	 * registering them (kshim: for the device's DMA only, no CPU mapping).
	 * The result names n pages for the frames' iovecs (page i at i * 4096),
	 * which nothing may read or write: only frames the uplink sends as
	 * they are go there.  NULL (errno) if the uplink cannot now or a grant
	 * was refused: the owner maps them itself.  tx_unmap, once the uplink
	 * is done with every frame in it. */
	void *(*tx_map)(struct net_uplink *u, unsigned n, const uint32_t *domids,
			const uint32_t *refs);
	void (*tx_unmap)(struct net_uplink *u, void *addr, unsigned n);
};

struct net_uplink {
	const struct net_uplink_ops *ops;
	const char *kind;        /* "tap", "kshim-net" */
	const char *engine;      /* what moves the frames, if not us: "vhost-net"; NULL */
	char name[32];           /* the interface, or the [kshim] name */
	/* Set by the owner before the loop runs: a frame arrived; a frame
	 * given to tx_async is done with (res: 0 sent, or -errno). */
	void (*rx)(struct net_uplink *u, struct net_uplink_buf *b);
	void (*tx_done)(struct net_uplink *u, void *cookie, int res);
	/* Optional: whether the port that MAC dst belongs to takes TCP GSO
	 * frames with a partial checksum (IPv4, or IPv6 if ipv6).  An uplink
	 * that coalesces received segments asks before it does. */
	bool (*rx_gso_ok)(struct net_uplink *u, const uint8_t *dst, bool ipv6);
	/* An uplink with mem_register reads only registered memory, except
	 * frames of at most tx_copy_max bytes: those it copies during
	 * tx_async, so they may come from anywhere (the owner's copy of a TCP
	 * ACK, with no grant mapped or registered for it).  0: none. */
	size_t tx_copy_max;
	/* Set by the uplink: how many received frames may stay in its buffers
	 * while they wait for guests' RX buffers (0: none, each waiting frame
	 * is copied out so the buffer goes back at once).  rx_out: frames
	 * handed to rx() and not yet released, kept by the owner. */
	unsigned rx_hold_max;
	unsigned rx_out;
	void *owner;
	struct net_uplink_stats stats;
};

struct ev_loop;
/* Open (creating if needed) TAP interface ifname with IFF_VNET_HDR and
 * checksum/TSO offloads, and bring it up; its frames through vhost-net
 * (vhost_net.h) as vhost says.  NULL with a one-line reason. */
struct bl_xen;
/* x (may be NULL): where receive buffers get self-granted memory from. */
struct net_uplink *uplink_tap_open(struct ev_loop *loop, struct bl_xen *x, const char *ifname,
				   enum bl_vhost vhost, char *err, size_t errlen);
/* Open the L0 virtio-net device at PCI address pci through kshim (binding
 * it first; refused while dom0's own interface on it is up); name is its
 * blanket.conf name.  NULL with a one-line reason. */
struct net_uplink *uplink_kshim_net_open(struct ev_loop *loop, struct bl_xen *x,
					 const char *name, const char *pci, char *err,
					 size_t errlen);

#endif
