/*
 * netif.h - the Xen PV network protocol as blanketd sees it.
 *
 * A frontend's rings are shared memory it may rewrite at any time.  Every
 * request is therefore copied out of the ring exactly once, into a
 * normalised struct, and validated on that private copy; nothing is read
 * from the shared slot again afterwards.  The rules are Linux xen-netback's
 * (netback.c: xenvif_tx_build_gops, xenvif_get_extras, xenvif_count_requests,
 * xenvif_set_skb_gso; hash.c and process_ctrl_request for the control ring),
 * so that a frontend sees the same verdicts from us as from the kernel.
 *
 * Three rings (see /usr/include/xen/io/netif.h and ring.h):
 *   TX   guest -> backend packets: 12-byte slots, responses written at
 *        rsp_prod_pvt (not necessarily the request's slot);
 *   RX   backend -> guest: the guest posts 8-byte buffer requests, each
 *        answered in the same slot (netfront relies on it);
 *   ctrl hash configuration: 16-byte requests, 12-byte responses.
 *
 * Unlike blkif, netif has a single layout: every field is 8, 16 or 32 bits
 * wide, so x86_32 and x86_64 frontends lay the rings out identically
 * (netif.c proves it with _Static_asserts) and there is no "protocol" to
 * negotiate.
 */
#ifndef BLANKET_NETIF_H
#define BLANKET_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/netif.h>
#include <xen/io/ring.h>

#define NETIF_PAGE_SIZE 4096u
#define NETIF_ETH_HLEN 14u   /* a TX packet's first slot must hold at least this */

/*
 * TX slot limits (netback's XEN_NETBK_LEGACY_SLOTS_MAX and the default of
 * its fatal_skb_slots parameter).  They count the slots that follow the
 * first one (extra-info slots not included):
 *   up to 18 more slots                   accepted;
 *   19 or 20 more slots                   dropped: NETIF_RSP_ERROR on every slot;
 *   21 or more                            fatal: the frontend is malicious.
 */
#define NETIF_TX_LEGACY_SLOTS_MAX XEN_NETIF_NR_SLOTS_MIN /* 18 */
#define NETIF_TX_FATAL_SLOTS 20u
/* Data slots (first included) a packet can have without being fatal. */
#define NETIF_TX_MAX_SLOTS (1u + NETIF_TX_FATAL_SLOTS)
/* Data slots (first included) of an accepted packet. */
#define NETIF_TX_MAX_OK_SLOTS (1u + NETIF_TX_LEGACY_SLOTS_MAX)

/*
 * Extra-info types.  Xen's netif.h stops at HASH (MAX 5); Linux added XDP
 * (5, MAX 6) and its netback accepts, and ignores, an XDP extra on TX.  We
 * do the same, so only 0 and types >= 6 are fatal.
 */
#define NETIF_EXTRA_TYPE_XDP 5
#define NETIF_EXTRA_TYPE_MAX 6

/* Multicast filter entries netback keeps per vif (XEN_NETBK_MCAST_MAX). */
#define NETIF_MCAST_MAX 64u

/* Hash limits netback implements (XEN_NETBK_MAX_HASH_KEY_SIZE,
 * XEN_NETBK_MAX_HASH_MAPPING_SIZE). */
#define NETIF_HASH_KEY_SIZE 40u
#define NETIF_HASH_MAPPING_SIZE 128u
#define NETIF_HASH_TYPES_ALL                                                  \
	(XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |  \
	 XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

/* ---- rings ---------------------------------------------------------------- */

/* Entries of a ring spanning nr_pages shared pages (a power of two; 0 if
 * not even one entry fits).  netback maps one page for each: 256 TX,
 * 256 RX, 128 ctrl entries. */
unsigned netif_tx_ring_size(unsigned nr_pages);
unsigned netif_rx_ring_size(unsigned nr_pages);
unsigned netif_ctrl_ring_size(unsigned nr_pages);

/*
 * Requests the frontend has produced and we have not consumed, given its
 * req_prod (read once, before a read barrier), our req_cons and our
 * rsp_prod_pvt.  Returns -1 when prod is impossible: more than a ring's
 * worth ahead of cons (netback's "Impossible number of requests") or of
 * rsp_prod_pvt (ring.h's RING_REQUEST_PROD_OVERFLOW: the frontend would be
 * overwriting requests not yet answered).  A well-behaved frontend never
 * trips either; for the TX ring it is fatal.
 */
int netif_ring_unconsumed(RING_IDX prod, RING_IDX cons, RING_IDX rsp_prod_pvt,
			  unsigned ring_size);

/* ---- extra info -------------------------------------------------------------- */

/* An extra-info slot, decoded.  Multi-byte fields are host order, as on
 * the ring. */
struct netif_extra {
	uint8_t type;   /* XEN_NETIF_EXTRA_TYPE_* / NETIF_EXTRA_TYPE_XDP */
	uint8_t flags;  /* XEN_NETIF_EXTRA_FLAG_MORE */
	union {
		struct {
			uint16_t size;      /* MSS */
			uint8_t type;       /* XEN_NETIF_GSO_TYPE_* */
			uint16_t features;
		} gso;
		struct {
			uint8_t addr[6];
		} mcast;
		struct {
			uint8_t type;       /* _XEN_NETIF_CTRL_HASH_TYPE_* (bit number) */
			uint8_t alg;        /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
			uint32_t value;
		} hash;
		struct {
			uint16_t headroom;
		} xdp;
	} u;
};

/* ---- TX: guest -> backend ------------------------------------------------------ */

enum netif_tx_verdict {
	NETIF_TX_OK = 0, /* go ahead (see pkt->kind) */
	NETIF_TX_EMPTY,  /* nothing to consume: cons == prod */
	NETIF_TX_ERROR,  /* drop it: answer NETIF_RSP_ERROR on all pkt->consumed slots
			    (netif_tx_respond), then carry on with the next packet */
	NETIF_TX_FATAL,  /* malicious frontend: stop serving this vif's TX (netback
			    disables the vif until it is created again) */
};

/* Which rule decided an ERROR or FATAL verdict: for the log. */
enum netif_tx_reason {
	NETIF_TX_R_NONE = 0,
	/* fatal */
	NETIF_TX_R_RING_OVERFLOW,     /* prod impossible (netif_ring_unconsumed) */
	NETIF_TX_R_EXTRA_MISSING,     /* extra-info chain runs past the producer */
	NETIF_TX_R_EXTRA_TYPE,        /* extra-info type 0 or unknown */
	NETIF_TX_R_SLOTS_MISSING,     /* more_data chain runs past the producer */
	NETIF_TX_R_SLOTS_FATAL,       /* more than NETIF_TX_FATAL_SLOTS further slots */
	NETIF_TX_R_SLOT_CROSSES_PAGE, /* a further slot's offset + size > 4096 */
	NETIF_TX_R_FIRST_CROSSES_PAGE,/* the first slot's offset + own size > 4096 */
	NETIF_TX_R_GSO_SIZE,          /* GSO extra with size 0 */
	NETIF_TX_R_GSO_TYPE,          /* GSO extra neither TCPv4 nor TCPv6 */
	/* error */
	NETIF_TX_R_SLOTS_TOO_MANY,    /* 19 or 20 further slots */
	NETIF_TX_R_SLOT_TOO_BIG,      /* a slot larger than what the first size leaves
					 (also how a packet over 64 KiB shows) */
	NETIF_TX_R_RUNT,              /* first slot's own size < 14 */
};
const char *netif_tx_reason_str(enum netif_tx_reason r);

enum netif_tx_kind {
	NETIF_TX_DATA = 0,   /* a packet to transmit */
	NETIF_TX_MCAST_ADD,  /* only add extra[MCAST_ADD].u.mcast.addr to the filter;
				answer OKAY, or ERROR if NETIF_MCAST_MAX are in use */
	NETIF_TX_MCAST_DEL,  /* only remove extra[MCAST_DEL].u.mcast.addr; answer OKAY */
};

/* One data slot of a TX packet. */
struct netif_tx_slot {
	grant_ref_t gref;
	uint16_t offset;
	uint16_t size;   /* bytes in this slot; for slot 0 its own share, i.e. the
			    first request's size minus the others' (NETIF_TX_DATA) */
	uint16_t flags;  /* NETTXF_* as sent */
	uint16_t id;     /* to echo in the response */
};

/*
 * A TX packet after copy-out (everything that was read) and validation.
 * On NETIF_TX_OK with kind NETIF_TX_DATA:
 *   1 <= nr_slots <= NETIF_TX_MAX_OK_SLOTS, the slot sizes sum to len,
 *   slot[0].size >= NETIF_ETH_HLEN, offset + size <= 4096 in every slot,
 *   a GSO extra (if any) is TCPv4/TCPv6 with a non-zero size.
 * On NETIF_TX_ERROR: slot[0..nr_slots) hold the ids to answer.
 * Extras are passed on as sent, with no check beyond their type: netback
 * uses a HASH extra's value only for hash types 0-3 (_XEN_NETIF_CTRL_HASH_
 * TYPE_IPV4/IPV6: an L3 hash, *_TCP: L4) and ignores it otherwise.
 */
struct netif_tx_pkt {
	enum netif_tx_kind kind;
	enum netif_tx_reason reason;  /* NETIF_TX_R_NONE on OK */
	unsigned consumed;            /* ring slots consumed: nr_slots + nr_extras */
	unsigned nr_slots;            /* data slots, first included */
	unsigned nr_extras;           /* extra-info slots (answered NETIF_RSP_NULL) */
	uint16_t len;                 /* packet length: the first request's size */
	bool csum_blank;              /* NETTXF_csum_blank: checksum to fill in */
	bool data_validated;          /* NETTXF_data_validated */
	unsigned extra_mask;          /* bit t: an extra of type t was given */
	struct netif_extra extra[NETIF_EXTRA_TYPE_MAX]; /* by type; the last of a type wins */
	struct netif_tx_slot slot[NETIF_TX_MAX_SLOTS];
};

static inline bool netif_tx_has_extra(const struct netif_tx_pkt *pkt, unsigned type)
{
	return type < NETIF_EXTRA_TYPE_MAX && (pkt->extra_mask & (1u << type));
}

/*
 * Copy the packet that starts at free-running index cons out of the shared
 * TX ring (sring: the struct netif_tx_sring header) and validate it.  prod
 * is the frontend's req_prod (read once by the caller, followed by a read
 * barrier), rsp_prod_pvt our private response producer.  Reads only the
 * slots in [cons, prod), each at most once.  The caller then advances its
 * req_cons by pkt->consumed (meaningless on FATAL).
 */
enum netif_tx_verdict netif_tx_copy_packet(const void *sring, unsigned ring_size,
					   RING_IDX cons, RING_IDX prod,
					   RING_IDX rsp_prod_pvt,
					   struct netif_tx_pkt *pkt);

/* Write one TX response (id, status) at free-running index idx. */
void netif_tx_rsp(void *sring, unsigned ring_size, RING_IDX idx, uint16_t id,
		  int16_t status);

/*
 * Answer a whole packet as netback does, from index idx on: the first slot
 * with status, one NETIF_RSP_NULL per extra-info slot, then every further
 * slot with status.  Returns the number of responses written
 * (pkt->consumed).
 */
unsigned netif_tx_respond(void *sring, unsigned ring_size, RING_IDX idx,
			  const struct netif_tx_pkt *pkt, int16_t status);

/* ---- RX: backend -> guest ---------------------------------------------------------- */

struct netif_rx_req {
	uint16_t id;
	grant_ref_t gref;
};

/* Copy the buffer the guest posted at free-running index idx (read once). */
void netif_rx_copy_request(const void *sring, unsigned ring_size, RING_IDX idx,
			   struct netif_rx_req *req);

/* Write an RX response at idx, which must be the request's own slot.
 * status: bytes placed in the slot (>= 0) or NETIF_RSP_*. */
void netif_rx_rsp(void *sring, unsigned ring_size, RING_IDX idx, uint16_t id,
		  uint16_t offset, uint16_t flags, int16_t status);

/* Write an extra-info slot (e.g. GSO, hash, XDP headroom) in place of an RX
 * response at idx; set XEN_NETIF_EXTRA_FLAG_MORE in e->flags if another
 * follows. */
void netif_rx_put_extra(void *sring, unsigned ring_size, RING_IDX idx,
			const struct netif_extra *e);

/* ---- control ring and hashing ---------------------------------------------------------- */

/* A vif's hash configuration (netback's struct xenvif_hash). */
struct netif_hash {
	uint32_t alg;     /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags;   /* XEN_NETIF_CTRL_HASH_TYPE_* bits */
	uint32_t size;    /* mapping entries in use, <= NETIF_HASH_MAPPING_SIZE */
	uint8_t key[NETIF_HASH_KEY_SIZE];
	uint32_t mapping[NETIF_HASH_MAPPING_SIZE];
};

/* What the caller must do with a control request. */
enum netif_ctrl_action {
	NETIF_CTRL_ANSWER = 0,   /* answer now with the returned status (and
				    req->rsp_data if it is SUCCESS) */
	NETIF_CTRL_APPLY,        /* call netif_hash_apply(h, req, NULL, 0, ...) */
	NETIF_CTRL_COPY_KEY,     /* grant-copy req->len bytes from req->gref, offset 0,
				    then netif_hash_apply() with them */
	NETIF_CTRL_COPY_MAPPING, /* grant-copy req->len * 4 bytes from req->gref,
				    offset 0, then netif_hash_apply() with them */
};
/* A failed grant copy is answered XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER,
 * as netback does. */

struct netif_ctrl_req {
	uint16_t id;      /* echo in the response */
	uint16_t type;    /* echo in the response */
	uint32_t data[3]; /* as sent */
	enum netif_ctrl_action action;
	uint32_t rsp_data;  /* response data on SUCCESS (GET_* requests) */
	uint32_t value;     /* SET_HASH_ALGORITHM: alg; SET_HASH_FLAGS: flags;
			       SET_HASH_MAPPING_SIZE: size */
	grant_ref_t gref;   /* SET_HASH_KEY, SET_HASH_MAPPING */
	uint32_t len;       /* key bytes, or mapping entries */
	uint32_t off;       /* SET_HASH_MAPPING: first entry */
};

/*
 * Copy the control request at free-running index idx out of the ring
 * (sring: struct xen_netif_ctrl_sring) once, and validate it against the
 * vif's current hash state h.  Returns a XEN_NETIF_CTRL_STATUS_*: the
 * answer when req->action is NETIF_CTRL_ANSWER, else SUCCESS.
 */
uint32_t netif_ctrl_copy_request(const void *sring, unsigned ring_size, RING_IDX idx,
				 const struct netif_hash *h, struct netif_ctrl_req *req);

/*
 * Carry out a SET_* request that netif_ctrl_copy_request() passed with an
 * action other than NETIF_CTRL_ANSWER (for those it changes nothing and
 * returns INVALID_PARAMETER).  data/len are the bytes the
 * caller grant-copied (NETIF_CTRL_COPY_*; read once here), else NULL/0.
 * A mapping is taken whole or not at all: every entry must name one of
 * num_queues queues.  Returns the XEN_NETIF_CTRL_STATUS_* to answer.
 */
uint32_t netif_hash_apply(struct netif_hash *h, const struct netif_ctrl_req *req,
			  const void *data, size_t len, unsigned num_queues);

/* Write a control response at free-running index idx. */
void netif_ctrl_rsp(void *sring, unsigned ring_size, RING_IDX idx, uint16_t id,
		    uint16_t type, uint32_t status, uint32_t data);

/*
 * The Toeplitz hash of netif.h: for each bit of buf, most significant bit
 * of buf[0] first, set in buf, XOR in the 32 key bits starting at that bit
 * position.  Key bytes past keylen count as zero.
 */
uint32_t netif_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *buf, size_t len);

/* A flow, as the packet headers give it (addresses and ports in network
 * order). */
struct netif_flow {
	bool ipv6;
	bool tcp;            /* TCP, and not a fragment */
	uint8_t saddr[16];   /* IPv4: the first 4 bytes */
	uint8_t daddr[16];
	uint8_t sport[2], dport[2];
};

/*
 * The hash netback computes for a packet (xenvif_set_skb_hash): the most
 * specific type h->flags enables for the flow, over the netif.h buffer
 * (src addr, dst addr[, src port, dst port]) with h->key.  Returns the
 * _XEN_NETIF_CTRL_HASH_TYPE_* used, or -1 for none (hashing off or no type
 * enabled for the flow); *value is then 0.
 */
int netif_hash_flow(const struct netif_hash *h, const struct netif_flow *f, uint32_t *value);

/* The queue a hash selects: mapping[hash % size], or hash % num_queues
 * without a mapping. */
unsigned netif_hash_queue(const struct netif_hash *h, uint32_t hash, unsigned num_queues);

#endif
