/*
 * switch.h - blanketd's Ethernet switch: guests' vifs and the uplink are
 * its ports.
 *
 * A frame travels as a struct sw_buf that says where its bytes are rather
 * than holding them: each fragment is a grant of the sending guest (domid,
 * gref, offset; also mapped here, for the uplink's writev) or dom0 memory
 * (an uplink's read buffer).  A guest's receive queue places it with one
 * grant copy per piece straight from the sender's grant into its own
 * buffer, so guest -> guest traffic never passes through a dom0 buffer.
 * The buffer is reference counted: every port that queues it holds a
 * reference, and the sender learns through release() when the last one is
 * gone (a vif then answers the guest's TX slots).
 *
 * The switch itself is a learning bridge: source MACs are learnt per port
 * and age out, broadcasts and unknown unicasts are flooded, multicasts go
 * to the ports whose filter accepts them (netif's multicast control), and a
 * port may insist that frames come from its own MAC (no spoofing).
 * Decisions are made on a private copy of the frame's first bytes (hdr),
 * taken once when the buffer is built: a guest rewriting its page after
 * that cannot change where a frame goes.
 */
#ifndef BLANKETD_SWITCH_H
#define BLANKETD_SWITCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "netif.h"
#include "uplink.h"

#define SW_MAX_FRAGS NETIF_TX_MAX_OK_SLOTS
#define SW_HDR_MAX 128u           /* Ethernet + VLAN + IPv6 + extensions + TCP */
#define SW_LOCAL DOMID_SELF       /* a fragment in dom0 memory */
#define SW_ETH_ALEN 6

struct bl_self_pages;

struct sw_frag {
	const uint8_t *addr;      /* where this process sees it (NULL: not mapped) */
	uint32_t domid;           /* the granting guest, or SW_LOCAL */
	const struct bl_self_pages *self; /* SW_LOCAL in self-granted memory, or NULL */
	grant_ref_t gref;
	uint16_t offset;          /* in the granted page */
	uint32_t len;             /* <= 4096 - offset for a grant */
};

struct sw_port;

struct sw_buf {
	unsigned refs;
	void (*release)(struct sw_buf *b);  /* the last reference is gone */
	void *owner;
	struct sw_port *in;       /* where it entered */
	uint32_t len;             /* frame bytes, the fragments' sum */
	unsigned nr_frags;
	struct sw_frag frag[SW_MAX_FRAGS];
	struct net_meta meta;     /* GSO and checksum state */
	unsigned hdr_len;         /* bytes in hdr: min(len, SW_HDR_MAX) */
	uint8_t hdr[SW_HDR_MAX];  /* private copy of the frame's start */
};

static inline void sw_buf_get(struct sw_buf *b) { b->refs++; }
static inline void sw_buf_put(struct sw_buf *b)
{
	if (--b->refs == 0)
		b->release(b);
}
/* Fill hdr from the fragments' mapped addresses (the one read of them). */
void sw_buf_take_hdr(struct sw_buf *b);

struct sw_port_ops {
	/* Take the frame (sw_buf_get it if it is kept beyond the call). */
	void (*deliver)(struct sw_port *p, struct sw_buf *b);
};

struct sw_port_stats {
	uint64_t in_pkts, in_bytes;   /* frames the port sent into the switch */
	uint64_t out_pkts, out_bytes; /* frames the switch handed the port */
	uint64_t drop_spoof;          /* source MAC not the port's own */
	uint64_t drop_runt;           /* shorter than an Ethernet header */
	uint64_t flooded;             /* frames it sent that were flooded */
	uint64_t mcast_filtered;      /* multicasts its filter kept out */
};

struct sw_port {
	const struct sw_port_ops *ops;
	char name[24];
	uint8_t mac[SW_ETH_ALEN];
	bool check_src;               /* drop frames not from mac */
	/* takes TCP GSO frames with a partial checksum, IPv4 / IPv6 (a guest
	 * that negotiated GSO and the checksum offload for them) */
	bool gso4, gso6;
	bool mcast_filter;            /* only multicasts in mcast[] (and broadcast) */
	unsigned nr_mcast;
	uint8_t mcast[NETIF_MCAST_MAX][SW_ETH_ALEN];
	struct sw_port_stats stats;
	struct sw_port *next;
	struct sw *sw;
};

struct sw_fdb_entry {
	uint8_t mac[SW_ETH_ALEN];
	bool used;
	struct sw_port *port;
	double seen;
	int32_t next;                 /* hash chain, or free list */
};

struct sw {
	struct sw_port *ports;
	struct sw_fdb_entry *fdb;
	int32_t *bucket, free;
	unsigned fdb_size, nbuckets, fdb_count;
	double ageing, now;
	uint64_t learned, moved, evicted, aged;
};

struct sw *sw_create(unsigned fdb_size, double ageing_s);
void sw_destroy(struct sw *s);
void sw_port_add(struct sw *s, struct sw_port *p);
/* Remove the port and forget the MACs learnt on it. */
void sw_port_del(struct sw *s, struct sw_port *p);
/* The switch's clock (seconds, monotonic): the caller keeps it current. */
static inline void sw_set_now(struct sw *s, double now) { s->now = now; }
/* Forward a frame that entered through port in (hdr already taken).  The
 * caller keeps its own reference and drops it afterwards. */
void sw_input(struct sw *s, struct sw_port *in, struct sw_buf *b);
/* The port a MAC was learnt on (and has not aged out), or NULL. */
struct sw_port *sw_fdb_lookup(struct sw *s, const uint8_t *mac);
/* Forget entries older than the ageing time. */
void sw_age(struct sw *s);
/* The MAC table, as text or JSON. */
void sw_fdb_render(struct sw *s, FILE *f, bool json);

/* netif multicast control: 0, or -1 when the filter is full. */
int sw_mcast_add(struct sw_port *p, const uint8_t *mac);
void sw_mcast_del(struct sw_port *p, const uint8_t *mac);

static inline bool sw_mac_is_multicast(const uint8_t *mac) { return mac[0] & 1; }
bool sw_mac_parse(const char *s, uint8_t *mac);

/* ---- sw_parse.c: what a frame's headers say, from the private copy ------------ */

struct sw_l34 {
	uint16_t ethertype;       /* after a VLAN tag, if any */
	uint16_t l3_off;          /* 0: not IPv4/IPv6 */
	bool ipv6;
	bool fragment;            /* an IP fragment (no L4 header to trust) */
	uint8_t l4_proto;         /* IPPROTO_TCP/UDP/..., 0 if unknown */
	uint16_t l4_off;          /* 0: not found within hdr */
	uint16_t l4_hdr_len;      /* TCP: doff * 4; UDP: 8 */
};
/* Parse Ethernet (one VLAN tag), IPv4/IPv6 (with extension headers) and
 * the L4 header's position.  Only what lies within len is used. */
void sw_parse(const uint8_t *hdr, unsigned len, struct sw_l34 *out);
/* Partial checksum offsets for a csum_blank TCP/UDP frame (netback's
 * skb_checksum_setup): 0, or -1 when the frame has no such header. */
int sw_csum_offsets(const struct sw_l34 *l, uint16_t *start, uint16_t *offset);
/* The offload state an uplink's virtio_net_hdr needs for a frame whose
 * m says csum_blank or GSO, from the first len bytes of the frame: its
 * checksum offsets and header length set in m.  0 (also for a frame with
 * neither offload, m untouched), or -1 when there is no TCP/UDP header to
 * set a partial checksum up for (netback drops such a frame). */
int sw_offload_meta(const uint8_t *hdr, unsigned len, struct net_meta *m);
/* The flow for netif's Toeplitz hash; false if not IPv4/IPv6. */
bool sw_flow(const uint8_t *hdr, unsigned len, const struct sw_l34 *l, struct netif_flow *f);

#endif
