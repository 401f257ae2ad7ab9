/*
 * blkif.c - copy requests out of a blkif ring once, normalise and validate
 * them; write responses.  The checks follow Linux xen-blkback
 * (dispatch_rw_block_io, dispatch_discard_io, xen_blkbk_parse_indirect,
 * xen_vbd_translate).
 */
#include "blkif.h"

#include <assert.h>
#include <string.h>

#include <xen/io/protocols.h>

/*
 * After copying from shared memory, tell the compiler that memory may have
 * changed.  Without this it could legally drop the private copy and load
 * fields straight from the ring again, each load seeing whatever the
 * frontend wrote last (a double fetch).  After the barrier every use must
 * come from the copy.
 */
#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

#define SECTORS_PER_PAGE (BLK_PAGE_SIZE >> BLK_SECTOR_SHIFT)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))

/*
 * The two foreign request layouts, as blkback's common.h spells them.  On
 * i386 a uint64_t is only 4-byte aligned, so that layout is the packed one;
 * the x86_64 layout spells its padding out so it can be packed too.  The
 * first byte is the operation in every variant; what follows depends on it.
 */
struct blkif_x86_32_request_rw {
	uint8_t nr_segments;
	blkif_vdev_t handle;
	uint64_t id;
	blkif_sector_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} __attribute__((packed));

struct blkif_x86_32_request_discard {
	uint8_t flag;
	blkif_vdev_t _pad1;
	uint64_t id;
	blkif_sector_t sector_number;
	uint64_t nr_sectors;
} __attribute__((packed));

struct blkif_x86_32_request_indirect {
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t id;
	blkif_sector_t sector_number;
	blkif_vdev_t handle;
	uint16_t _pad1;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint64_t _pad2;
} __attribute__((packed));

struct blkif_x86_32_request {
	uint8_t operation;
	union {
		struct blkif_x86_32_request_rw rw;
		struct blkif_x86_32_request_discard discard;
		struct blkif_x86_32_request_indirect indirect;
	} u;
} __attribute__((packed));

struct blkif_x86_32_response {
	uint64_t id;
	uint8_t operation;
	uint8_t _pad1;
	int16_t status;
} __attribute__((packed));

struct blkif_x86_64_request_rw {
	uint8_t nr_segments;
	blkif_vdev_t handle;
	uint32_t _pad1;
	uint64_t id;
	blkif_sector_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} __attribute__((packed));

struct blkif_x86_64_request_discard {
	uint8_t flag;
	blkif_vdev_t _pad1;
	uint32_t _pad2;
	uint64_t id;
	blkif_sector_t sector_number;
	uint64_t nr_sectors;
} __attribute__((packed));

struct blkif_x86_64_request_indirect {
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t _pad1;
	uint64_t id;
	blkif_sector_t sector_number;
	blkif_vdev_t handle;
	uint16_t _pad2;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint32_t _pad3;
} __attribute__((packed));

struct blkif_x86_64_request {
	uint8_t operation;
	union {
		struct blkif_x86_64_request_rw rw;
		struct blkif_x86_64_request_discard discard;
		struct blkif_x86_64_request_indirect indirect;
	} u;
} __attribute__((packed));

struct blkif_x86_64_response {
	uint64_t id;
	uint8_t operation;
	uint8_t _pad1;
	int16_t status;
	uint32_t _pad2;
} __attribute__((packed));

/* The sizes and offsets the two ABIs define; a mistake above is caught here. */
_Static_assert(sizeof(struct blkif_x86_32_request) == 108, "x86_32 request");
_Static_assert(sizeof(struct blkif_x86_32_response) == 12, "x86_32 response");
_Static_assert(offsetof(struct blkif_x86_32_request, u.rw.id) == 4, "x86_32 id");
_Static_assert(offsetof(struct blkif_x86_32_request, u.rw.seg) == 20, "x86_32 seg");
_Static_assert(offsetof(struct blkif_x86_32_request, u.discard.nr_sectors) == 20,
	       "x86_32 discard");
_Static_assert(offsetof(struct blkif_x86_32_request, u.indirect.indirect_grefs) == 24,
	       "x86_32 indirect");
_Static_assert(sizeof(struct blkif_x86_32_request_indirect) + 1 == 64, "x86_32 indirect size");
_Static_assert(sizeof(struct blkif_x86_64_request) == 112, "x86_64 request");
_Static_assert(sizeof(struct blkif_x86_64_response) == 16, "x86_64 response");
_Static_assert(offsetof(struct blkif_x86_64_request, u.rw.id) == 8, "x86_64 id");
_Static_assert(offsetof(struct blkif_x86_64_request, u.rw.seg) == 24, "x86_64 seg");
_Static_assert(offsetof(struct blkif_x86_64_request, u.discard.nr_sectors) == 24,
	       "x86_64 discard");
_Static_assert(offsetof(struct blkif_x86_64_request, u.indirect.indirect_grefs) == 28,
	       "x86_64 indirect");
_Static_assert(sizeof(struct blkif_x86_64_request_indirect) + 1 == 64, "x86_64 indirect size");
/* The id sits at the same place whatever the operation, so an unknown
 * operation can still be answered. */
#define ID_PLACE_FIXED(abi)                                                     \
	(offsetof(struct blkif_##abi##_request, u.rw.id) ==                     \
		 offsetof(struct blkif_##abi##_request, u.discard.id) &&        \
	 offsetof(struct blkif_##abi##_request, u.rw.id) ==                     \
		 offsetof(struct blkif_##abi##_request, u.indirect.id))
_Static_assert(ID_PLACE_FIXED(x86_32), "x86_32 id place");
_Static_assert(ID_PLACE_FIXED(x86_64), "x86_64 id place");

/*
 * The native layout is one of the two above: the x86_32 one where uint64_t
 * is 4-byte aligned in structs (i386), the x86_64 one elsewhere (x86_64,
 * arm, arm64).  Handling native as that ABI keeps a single decoder per
 * layout and lets responses be written from structs whose padding is
 * explicit, hence zeroed, rather than leaking our stack to the guest.  The
 * asserts prove the layouts agree with xen/io/blkif.h.
 */
#define NATIVE_IS_X86_32 (offsetof(struct blkif_request, id) == 4)
#define NATIVE_ABI (NATIVE_IS_X86_32 ? BLKIF_PROTO_X86_32 : BLKIF_PROTO_X86_64)
#define NATIVE_LAYOUT_IS(abi)                                                        \
	(sizeof(union blkif_sring_entry) == sizeof(struct blkif_##abi##_request) &&  \
	 sizeof(struct blkif_response) == sizeof(struct blkif_##abi##_response) &&   \
	 offsetof(struct blkif_request, id) ==                                        \
		 offsetof(struct blkif_##abi##_request, u.rw.id) &&                   \
	 offsetof(struct blkif_request, sector_number) ==                             \
		 offsetof(struct blkif_##abi##_request, u.rw.sector_number) &&        \
	 offsetof(struct blkif_request, seg) ==                                       \
		 offsetof(struct blkif_##abi##_request, u.rw.seg) &&                  \
	 offsetof(struct blkif_request_discard, nr_sectors) ==                        \
		 offsetof(struct blkif_##abi##_request, u.discard.nr_sectors) &&      \
	 offsetof(struct blkif_request_indirect, nr_segments) ==                      \
		 offsetof(struct blkif_##abi##_request, u.indirect.nr_segments) &&    \
	 offsetof(struct blkif_request_indirect, sector_number) ==                    \
		 offsetof(struct blkif_##abi##_request, u.indirect.sector_number) &&  \
	 offsetof(struct blkif_request_indirect, indirect_grefs) ==                   \
		 offsetof(struct blkif_##abi##_request, u.indirect.indirect_grefs) && \
	 offsetof(struct blkif_response, status) ==                                   \
		 offsetof(struct blkif_##abi##_response, status))
_Static_assert(NATIVE_IS_X86_32 ? NATIVE_LAYOUT_IS(x86_32) : NATIVE_LAYOUT_IS(x86_64),
	       "native blkif layout is neither the x86_32 nor the x86_64 one");

/* A response never outgrows its request, so an entry is a request's size. */
_Static_assert(sizeof(struct blkif_x86_32_response) <= sizeof(struct blkif_x86_32_request),
	       "x86_32 entry");
_Static_assert(sizeof(struct blkif_x86_64_response) <= sizeof(struct blkif_x86_64_request),
	       "x86_64 entry");

/* Indirect segments are copied straight into req->seg, so the wire format
 * and ours must be the same bytes. */
_Static_assert(sizeof(struct blk_seg) == sizeof(struct blkif_request_segment), "blk_seg size");
_Static_assert(offsetof(struct blk_seg, gref) == offsetof(struct blkif_request_segment, gref),
	       "blk_seg gref");
_Static_assert(offsetof(struct blk_seg, first_sect) ==
	       offsetof(struct blkif_request_segment, first_sect), "blk_seg first_sect");
_Static_assert(offsetof(struct blk_seg, last_sect) ==
	       offsetof(struct blkif_request_segment, last_sect), "blk_seg last_sect");

/* However many segments we advertise, their pages fit in one request, so
 * nr_indirect_pages needs no run-time check. */
_Static_assert(DIV_ROUND_UP(BLK_MAX_INDIRECT_SEGMENTS, BLK_SEGS_PER_INDIRECT_PAGE) <=
	       BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST, "indirect pages");
_Static_assert(BLK_MAX_INDIRECT_SEGMENTS <= UINT16_MAX, "nr_segments is 16 bits");

#define RING_HEADER_SIZE offsetof(struct blkif_sring, ring)

int blkif_proto_parse(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return BLKIF_PROTO_NATIVE;
	if (strcmp(name, XEN_IO_PROTO_ABI_X86_32) == 0)
		return BLKIF_PROTO_X86_32;
	if (strcmp(name, XEN_IO_PROTO_ABI_X86_64) == 0)
		return BLKIF_PROTO_X86_64;
	/* Catches "arm-abi" on arm hosts; on x86 it equals one of the above. */
	if (strcmp(name, XEN_IO_PROTO_ABI_NATIVE) == 0)
		return BLKIF_PROTO_NATIVE;
	return -1;
}

static enum blkif_proto layout_of(enum blkif_proto proto)
{
	return proto == BLKIF_PROTO_NATIVE ? NATIVE_ABI : proto;
}

static size_t entry_size(enum blkif_proto proto)
{
	return layout_of(proto) == BLKIF_PROTO_X86_32 ? sizeof(struct blkif_x86_32_request)
						      : sizeof(struct blkif_x86_64_request);
}

unsigned blkif_ring_size(enum blkif_proto proto, unsigned nr_pages)
{
	uint64_t bytes = (uint64_t)nr_pages * BLK_PAGE_SIZE;
	uint64_t fit;
	unsigned size = 1;

	if (bytes < RING_HEADER_SIZE + entry_size(proto))
		return 0;
	fit = (bytes - RING_HEADER_SIZE) / entry_size(proto);
	/* Round down to a power of two so indexes can be masked (ring.h);
	 * stop at 2^31 should an absurd nr_pages make more fit. */
	while ((uint64_t)size * 2 <= fit && size * 2 != 0)
		size *= 2;
	return size;
}

/* The entry a free-running index designates. */
static size_t entry_offset(enum blkif_proto proto, unsigned ring_size, RING_IDX idx)
{
	/* A power of two, or masking would reach outside the ring. */
	assert(ring_size != 0 && (ring_size & (ring_size - 1)) == 0);
	return RING_HEADER_SIZE + (size_t)(idx & (ring_size - 1)) * entry_size(proto);
}

/*
 * The fields of a request, ABI-independent but not yet validated: what
 * blkback gets from blkif_get_x86_{32,64}_req().  Direct segments stay in
 * wire format until checked.
 */
struct raw_req {
	uint8_t operation;
	uint8_t nr_segments;   /* r/w */
	uint8_t flag;          /* discard */
	uint8_t indirect_op;
	uint16_t indirect_nr_segments;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;   /* discard */
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

/*
 * Decode a private copy of an entry.  Field names are the same in both
 * layouts, so one body serves both; only the fields the operation defines
 * are read, as blkback does.  Members are read one by one because the
 * structs are packed (no pointers to their members may be taken).
 */
#define DEFINE_DECODE(abi)                                                            \
	static void decode_##abi(struct raw_req *r, const struct blkif_##abi##_request *s) \
	{                                                                             \
		unsigned i;                                                           \
                                                                                      \
		memset(r, 0, sizeof(*r));                                             \
		r->operation = s->operation;                                          \
		switch (s->operation) {                                               \
		case BLKIF_OP_READ:                                                   \
		case BLKIF_OP_WRITE:                                                  \
		case BLKIF_OP_WRITE_BARRIER:                                          \
		case BLKIF_OP_FLUSH_DISKCACHE:                                        \
			r->nr_segments = s->u.rw.nr_segments;                         \
			r->id = s->u.rw.id;                                           \
			r->sector_number = s->u.rw.sector_number;                     \
			for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)          \
				r->seg[i] = s->u.rw.seg[i];                           \
			break;                                                        \
		case BLKIF_OP_DISCARD:                                                \
			r->flag = s->u.discard.flag;                                  \
			r->id = s->u.discard.id;                                      \
			r->sector_number = s->u.discard.sector_number;                \
			r->nr_sectors = s->u.discard.nr_sectors;                      \
			break;                                                        \
		case BLKIF_OP_INDIRECT:                                               \
			r->indirect_op = s->u.indirect.indirect_op;                   \
			r->indirect_nr_segments = s->u.indirect.nr_segments;          \
			r->id = s->u.indirect.id;                                     \
			r->sector_number = s->u.indirect.sector_number;               \
			for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)    \
				r->indirect_grefs[i] = s->u.indirect.indirect_grefs[i]; \
			break;                                                        \
		default:                                                              \
			/* Unknown layout: only the id, to answer with. */            \
			r->id = s->u.rw.id;                                           \
			break;                                                        \
		}                                                                     \
	}
DEFINE_DECODE(x86_32)
DEFINE_DECODE(x86_64)

/* Sum the sectors of n segments, or return false if one is malformed: a
 * segment lies within one 4 KiB page and does not run backwards. */
static bool sum_segments(const struct blk_seg *seg, unsigned n, uint64_t *nr_sectors)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (seg[i].last_sect >= SECTORS_PER_PAGE || seg[i].last_sect < seg[i].first_sect)
			return false;
		sum += (unsigned)(seg[i].last_sect - seg[i].first_sect + 1);
	}
	*nr_sectors = sum;
	return true;
}

/*
 * Does [sector, sector + n) lie on the disk?  Written so that it cannot
 * overflow.  An empty range touches nothing and passes wherever it starts,
 * as in blkback (a flush's sector_number means nothing).
 */
static bool range_ok(uint64_t sector, uint64_t n, const struct blk_limits *lim)
{
	return n == 0 || (n <= lim->sectors && sector <= lim->sectors - n);
}

static enum blk_verdict check_rw(const struct raw_req *r, const struct blk_limits *lim,
				 struct blk_req *req)
{
	unsigned i, min_segs;

	switch (r->operation) {
	case BLKIF_OP_WRITE_BARRIER:
		if (!lim->barrier)
			return BLK_EOPNOTSUPP;
		min_segs = 0;
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
		if (!lim->flush)
			return BLK_EOPNOTSUPP;
		min_segs = 0;
		break;
	default:
		min_segs = 1;
		break;
	}
	if (r->nr_segments < min_segs || r->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return BLK_ERROR;
	/* A barrier or flush without data writes nothing, so it is let
	 * through on a read-only device. */
	if (lim->readonly && r->operation != BLKIF_OP_READ && r->nr_segments != 0)
		return BLK_ERROR;

	for (i = 0; i < r->nr_segments; i++) {
		req->seg[i].gref = r->seg[i].gref;
		req->seg[i].first_sect = r->seg[i].first_sect;
		req->seg[i].last_sect = r->seg[i].last_sect;
	}
	if (!sum_segments(req->seg, r->nr_segments, &req->nr_sectors))
		return BLK_ERROR;
	if (!range_ok(req->sector_number, req->nr_sectors, lim))
		return BLK_ERROR;
	req->nr_segments = r->nr_segments;
	return BLK_OK;
}

static enum blk_verdict check_discard(const struct raw_req *r, const struct blk_limits *lim,
				      struct blk_req *req)
{
	if (!lim->discard)
		return BLK_EOPNOTSUPP;
	if (lim->readonly)
		return BLK_ERROR;
	if (!range_ok(r->sector_number, r->nr_sectors, lim))
		return BLK_ERROR;
	req->nr_sectors = r->nr_sectors;
	req->discard_secure = (r->flag & BLKIF_DISCARD_SECURE) != 0;
	return BLK_OK;
}

static enum blk_verdict check_indirect(const struct raw_req *r, const struct blk_limits *lim,
				       struct blk_req *req)
{
	unsigned max_segs = lim->max_indirect_segments;
	unsigned i;

	if (max_segs == 0)
		return BLK_EOPNOTSUPP;
	if (max_segs > BLK_MAX_INDIRECT_SEGMENTS)
		max_segs = BLK_MAX_INDIRECT_SEGMENTS;
	if (r->indirect_op != BLKIF_OP_READ && r->indirect_op != BLKIF_OP_WRITE)
		return BLK_ERROR;
	if (r->indirect_nr_segments == 0 || r->indirect_nr_segments > max_segs)
		return BLK_ERROR;
	if (lim->readonly && r->indirect_op == BLKIF_OP_WRITE)
		return BLK_ERROR;

	req->nr_segments = r->indirect_nr_segments;
	req->nr_indirect_pages = DIV_ROUND_UP(req->nr_segments, BLK_SEGS_PER_INDIRECT_PAGE);
	for (i = 0; i < req->nr_indirect_pages; i++)
		req->indirect_grefs[i] = r->indirect_grefs[i];
	return BLK_NEED_INDIRECT;
}

enum blk_verdict blkif_copy_request(enum blkif_proto proto, const void *sring,
				    unsigned ring_size, RING_IDX idx,
				    const struct blk_limits *lim,
				    struct blk_req *req)
{
	union {
		struct blkif_x86_32_request x86_32;
		struct blkif_x86_64_request x86_64;
	} copy;
	const unsigned char *entry =
		(const unsigned char *)sring + entry_offset(proto, ring_size, idx);
	struct raw_req r;

	/* The one read of the shared entry. */
	memcpy(&copy, entry, entry_size(proto));
	compiler_barrier();

	if (layout_of(proto) == BLKIF_PROTO_X86_32)
		decode_x86_32(&r, &copy.x86_32);
	else
		decode_x86_64(&r, &copy.x86_64);

	/* The header first, so that any verdict can be answered. */
	req->id = r.id;
	req->operation = r.operation;
	req->op = r.operation == BLKIF_OP_INDIRECT ? r.indirect_op : r.operation;
	req->discard_secure = 0;
	req->nr_segments = 0;
	req->nr_indirect_pages = 0;
	req->sector_number = r.sector_number;
	req->nr_sectors = 0;

	switch (r.operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		return check_rw(&r, lim, req);
	case BLKIF_OP_DISCARD:
		return check_discard(&r, lim, req);
	case BLKIF_OP_INDIRECT:
		return check_indirect(&r, lim, req);
	default:
		return BLK_EOPNOTSUPP;
	}
}

enum blk_verdict blkif_copy_indirect(struct blk_req *req, const void *const pages[],
				     const struct blk_limits *lim)
{
	unsigned done, p;

	/* Only a request blkif_copy_request() passed with BLK_NEED_INDIRECT. */
	assert(req->operation == BLKIF_OP_INDIRECT);
	assert(req->nr_segments >= 1 && req->nr_segments <= BLK_MAX_INDIRECT_SEGMENTS);

	/* The one read of each page, and only of the bytes in use. */
	for (done = 0, p = 0; done < req->nr_segments; p++) {
		unsigned n = req->nr_segments - done;

		if (n > BLK_SEGS_PER_INDIRECT_PAGE)
			n = BLK_SEGS_PER_INDIRECT_PAGE;
		memcpy(&req->seg[done], pages[p], n * sizeof(struct blkif_request_segment));
		done += n;
	}
	compiler_barrier();

	if (!sum_segments(req->seg, req->nr_segments, &req->nr_sectors))
		return BLK_ERROR;
	if (!range_ok(req->sector_number, req->nr_sectors, lim))
		return BLK_ERROR;
	return BLK_OK;
}

void blkif_put_response(enum blkif_proto proto, void *sring, unsigned ring_size,
			RING_IDX idx, uint64_t id, uint8_t operation, int16_t status)
{
	unsigned char *entry = (unsigned char *)sring + entry_offset(proto, ring_size, idx);

	/* Built whole in private memory (padding included, zeroed) and
	 * written with one copy. */
	if (layout_of(proto) == BLKIF_PROTO_X86_32) {
		struct blkif_x86_32_response rsp = {
			.id = id, .operation = operation, .status = status,
		};
		memcpy(entry, &rsp, sizeof(rsp));
	} else {
		struct blkif_x86_64_response rsp = {
			.id = id, .operation = operation, .status = status,
		};
		memcpy(entry, &rsp, sizeof(rsp));
	}
}
