/*
 * netif.c - copy netif requests (TX packets, RX buffers, control requests)
 * out of the shared rings once, normalise and validate them; write
 * responses; the Toeplitz hash.  The rules follow Linux xen-netback
 * (netback.c, hash.c); see netif.h.
 */
#include "netif.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

/*
 * After copying from shared memory, tell the compiler that memory may have
 * changed, so that it cannot drop the private copy and load fields from the
 * ring again (a double fetch).  After the barrier every use is of the copy.
 */
#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

/*
 * One layout for every ABI.  The netif structs hold only 8-, 16- and 32-bit
 * fields, each naturally aligned, so i386 (where only 64-bit types are less
 * aligned) and x86_64 lay them out alike: unlike blkif there is no
 * x86_32-abi/x86_64-abi variant.  The sizes and offsets netif.h's diagrams
 * give are checked here, and must hold whatever the compiler.
 */
_Static_assert(sizeof(struct netif_tx_request) == 12, "tx request");
_Static_assert(offsetof(struct netif_tx_request, gref) == 0 &&
	       offsetof(struct netif_tx_request, offset) == 4 &&
	       offsetof(struct netif_tx_request, flags) == 6 &&
	       offsetof(struct netif_tx_request, id) == 8 &&
	       offsetof(struct netif_tx_request, size) == 10, "tx request layout");
_Static_assert(sizeof(struct netif_tx_response) == 4 &&
	       offsetof(struct netif_tx_response, status) == 2, "tx response");
_Static_assert(sizeof(struct netif_extra_info) == 8 &&
	       offsetof(struct netif_extra_info, u) == 2 &&
	       offsetof(struct netif_extra_info, u.gso.size) == 2 &&
	       offsetof(struct netif_extra_info, u.gso.type) == 4 &&
	       offsetof(struct netif_extra_info, u.gso.features) == 6 &&
	       offsetof(struct netif_extra_info, u.mcast.addr) == 2 &&
	       offsetof(struct netif_extra_info, u.hash.type) == 2 &&
	       offsetof(struct netif_extra_info, u.hash.algorithm) == 3 &&
	       offsetof(struct netif_extra_info, u.hash.value) == 4, "extra info");
_Static_assert(sizeof(struct netif_rx_request) == 8 &&
	       offsetof(struct netif_rx_request, gref) == 4, "rx request");
_Static_assert(sizeof(struct netif_rx_response) == 8 &&
	       offsetof(struct netif_rx_response, offset) == 2 &&
	       offsetof(struct netif_rx_response, flags) == 4 &&
	       offsetof(struct netif_rx_response, status) == 6, "rx response");
_Static_assert(sizeof(struct xen_netif_ctrl_request) == 16 &&
	       offsetof(struct xen_netif_ctrl_request, type) == 2 &&
	       offsetof(struct xen_netif_ctrl_request, data) == 4, "ctrl request");
_Static_assert(sizeof(struct xen_netif_ctrl_response) == 12 &&
	       offsetof(struct xen_netif_ctrl_response, type) == 2 &&
	       offsetof(struct xen_netif_ctrl_response, status) == 4 &&
	       offsetof(struct xen_netif_ctrl_response, data) == 8, "ctrl response");
_Static_assert(sizeof(union netif_tx_sring_entry) == 12 &&
	       sizeof(union netif_rx_sring_entry) == 8 &&
	       sizeof(union xen_netif_ctrl_sring_entry) == 16, "ring entries");
_Static_assert(offsetof(struct netif_tx_sring, ring) == 64 &&
	       offsetof(struct netif_rx_sring, ring) == 64 &&
	       offsetof(struct xen_netif_ctrl_sring, ring) == 64, "ring header");
/* An extra-info slot overlays a TX request and an RX response. */
_Static_assert(sizeof(struct netif_extra_info) <= sizeof(struct netif_tx_request) &&
	       sizeof(struct netif_extra_info) == sizeof(struct netif_rx_response),
	       "extra info fits a slot");
/* Ours must agree with Xen's where Xen defines them. */
_Static_assert(XEN_NETIF_EXTRA_TYPE_MAX <= NETIF_EXTRA_TYPE_MAX, "extra types");
_Static_assert(NETIF_TX_MAX_SLOTS >= NETIF_TX_MAX_OK_SLOTS, "slot limits");
_Static_assert(NETIF_EXTRA_TYPE_MAX <= 8 * sizeof(unsigned), "extra_mask");

#define RING_HDR 64u
#define TX_ENTRY sizeof(union netif_tx_sring_entry)
#define RX_ENTRY sizeof(union netif_rx_sring_entry)
#define CTRL_ENTRY sizeof(union xen_netif_ctrl_sring_entry)

static unsigned ring_size_for(size_t entry, unsigned nr_pages)
{
	uint64_t bytes = (uint64_t)nr_pages * NETIF_PAGE_SIZE;
	uint64_t fit;
	unsigned size = 1;

	if (bytes < RING_HDR + entry)
		return 0;
	fit = (bytes - RING_HDR) / entry;
	/* A power of two, so that indexes can be masked (ring.h's __RD32). */
	while ((uint64_t)size * 2 <= fit && size * 2 != 0)
		size *= 2;
	return size;
}

unsigned netif_tx_ring_size(unsigned nr_pages) { return ring_size_for(TX_ENTRY, nr_pages); }
unsigned netif_rx_ring_size(unsigned nr_pages) { return ring_size_for(RX_ENTRY, nr_pages); }
unsigned netif_ctrl_ring_size(unsigned nr_pages) { return ring_size_for(CTRL_ENTRY, nr_pages); }

/* The entry a free-running index designates. */
static size_t entry_offset(size_t entry, unsigned ring_size, RING_IDX idx)
{
	/* A power of two, or masking would reach outside the ring. */
	assert(ring_size != 0 && (ring_size & (ring_size - 1)) == 0);
	return RING_HDR + (size_t)(idx & (ring_size - 1)) * entry;
}

int netif_ring_unconsumed(RING_IDX prod, RING_IDX cons, RING_IDX rsp_prod_pvt,
			  unsigned ring_size)
{
	/* Our own invariant: we never consume more than a ring ahead of
	 * what we have answered. */
	assert(ring_size <= INT_MAX && cons - rsp_prod_pvt <= ring_size);
	if (prod - cons > ring_size || prod - rsp_prod_pvt > ring_size)
		return -1;
	return (int)(prod - cons);
}

/* ---- extra info ------------------------------------------------------------------- */

static void decode_extra(struct netif_extra *e, const struct netif_extra_info *x)
{
	memset(e, 0, sizeof(*e));
	e->type = x->type;
	e->flags = x->flags;
	switch (x->type) {
	case XEN_NETIF_EXTRA_TYPE_GSO:
		e->u.gso.size = x->u.gso.size;
		e->u.gso.type = x->u.gso.type;
		e->u.gso.features = x->u.gso.features;
		break;
	case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
	case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
		memcpy(e->u.mcast.addr, x->u.mcast.addr, sizeof(e->u.mcast.addr));
		break;
	case XEN_NETIF_EXTRA_TYPE_HASH:
		e->u.hash.type = x->u.hash.type;
		e->u.hash.alg = x->u.hash.algorithm;
		memcpy(&e->u.hash.value, x->u.hash.value, sizeof(e->u.hash.value));
		break;
	case NETIF_EXTRA_TYPE_XDP:
		/* Linux's u.xdp.headroom: the first 16 bits of u. */
		e->u.xdp.headroom = x->u.pad[0];
		break;
	default:
		break;
	}
}

static void encode_extra(struct netif_extra_info *x, const struct netif_extra *e)
{
	memset(x, 0, sizeof(*x));
	x->type = e->type;
	x->flags = e->flags;
	switch (e->type) {
	case XEN_NETIF_EXTRA_TYPE_GSO:
		x->u.gso.size = e->u.gso.size;
		x->u.gso.type = e->u.gso.type;
		x->u.gso.features = e->u.gso.features;
		break;
	case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
	case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
		memcpy(x->u.mcast.addr, e->u.mcast.addr, sizeof(x->u.mcast.addr));
		break;
	case XEN_NETIF_EXTRA_TYPE_HASH:
		x->u.hash.type = e->u.hash.type;
		x->u.hash.algorithm = e->u.hash.alg;
		memcpy(x->u.hash.value, &e->u.hash.value, sizeof(x->u.hash.value));
		break;
	case NETIF_EXTRA_TYPE_XDP:
		x->u.pad[0] = e->u.xdp.headroom;
		break;
	default:
		break;
	}
}

/* ---- TX ----------------------------------------------------------------------------- */

const char *netif_tx_reason_str(enum netif_tx_reason r)
{
	switch (r) {
	case NETIF_TX_R_NONE: return "none";
	case NETIF_TX_R_RING_OVERFLOW: return "impossible number of requests";
	case NETIF_TX_R_EXTRA_MISSING: return "missing extra info";
	case NETIF_TX_R_EXTRA_TYPE: return "invalid extra type";
	case NETIF_TX_R_SLOTS_MISSING: return "slots run past the producer";
	case NETIF_TX_R_SLOTS_FATAL: return "too many slots (malicious)";
	case NETIF_TX_R_SLOT_CROSSES_PAGE: return "slot crosses a page boundary";
	case NETIF_TX_R_FIRST_CROSSES_PAGE: return "first slot crosses a page boundary";
	case NETIF_TX_R_GSO_SIZE: return "GSO size is zero";
	case NETIF_TX_R_GSO_TYPE: return "bad GSO type";
	case NETIF_TX_R_SLOTS_TOO_MANY: return "too many slots";
	case NETIF_TX_R_SLOT_TOO_BIG: return "slot larger than the remaining size";
	case NETIF_TX_R_RUNT: return "packet shorter than an Ethernet header";
	}
	return "?";
}

/* Everything a TX slot can hold, for the one copy out of the ring. */
union tx_slot {
	struct netif_tx_request req;
	struct netif_extra_info extra;
	unsigned char raw[TX_ENTRY];
};
_Static_assert(sizeof(union tx_slot) == TX_ENTRY, "tx slot");

/* The one read of TX slot idx. */
static void read_tx_slot(const void *sring, unsigned ring_size, RING_IDX idx, union tx_slot *s)
{
	memcpy(s, (const unsigned char *)sring + entry_offset(TX_ENTRY, ring_size, idx),
	       sizeof(*s));
	compiler_barrier();
}

static void keep_slot(struct netif_tx_slot *d, const struct netif_tx_request *r)
{
	d->gref = r->gref;
	d->offset = r->offset;
	d->size = r->size;
	d->flags = r->flags;
	d->id = r->id;
}

static enum netif_tx_verdict verdict(struct netif_tx_pkt *pkt, enum netif_tx_verdict v,
				     enum netif_tx_reason why)
{
	pkt->reason = why;
	return v;
}

enum netif_tx_verdict netif_tx_copy_packet(const void *sring, unsigned ring_size,
					   RING_IDX cons, RING_IDX prod,
					   RING_IDX rsp_prod_pvt,
					   struct netif_tx_pkt *pkt)
{
	struct netif_tx_request first;
	union tx_slot s;
	RING_IDX idx = cons;
	enum netif_tx_reason drop = NETIF_TX_R_NONE;
	unsigned avail;
	uint16_t remaining;
	int n;

	memset(pkt, 0, sizeof(*pkt));

	n = netif_ring_unconsumed(prod, cons, rsp_prod_pvt, ring_size);
	if (n < 0)
		return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_RING_OVERFLOW);
	if (n == 0)
		return NETIF_TX_EMPTY;
	avail = (unsigned)n;

	read_tx_slot(sring, ring_size, idx++, &s);
	avail--;
	first = s.req;
	keep_slot(&pkt->slot[0], &first);
	pkt->nr_slots = 1;
	pkt->consumed = 1;
	pkt->len = first.size;
	pkt->csum_blank = (first.flags & NETTXF_csum_blank) != 0;
	pkt->data_validated = (first.flags & NETTXF_data_validated) != 0;

	/* xenvif_get_extras: a chain of extra-info slots, the last of each
	 * type counting.  Running out of slots, or an unknown type, is fatal. */
	if (first.flags & NETTXF_extra_info) {
		do {
			if (avail == 0)
				return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_EXTRA_MISSING);
			read_tx_slot(sring, ring_size, idx++, &s);
			avail--;
			pkt->nr_extras++;
			pkt->consumed++;
			if (s.extra.type == XEN_NETIF_EXTRA_TYPE_NONE ||
			    s.extra.type >= NETIF_EXTRA_TYPE_MAX)
				return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_EXTRA_TYPE);
			decode_extra(&pkt->extra[s.extra.type], &s.extra);
			pkt->extra_mask |= 1u << s.extra.type;
		} while (s.extra.flags & XEN_NETIF_EXTRA_FLAG_MORE);
	}

	/* A multicast request ends with its extras: netback answers it at once
	 * and reads nothing more, more_data or not, and checks nothing else. */
	if (netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_MCAST_ADD)) {
		pkt->kind = NETIF_TX_MCAST_ADD;
		return NETIF_TX_OK;
	}
	if (netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_MCAST_DEL)) {
		pkt->kind = NETIF_TX_MCAST_DEL;
		return NETIF_TX_OK;
	}

	/*
	 * xenvif_count_requests.  The first size is the whole packet's, so
	 * each further slot must fit in what it leaves; one that does not
	 * (as when a frontend sends >= 64 KiB and the 16-bit size wraps), or
	 * more than the legacy 18 further slots, drops the packet, but the
	 * chain is still walked to its end and fatal conditions further on
	 * still count.
	 */
	remaining = first.size;
	if (first.flags & NETTXF_more_data) {
		unsigned slots = 0;
		bool more;

		do {
			struct netif_tx_request tx;

			if (slots >= avail)
				return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_SLOTS_MISSING);
			if (slots >= NETIF_TX_FATAL_SLOTS)
				return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_SLOTS_FATAL);
			if (drop == NETIF_TX_R_NONE && slots >= NETIF_TX_LEGACY_SLOTS_MAX)
				drop = NETIF_TX_R_SLOTS_TOO_MANY;

			read_tx_slot(sring, ring_size, idx++, &s);
			tx = s.req;
			keep_slot(&pkt->slot[1 + slots], &tx);
			pkt->nr_slots++;
			pkt->consumed++;

			if (drop == NETIF_TX_R_NONE && tx.size > remaining)
				drop = NETIF_TX_R_SLOT_TOO_BIG;
			remaining = (uint16_t)(remaining - tx.size);
			slots++;

			if ((unsigned)tx.offset + tx.size > NETIF_PAGE_SIZE)
				return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_SLOT_CROSSES_PAGE);
			more = (tx.flags & NETTXF_more_data) != 0;
		} while (more);

		if (drop != NETIF_TX_R_NONE)
			return verdict(pkt, NETIF_TX_ERROR, drop);
	}

	/* What is left is the first slot's own share. */
	pkt->slot[0].size = remaining;
	if (remaining < NETIF_ETH_HLEN)
		return verdict(pkt, NETIF_TX_ERROR, NETIF_TX_R_RUNT);
	if ((unsigned)first.offset + remaining > NETIF_PAGE_SIZE)
		return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_FIRST_CROSSES_PAGE);

	/* xenvif_set_skb_gso. */
	if (netif_tx_has_extra(pkt, XEN_NETIF_EXTRA_TYPE_GSO)) {
		const struct netif_extra *gso = &pkt->extra[XEN_NETIF_EXTRA_TYPE_GSO];

		if (gso->u.gso.size == 0)
			return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_GSO_SIZE);
		if (gso->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		    gso->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)
			return verdict(pkt, NETIF_TX_FATAL, NETIF_TX_R_GSO_TYPE);
	}
	return NETIF_TX_OK;
}

void netif_tx_rsp(void *sring, unsigned ring_size, RING_IDX idx, uint16_t id, int16_t status)
{
	struct netif_tx_response rsp = { .id = id, .status = status };

	/* Only the response's 4 bytes: the rest of the slot is unused. */
	memcpy((unsigned char *)sring + entry_offset(TX_ENTRY, ring_size, idx), &rsp,
	       sizeof(rsp));
}

unsigned netif_tx_respond(void *sring, unsigned ring_size, RING_IDX idx,
			  const struct netif_tx_pkt *pkt, int16_t status)
{
	unsigned n = 0, i;

	assert(pkt->nr_slots >= 1 && pkt->nr_slots <= NETIF_TX_MAX_SLOTS);
	netif_tx_rsp(sring, ring_size, idx + n++, pkt->slot[0].id, status);
	for (i = 0; i < pkt->nr_extras; i++)
		netif_tx_rsp(sring, ring_size, idx + n++, 0, NETIF_RSP_NULL);
	for (i = 1; i < pkt->nr_slots; i++)
		netif_tx_rsp(sring, ring_size, idx + n++, pkt->slot[i].id, status);
	return n;
}

/* ---- RX ----------------------------------------------------------------------------- */

void netif_rx_copy_request(const void *sring, unsigned ring_size, RING_IDX idx,
			   struct netif_rx_req *req)
{
	struct netif_rx_request r;

	memcpy(&r, (const unsigned char *)sring + entry_offset(RX_ENTRY, ring_size, idx),
	       sizeof(r));
	compiler_barrier();
	req->id = r.id;
	req->gref = r.gref;
}

void netif_rx_rsp(void *sring, unsigned ring_size, RING_IDX idx, uint16_t id,
		  uint16_t offset, uint16_t flags, int16_t status)
{
	struct netif_rx_response rsp = {
		.id = id, .offset = offset, .flags = flags, .status = status,
	};

	memcpy((unsigned char *)sring + entry_offset(RX_ENTRY, ring_size, idx), &rsp,
	       sizeof(rsp));
}

void netif_rx_put_extra(void *sring, unsigned ring_size, RING_IDX idx,
			const struct netif_extra *e)
{
	struct netif_extra_info x;

	/* Built whole in private memory, unused bytes zeroed, one copy out. */
	encode_extra(&x, e);
	memcpy((unsigned char *)sring + entry_offset(RX_ENTRY, ring_size, idx), &x, sizeof(x));
}

/* ---- control ring ------------------------------------------------------------------- */

uint32_t netif_ctrl_copy_request(const void *sring, unsigned ring_size, RING_IDX idx,
				 const struct netif_hash *h, struct netif_ctrl_req *req)
{
	struct xen_netif_ctrl_request r;

	/* The one read of the shared entry. */
	memcpy(&r, (const unsigned char *)sring + entry_offset(CTRL_ENTRY, ring_size, idx),
	       sizeof(r));
	compiler_barrier();

	memset(req, 0, sizeof(*req));
	req->id = r.id;
	req->type = r.type;
	memcpy(req->data, r.data, sizeof(req->data));
	req->action = NETIF_CTRL_ANSWER;

	/* process_ctrl_request and hash.c. */
	switch (r.type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		if (r.data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
		    r.data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		req->value = r.data[0];
		req->action = NETIF_CTRL_APPLY;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		req->rsp_data = NETIF_HASH_TYPES_ALL;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		if (r.data[0] & ~(uint32_t)NETIF_HASH_TYPES_ALL)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		req->value = r.data[0];
		req->action = NETIF_CTRL_APPLY;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		/* netif.h suggests BUFFER_OVERFLOW for a key too long; netback
		 * answers INVALID_PARAMETER, and so do we. */
		if (r.data[1] > NETIF_HASH_KEY_SIZE)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		req->gref = r.data[0];
		req->len = r.data[1];
		req->action = req->len != 0 ? NETIF_CTRL_COPY_KEY : NETIF_CTRL_APPLY;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		req->rsp_data = NETIF_HASH_MAPPING_SIZE;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		if (r.data[0] > NETIF_HASH_MAPPING_SIZE)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		req->value = r.data[0];
		req->action = NETIF_CTRL_APPLY;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
		/* data[1] entries at entry data[2], within the size set, and
		 * from one page. */
		if (r.data[2] + r.data[1] < r.data[2] || r.data[2] + r.data[1] > h->size ||
		    r.data[1] > NETIF_PAGE_SIZE / sizeof(uint32_t))
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		req->gref = r.data[0];
		req->len = r.data[1];
		req->off = r.data[2];
		req->action = req->len != 0 ? NETIF_CTRL_COPY_MAPPING : NETIF_CTRL_APPLY;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	default:
		/* INVALID, the gref mapping types, and anything unknown. */
		return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
	}
}

uint32_t netif_hash_apply(struct netif_hash *h, const struct netif_ctrl_req *req,
			  const void *data, size_t len, unsigned num_queues)
{
	uint32_t mapping[NETIF_HASH_MAPPING_SIZE];
	uint8_t key[NETIF_HASH_KEY_SIZE];
	uint32_t i;

	/* Only what netif_ctrl_copy_request() let through (a refused request
	 * has its answer already).  Everything is checked again: h may have
	 * changed since the request was validated, and a caller may pass
	 * anything. */
	if (req->action == NETIF_CTRL_ANSWER)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	switch (req->type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		if (req->value != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
		    req->value != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		h->alg = req->value;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		if ((req->value & ~(uint32_t)NETIF_HASH_TYPES_ALL) ||
		    h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		h->flags = req->value;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		if (req->len > NETIF_HASH_KEY_SIZE || len != req->len || (len != 0 && !data))
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		/* Octets not given are zero (netif.h): a 0-byte key clears it. */
		memset(key, 0, sizeof(key));
		if (len != 0)
			memcpy(key, data, len);
		compiler_barrier();
		memcpy(h->key, key, sizeof(h->key));
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		if (req->value > NETIF_HASH_MAPPING_SIZE)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		/* Any previous table is gone; the new one is all zeroes. */
		h->size = req->value;
		memset(h->mapping, 0, sizeof(h->mapping));
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
		if (req->off + req->len < req->off || req->off + req->len > h->size ||
		    req->len > NETIF_HASH_MAPPING_SIZE ||
		    len != (size_t)req->len * sizeof(uint32_t) || (len != 0 && !data))
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		/* Copy once, check the copy, then take it whole or not at all. */
		if (len != 0)
			memcpy(mapping, data, len);
		compiler_barrier();
		for (i = 0; i < req->len; i++)
			if (mapping[i] >= num_queues)
				return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		if (len != 0)
			memcpy(&h->mapping[req->off], mapping, len);
		return XEN_NETIF_CTRL_STATUS_SUCCESS;

	default:
		return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
	}
}

void netif_ctrl_rsp(void *sring, unsigned ring_size, RING_IDX idx, uint16_t id,
		    uint16_t type, uint32_t status, uint32_t data)
{
	struct xen_netif_ctrl_response rsp = {
		.id = id, .type = type, .status = status, .data = data,
	};

	memcpy((unsigned char *)sring + entry_offset(CTRL_ENTRY, ring_size, idx), &rsp,
	       sizeof(rsp));
}

/* ---- hashing ------------------------------------------------------------------------ */

uint32_t netif_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *buf, size_t len)
{
	/* window holds key bits [i, i + 64) for the buffer bit i in hand, the
	 * key's first bit leftmost; its top 32 bits are what a set buffer bit
	 * XORs in.  Every 8 buffer bits, one more key byte enters on the right. */
	uint64_t window = 0;
	uint32_t hash = 0;
	size_t k, i;

	for (k = 0; k < 8; k++)
		window = window << 8 | (k < keylen ? key[k] : 0);
	for (i = 0; i < len; i++, k++) {
		unsigned bit;

		for (bit = 0; bit < 8; bit++) {
			if (buf[i] & (0x80u >> bit))
				hash ^= (uint32_t)(window >> 32);
			window <<= 1;
		}
		window |= k < keylen ? key[k] : 0;
	}
	return hash;
}

int netif_hash_flow(const struct netif_hash *h, const struct netif_flow *f, uint32_t *value)
{
	unsigned alen = f->ipv6 ? 16 : 4;
	uint8_t buf[16 + 16 + 2 + 2];
	size_t n = 0;
	int type = -1;

	*value = 0;
	if (h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
		return -1;
	/* The most specific type enabled: with ports for TCP if asked. */
	if (!f->ipv6) {
		if (f->tcp && (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP))
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
		else if (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4)
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	} else {
		if (f->tcp && (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP))
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
		else if (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6)
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	}
	if (type < 0)
		return -1;

	memcpy(buf + n, f->saddr, alen);
	n += alen;
	memcpy(buf + n, f->daddr, alen);
	n += alen;
	if (type == _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP || type == _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP) {
		memcpy(buf + n, f->sport, 2);
		n += 2;
		memcpy(buf + n, f->dport, 2);
		n += 2;
	}
	*value = netif_toeplitz(h->key, sizeof(h->key), buf, n);
	return type;
}

unsigned netif_hash_queue(const struct netif_hash *h, uint32_t hash, unsigned num_queues)
{
	unsigned q;

	if (num_queues == 0)
		return 0;
	if (h->size == 0 || h->size > NETIF_HASH_MAPPING_SIZE)
		return hash % num_queues;
	q = h->mapping[hash % h->size];
	/* Entries were checked against the queue count when set. */
	return q < num_queues ? q : 0;
}
