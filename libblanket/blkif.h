/*
 * blkif.h - the Xen PV block protocol as blanketd sees it.
 *
 * A frontend's ring is shared memory it may rewrite at any time.  Every
 * request is therefore copied out of the ring exactly once, into a
 * normalised, ABI-independent struct blk_req, and validated on that private
 * copy before anything acts on it.  Indirect segment pages are treated the
 * same way: copied once, then validated.
 *
 * Three ring layouts exist (see /usr/include/xen/io/blkif.h and
 * xen/io/protocols.h): native, "x86_32-abi" (packed, 4-byte aligned uint64)
 * and "x86_64-abi".  The shared-ring header is identical in all three; only
 * the entry size and the request layout differ.
 */
#ifndef BLANKET_BLKIF_H
#define BLANKET_BLKIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/blkif.h>
#include <xen/io/ring.h>

#define BLK_PAGE_SIZE 4096u
#define BLK_SECTOR_SHIFT 9
/* Segments one indirect page holds (8-byte blkif_request_segment). */
#define BLK_SEGS_PER_INDIRECT_PAGE (BLK_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* The most indirect segments we ever advertise (feature-max-indirect-segments). */
#define BLK_MAX_INDIRECT_SEGMENTS 256u
#define BLK_MAX_RING_PAGE_ORDER 4u
#define BLK_MAX_RING_PAGES (1u << BLK_MAX_RING_PAGE_ORDER)

enum blkif_proto {
	BLKIF_PROTO_NATIVE = 0,
	BLKIF_PROTO_X86_32,
	BLKIF_PROTO_X86_64,
};

/* Parse the frontend's "protocol" node; NULL or empty means native.
 * Returns -1 for an unknown protocol name. */
int blkif_proto_parse(const char *name);

/* Number of entries of a ring that spans nr_pages shared pages (a power of 2). */
unsigned blkif_ring_size(enum blkif_proto proto, unsigned nr_pages);

struct blk_seg {
	grant_ref_t gref;
	uint8_t first_sect, last_sect; /* validated: first <= last <= 7 */
};

/*
 * A request after copy-out and validation.  For BLKIF_OP_INDIRECT the
 * header is copied by blkif_copy_request() and the segments are filled in
 * by blkif_copy_indirect(), after the caller has mapped the indirect pages.
 */
struct blk_req {
	uint64_t id;
	uint8_t operation;    /* as on the ring: READ, WRITE, WRITE_BARRIER,
	                         FLUSH_DISKCACHE, DISCARD or INDIRECT */
	uint8_t op;           /* effective op: the indirect_op for INDIRECT */
	uint8_t discard_secure;
	uint16_t nr_segments;
	uint16_t nr_indirect_pages;
	uint64_t sector_number;
	uint64_t nr_sectors;  /* r/w: sum of the segments; discard: as asked */
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct blk_seg seg[BLK_MAX_INDIRECT_SEGMENTS];
};

/* What the device allows; requests are validated against it. */
struct blk_limits {
	uint64_t sectors;               /* disk size in 512-byte sectors */
	unsigned max_indirect_segments; /* 0: indirect not offered */
	bool readonly;
	bool flush;                     /* feature-flush-cache offered */
	bool barrier;                   /* feature-barrier offered */
	bool discard;                   /* feature-discard offered */
};

/* Validation result: what the backend must do with the request. */
enum blk_verdict {
	BLK_OK = 0,          /* go ahead */
	BLK_NEED_INDIRECT,   /* header fine: map req->indirect_grefs, then blkif_copy_indirect() */
	BLK_ERROR,           /* answer BLKIF_RSP_ERROR */
	BLK_EOPNOTSUPP,      /* answer BLKIF_RSP_EOPNOTSUPP (unknown/unoffered op) */
};

/*
 * Copy ring entry number idx (free-running index; masked here) out of the
 * shared ring whose first byte is sring (the struct blkif_sring header) and
 * validate it against lim.  Reads each byte of the shared entry at most once.
 */
enum blk_verdict blkif_copy_request(enum blkif_proto proto, const void *sring,
				    unsigned ring_size, RING_IDX idx,
				    const struct blk_limits *lim,
				    struct blk_req *req);

/*
 * Copy req->nr_segments segments out of the mapped indirect pages (pages[i]
 * is the i-th of req->nr_indirect_pages pages) and validate them and the
 * resulting sector range.  Returns BLK_OK or BLK_ERROR.
 */
enum blk_verdict blkif_copy_indirect(struct blk_req *req, const void *const pages[],
				     const struct blk_limits *lim);

/* Write a response into ring entry idx (free-running index; masked here). */
void blkif_put_response(enum blkif_proto proto, void *sring, unsigned ring_size,
			RING_IDX idx, uint64_t id, uint8_t operation, int16_t status);

/* The operation a response must echo for req. */
static inline uint8_t blk_req_rsp_op(const struct blk_req *req) { return req->op; }

/* Bytes that segment s covers, and where in its page it starts. */
static inline unsigned blk_seg_len(const struct blk_seg *s)
{
	return (unsigned)(s->last_sect - s->first_sect + 1) << BLK_SECTOR_SHIFT;
}
static inline unsigned blk_seg_off(const struct blk_seg *s)
{
	return (unsigned)s->first_sect << BLK_SECTOR_SHIFT;
}

#endif
