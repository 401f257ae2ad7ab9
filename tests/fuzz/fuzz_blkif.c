/*
 * fuzz_blkif.c - libFuzzer target for the blkif request parser.
 *
 * The input is a hostile frontend: a few bytes choose the ABI, ring size,
 * index and device limits, the next ones are the ring entry, the rest fills
 * the indirect pages.  Every byte of the ring but the entry is poisoned for
 * AddressSanitizer, and so is every indirect-page byte past the segments in
 * use, so that reading or writing anything else is caught.  What the parser
 * accepts is checked against the rules it must enforce.
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Ilibblanket tests/fuzz/fuzz_blkif.c libblanket/blkif.c -o fuzz_blkif
 *   ./fuzz_blkif -max_total_time=60
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "fuzz.h"
#include "blkif.h"

#define HDR offsetof(struct blkif_sring, ring)
#define CONFIG_BYTES 17

/* Room for the largest ring, plus the shift that puts the entry on an
 * 8-byte boundary: ASan tracks memory in 8-byte granules, so only an aligned
 * entry has its first byte exactly at a poison boundary. */
static unsigned char ring_mem[BLK_MAX_RING_PAGES * BLK_PAGE_SIZE + 8]
	__attribute__((aligned(BLK_PAGE_SIZE)));
static unsigned char ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST][BLK_PAGE_SIZE]
	__attribute__((aligned(BLK_PAGE_SIZE)));

/* Take n bytes of input, zero-padded once it runs out. */
static void take(void *dst, size_t n, const uint8_t **data, size_t *size)
{
	size_t k = n < *size ? n : *size;

	memset(dst, 0, n);
	memcpy(dst, *data, k);
	*data += k;
	*size -= k;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool range_ok(uint64_t sector, uint64_t n, uint64_t disk)
{
	/* Checked the slow way, in 128 bits, unlike the parser. */
	return n == 0 || (unsigned __int128)sector + n <= disk;
}

/* Segments valid and summing to nr_sectors; the range on the disk. */
static void check_data(const struct blk_req *req, const struct blk_limits *lim)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < req->nr_segments; i++) {
		CHECK(req->seg[i].first_sect <= req->seg[i].last_sect);
		CHECK(req->seg[i].last_sect <= 7);
		CHECK(blk_seg_off(&req->seg[i]) + blk_seg_len(&req->seg[i]) <= BLK_PAGE_SIZE);
		sum += (unsigned)(req->seg[i].last_sect - req->seg[i].first_sect + 1);
	}
	CHECK(sum == req->nr_sectors);
	CHECK(range_ok(req->sector_number, req->nr_sectors, lim->sectors));
}

/* What an accepted (BLK_OK) direct request must satisfy. */
static void check_ok(const struct blk_req *req, const struct blk_limits *lim,
		     const unsigned char *entry, size_t discard_nr_at)
{
	switch (req->operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		CHECK(req->nr_segments >= 1);
		/* fall through */
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		CHECK(req->operation != BLKIF_OP_WRITE_BARRIER || lim->barrier);
		CHECK(req->operation != BLKIF_OP_FLUSH_DISKCACHE || lim->flush);
		CHECK(req->nr_segments <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
		CHECK(req->nr_segments == entry[1]);
		CHECK(!lim->readonly || req->operation == BLKIF_OP_READ || req->nr_segments == 0);
		check_data(req, lim);
		break;
	case BLKIF_OP_DISCARD:
		CHECK(lim->discard && !lim->readonly);
		CHECK(req->nr_segments == 0);
		CHECK(req->nr_sectors == get64(entry + discard_nr_at));
		CHECK(req->discard_secure == (entry[1] & BLKIF_DISCARD_SECURE));
		CHECK(range_ok(req->sector_number, req->nr_sectors, lim->sectors));
		break;
	default:
		CHECK(!"BLK_OK for an operation that has no direct form");
	}
}

static void check_need_indirect(const struct blk_req *req, const struct blk_limits *lim)
{
	unsigned max = lim->max_indirect_segments < BLK_MAX_INDIRECT_SEGMENTS
			       ? lim->max_indirect_segments : BLK_MAX_INDIRECT_SEGMENTS;

	CHECK(req->operation == BLKIF_OP_INDIRECT);
	CHECK(req->op == BLKIF_OP_READ || req->op == BLKIF_OP_WRITE);
	CHECK(!lim->readonly || req->op == BLKIF_OP_READ);
	CHECK(req->nr_segments >= 1 && req->nr_segments <= max);
	CHECK(req->nr_indirect_pages ==
	      (req->nr_segments + BLK_SEGS_PER_INDIRECT_PAGE - 1) / BLK_SEGS_PER_INDIRECT_PAGE);
	CHECK(req->nr_indirect_pages <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
}

/* Map the indirect pages: fill them from the input and leave readable only
 * the bytes holding the request's segments. */
static void map_indirect(const struct blk_req *req, const void *pages[],
			 const uint8_t **data, size_t *size)
{
	unsigned left = req->nr_segments, p;

	for (p = 0; p < req->nr_indirect_pages; p++) {
		size_t used = (left < BLK_SEGS_PER_INDIRECT_PAGE ? left : BLK_SEGS_PER_INDIRECT_PAGE) *
			      sizeof(struct blkif_request_segment);

		take(ind[p], BLK_PAGE_SIZE, data, size);
		ASAN_POISON_MEMORY_REGION(ind[p] + used, BLK_PAGE_SIZE - used);
		pages[p] = ind[p];
		left -= used / sizeof(struct blkif_request_segment);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned page_counts[] = { 1, 2, 4, 8, 16 };
	const void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST] = { 0 };
	unsigned char cfg[CONFIG_BYTES];
	struct blk_limits lim;
	struct blk_req *req, again;
	enum blkif_proto proto;
	enum blk_verdict v;
	unsigned char *ring, *entry;
	size_t slot_at, esize, id_at, discard_nr_at;
	unsigned ring_size;
	RING_IDX idx;
	int16_t status;
	uint64_t id;

	take(cfg, sizeof(cfg), &data, &size);
	proto = (enum blkif_proto)(cfg[0] % 3);
	ring_size = blkif_ring_size(proto, page_counts[cfg[1] % 5]);
	memcpy(&idx, cfg + 2, sizeof(idx));
	lim.sectors = get64(cfg + 6);
	lim.max_indirect_segments = (unsigned)cfg[14] | (unsigned)cfg[15] << 8;
	lim.readonly = cfg[16] & 1;
	lim.flush = cfg[16] & 2;
	lim.barrier = cfg[16] & 4;
	lim.discard = cfg[16] & 8;

	/* The layout, from xen/io/blkif.h for native, else the ABI's own. */
	if (proto == BLKIF_PROTO_X86_32 ||
	    (proto == BLKIF_PROTO_NATIVE && offsetof(struct blkif_request, id) == 4)) {
		esize = 108, id_at = 4, discard_nr_at = 20;
	} else {
		esize = 112, id_at = 8, discard_nr_at = 24;
	}
	CHECK(ring_size >= 32 && (ring_size & (ring_size - 1)) == 0);
	CHECK(HDR + (size_t)ring_size * esize + 8 <= sizeof(ring_mem));

	slot_at = HDR + (size_t)(idx & (ring_size - 1)) * esize;
	ring = ring_mem + (8 - slot_at % 8) % 8;
	entry = ring + slot_at;
	ASAN_POISON_MEMORY_REGION(ring_mem, sizeof(ring_mem));
	ASAN_UNPOISON_MEMORY_REGION(entry, esize);
	take(entry, esize, &data, &size);

	req = malloc(sizeof(*req));
	CHECK(req != NULL);
	v = blkif_copy_request(proto, ring, ring_size, idx, &lim, req);

	/* Whatever the verdict, the answer's id and operation are right. */
	CHECK(req->id == get64(entry + id_at));
	CHECK(req->operation == entry[0]);
	CHECK(req->op == (entry[0] == BLKIF_OP_INDIRECT ? entry[1] : entry[0]));
	CHECK(req->nr_segments <= BLK_MAX_INDIRECT_SEGMENTS);

	/* The same entry always gives the same answer. */
	CHECK(blkif_copy_request(proto, ring, ring_size, idx, &lim, &again) == v);
	CHECK(again.id == req->id && again.op == req->op &&
	      again.nr_segments == req->nr_segments && again.nr_sectors == req->nr_sectors);

	switch (v) {
	case BLK_OK:
		check_ok(req, &lim, entry, discard_nr_at);
		break;
	case BLK_NEED_INDIRECT:
		check_need_indirect(req, &lim);
		map_indirect(req, pages, &data, &size);
		v = blkif_copy_indirect(req, pages, &lim);
		CHECK(v == BLK_OK || v == BLK_ERROR);
		if (v == BLK_OK)
			check_data(req, &lim);
		CHECK(req->op == entry[1]);
		ASAN_UNPOISON_MEMORY_REGION(ind, sizeof(ind));
		break;
	case BLK_EOPNOTSUPP:
		CHECK((req->operation == BLKIF_OP_WRITE_BARRIER && !lim.barrier) ||
		      (req->operation == BLKIF_OP_FLUSH_DISKCACHE && !lim.flush) ||
		      (req->operation == BLKIF_OP_DISCARD && !lim.discard) ||
		      (req->operation == BLKIF_OP_INDIRECT && lim.max_indirect_segments == 0) ||
		      req->operation == BLKIF_OP_RESERVED_1 || req->operation > BLKIF_OP_INDIRECT);
		break;
	case BLK_ERROR:
		break;
	default:
		CHECK(!"unknown verdict");
	}

	/* Answer, in the same slot, and find it where the ABI says. */
	status = v == BLK_OK ? BLKIF_RSP_OKAY
	       : v == BLK_EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
	blkif_put_response(proto, ring, ring_size, idx, req->id, blk_req_rsp_op(req), status);
	memcpy(&id, entry, sizeof(id));
	CHECK(id == req->id);
	CHECK(entry[8] == req->op);
	CHECK(entry[9] == 0);
	CHECK((int16_t)(entry[10] | entry[11] << 8) == status);

	free(req);
	ASAN_UNPOISON_MEMORY_REGION(ring_mem, sizeof(ring_mem));
	return 0;
}
