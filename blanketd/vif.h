/*
 * vif.h - the virtual network interface backend: one struct vif per
 * backend/vif/<domid>/<devid> node, one struct vif_queue per queue (a TX
 * and an RX ring each), all of them ports of one switch (switch.h).
 *
 * vif.c runs the xenbus side (discovery, features, handshake, teardown);
 * vif_ring.c the TX path and the control ring; vif_rx.c the RX path;
 * sw_uplink.c puts the uplink (TAP or kshim-net) on the switch; vif_stats.c renders.
 */
#ifndef BLANKETD_VIF_H
#define BLANKETD_VIF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ev.h>

#include "config.h"
#include "netif.h"
#include "ring_watch.h"
#include "switch.h"
#include "uplink.h"
#include "xbdev.h"
#include "xen.h"
#include "xenbus.h"

#define VIF_MAX_QUEUES 64u
/* The largest frame a guest may receive: a 64 KiB GSO packet and its
 * Ethernet/VLAN header. */
#define VIF_MAX_FRAME (65535u + 18u)

enum vif_drop {
	VIF_DROP_TX_ERROR,     /* TX: the parser's ERROR verdict (answered NETIF_RSP_ERROR) */
	VIF_DROP_TX_MAP,       /* TX: a bad grant ref (answered NETIF_RSP_ERROR) */
	VIF_DROP_TX_DISABLED,  /* TX: ignored after a fatal error */
	VIF_DROP_SPOOF,        /* TX: source MAC not the vif's */
	VIF_DROP_RX_BACKLOG,   /* RX: no buffers and the backlog full */
	VIF_DROP_RX_DOWN,      /* RX: vif not connected (or disabled) */
	VIF_DROP_RX_NO_SG,     /* RX: larger than one slot, frontend without feature-sg */
	VIF_DROP_RX_NO_GSO,    /* RX: GSO type the frontend did not negotiate */
	VIF_DROP_RX_NO_CSUM,   /* RX: partial checksum, frontend without that offload */
	VIF_DROP_RX_SIZE,      /* RX: empty or larger than VIF_MAX_FRAME */
	VIF_DROP_RX_COPY,      /* RX: a grant copy segment failed */
	VIF_NR_DROPS
};
extern const char *const vif_drop_name[VIF_NR_DROPS];

struct vif_queue_stats {
	uint64_t tx_pkts, tx_bytes;      /* guest -> switch */
	uint64_t rx_pkts, rx_bytes;      /* switch -> guest */
	uint64_t drops[VIF_NR_DROPS];
	uint64_t tx_copy_calls;          /* TX batches: one header/probe copy call each */
	uint64_t tx_copy_segs;           /* their segments (one per data slot) */
	uint64_t rx_copy_segs;           /* grant copy segments placing RX data */
	uint64_t rx_copy_calls;          /* copy calls this queue's data went out in */
	uint64_t rx_bounced;             /* packets moved to dom0 memory while waiting */
	uint64_t credit_waits;           /* TX stalls on the rate limit */
	uint64_t mcast_ops;              /* multicast add/del requests */
	uint64_t events, notifies;
	uint64_t missed_events;          /* TX requests the watchdog found waiting */
};

struct vif_txp;
struct vif_rxe;

/* What a restarted daemon would need to resume a queue (state.h): the
 * rings' private indexes and the TX packets read but not yet answered
 * (the slot ids the guest waits for).  One memfd-backed mapping per
 * queue; the pointers of this process stay in struct vif_queue. */
struct vif_queue_state {
	uint32_t tx_size, rx_size;
	RING_IDX tx_cons, tx_rsp_pvt;
	RING_IDX rx_cons, rx_rsp_pvt;
	uint32_t tx_inflight;            /* packets read, not yet answered */
	bool tx_held;                    /* held waits for credit */
	struct netif_tx_pkt held;
	struct netif_tx_pkt tx_pkt[];    /* [tx_size]: the packet of txp[i] */
};

struct vif_queue {
	struct vif *vif;
	unsigned index;
	/* TX ring: the guest's packets */
	struct vif_queue_state *st;
	size_t st_len;
	int st_fd;                       /* memfd holding *st */
	void *tx_sring;
	unsigned tx_size;
	evtchn_port_t tx_port;
	struct vif_txp *txp, *txp_free;  /* [tx_size]: packets held until delivered */
	struct vif_txp **tx_batch;       /* [tx_size]: read by this kick, not yet sent */
	unsigned tx_nbatch;
	struct bl_gnt_copy_seg *tx_segs; /* [tx_size]: the batch's copy (a segment per slot) */
	struct bl_self_pages tx_hdrs;    /* [tx_size][SW_HDR_MAX]: headers land here, by grant copy */
	/* RX ring: the guest's buffers */
	void *rx_sring;
	unsigned rx_size;
	evtchn_port_t rx_port;           /* == tx_port without split event channels */
	struct vif_rxe *backlog;         /* [bl_cap] ring of packets waiting for buffers */
	unsigned bl_head, bl_len, bl_cap;
	/* credit (the backend's rate node) */
	uint64_t remaining_credit;
	double next_credit;
	ev_timer credit_timer;
	/* end of pass */
	bool tx_dirty, rx_dirty, on_list;
	bool rx_more;                    /* stopped at the per-pass batch: go on */
	struct ring_watch watch;         /* TX requests waiting unread (ring_watch.h) */
	struct vif_queue *dirty_next;
	struct vif_queue_stats stats;
};

struct vif {
	struct xbdev xb;                 /* first: identity, paths, published state */
	bool connected;
	bool disabled;                   /* fatal TX error: off until the frontend reconnects */
	bool broken;                     /* no frontend or mac node: never connects */
	uint8_t mac[SW_ETH_ALEN];
	/* negotiated with the frontend */
	bool sg, gso4, gso6, csum, ipv6_csum, mcast_ctrl, split;
	uint16_t xdp_headroom;
	uint64_t rate_bytes, rate_usec;  /* rate_usec 0: unlimited */
	struct sw_port port;
	unsigned nr_queues;
	struct vif_queue *queues;
	/* control ring */
	void *ctrl_sring;
	unsigned ctrl_size;
	RING_IDX ctrl_cons, ctrl_rsp_pvt;
	evtchn_port_t ctrl_port;
	struct netif_hash hash;
	uint64_t ctrl_reqs;
};

/* vif.c */
int vif_init(struct ev_loop *loop, struct bl_xen *xen, const struct bl_config *cfg);
void vif_xs_event(const char *path, const char *token);
void vif_evtchn_event(evtchn_port_t port);
void vif_shutdown(void);
/* The devices, in no particular order: for (v = vif_list(); v; v = vif_next(v)) */
struct vif *vif_list(void);
static inline struct vif *vif_next(const struct vif *v)
{
	return (struct vif *)v->xb.next;	/* every device on the vif class's list is a vif */
}
struct sw *vif_switch(void);
/* The frontend broke the protocol: stop serving it until it reconnects. */
void vif_fatal(struct vif *v, const char *why);

/* vif_stats.c: the vifs (list_only) or all stats, and the MAC table. */
void vif_render(FILE *f, bool json, bool list_only);
void vif_render_fdb(FILE *f, bool json);

/* vif_ring.c */
struct vif_ctx {
	struct ev_loop *loop;
	struct bl_xen *xen;
	const struct bl_config *cfg;
	struct sw *sw;
};
extern struct vif_ctx vif_ctx;

int vif_queue_open(struct vif_queue *q, struct vif *v, unsigned index,
		   grant_ref_t tx_ref, grant_ref_t rx_ref, evtchn_port_t tx_evt,
		   evtchn_port_t rx_evt);
/* Take over rings a previous blanketd served: restart after its last responses. */
void vif_queue_resume(struct vif_queue *q);
void vif_queue_close(struct vif_queue *q);
void vif_tx_kick(struct vif_queue *q);
/* Once a second: serve TX requests that waited a whole tick for an event. */
void vif_queue_watchdog(struct vif_queue *q);
void vif_mark_dirty(struct vif_queue *q);
int vif_ctrl_open(struct vif *v, grant_ref_t ref, evtchn_port_t evt);
void vif_ctrl_resume(struct vif *v);
void vif_ctrl_close(struct vif *v);
void vif_ctrl_kick(struct vif *v);
/* End of a loop pass: RX for every queue with work, then TX responses and
 * notifications.  True if anything moved. */
bool vif_flush_all(void);

/* vif_rx.c */
extern const struct sw_port_ops vif_port_ops;
/* The array p of *cap elements of elem bytes, grown (doubling) to hold
 * need; aborts when memory runs out. */
void *vif_grow(void *p, unsigned *cap, unsigned need, size_t elem);
/* Appends to (*segs)[n..] the grant copy segments that bring guest
 * fragment f to local memory at dst, split where dst crosses a page
 * (bl_gnt_copy's rule for a local end); the new count. */
unsigned vif_copy_segs(struct bl_gnt_copy_seg **segs, unsigned *cap, unsigned n,
		       const struct sw_frag *f, uint8_t *dst);
/* Place what the backlogs hold into guests' buffers (one grant copy call
 * for all queues), bounce what must wait, drop what cannot go. */
bool vif_rx_run(struct vif_queue *dirty);
int vif_rx_init(struct vif_queue *q);
/* Drop what q's backlog holds (counted as rx_down). */
void vif_rx_purge(struct vif_queue *q);
/* Move every waiting frame that still uses a guest's grant or an uplink
 * buffer into dom0 memory (before a TX ring goes away). */
void vif_rx_bounce_all(void);

/* sw_uplink.c: the uplink as a switch port. */
int sw_uplink_attach(struct sw *s, struct net_uplink *u);
void sw_uplink_detach(struct sw *s);
/* End of a loop pass: map the pass's frames for the uplink in one call
 * and send them.  True if there were any. */
bool sw_uplink_flush(void);
/* The sender takes back frames an asynchronous uplink still holds (mine()
 * says which): the uplink's reference is dropped now, so they are
 * answered and unmapped at once.  The uplink keeps its own hold on the
 * pages (kshim's registration pins them, and gntdev defers the grant
 * unmap until it is released), so the device may still read them. */
void sw_uplink_forget(bool (*mine)(struct sw_buf *b, void *arg), void *arg);
/* Whether b, a frame the uplink received, may wait in a guest's backlog
 * in the uplink's buffer (net_uplink.rx_hold_max) rather than be moved to
 * memory of its own. */
bool sw_uplink_may_hold(const struct sw_buf *b);
struct sw_port *sw_uplink_port(void);
struct net_uplink *sw_uplink(void);

#endif
