/*
 * blkif_harness.c - what the tests of the blkif request parser
 * (libblanket/blkif.c) share; see blkif_harness.h.
 *
 * Requests are written the way a frontend would, byte by byte at the
 * offsets each ABI defines (not through the parser's own structs, so that a
 * layout mistake there cannot hide), into rings in ordinary memory.  Most
 * tests run once per ABI; each ABI gets a different ring size (1, 2 and 16
 * pages) so that entry offsets are exercised on all three.
 */
#include <stdlib.h>
#include <string.h>

#include "blkif_harness.h"

static const struct layout layout_x86_32 = { 108, 4, 12, 20, 20, 24, 12 };
static const struct layout layout_x86_64 = { 112, 8, 16, 24, 24, 28, 16 };

static const struct layout *layout_of(enum blkif_proto proto)
{
	if (proto == BLKIF_PROTO_NATIVE)
		return offsetof(struct blkif_request, id) == 4 ? &layout_x86_32 : &layout_x86_64;
	return proto == BLKIF_PROTO_X86_32 ? &layout_x86_32 : &layout_x86_64;
}

const struct param p_native = { BLKIF_PROTO_NATIVE, 1 };
const struct param p_x86_32 = { BLKIF_PROTO_X86_32, 2 };
const struct param p_x86_64 = { BLKIF_PROTO_X86_64, 16 };

int setup(void **state)
{
	const struct param *p = *state;
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->proto = p->proto;
	c->L = layout_of(p->proto);
	c->nr_pages = p->nr_pages;
	c->ring_size = blkif_ring_size(p->proto, p->nr_pages);
	c->idx = 7;
	c->ring = aligned_alloc(PAGE, (size_t)p->nr_pages * PAGE);
	assert_non_null(c->ring);
	memset(c->ring, FILL, (size_t)p->nr_pages * PAGE);
	c->lim = (struct blk_limits){
		.sectors = DISK_SECTORS, .max_indirect_segments = 256,
		.flush = true, .barrier = true, .discard = true,
	};
	*state = c;
	return 0;
}

int teardown(void **state)
{
	struct ctx *c = *state;

	free(c->ring);
	free(c);
	return 0;
}

/* ---- the frontend side: encode requests ---- */

unsigned char *entry_at(struct ctx *c, RING_IDX idx)
{
	return c->ring + HDR + (size_t)(idx & (c->ring_size - 1)) * c->L->entry;
}

void put_seg(unsigned char *p, struct tseg s)
{
	put32(p, s.gref);
	p[4] = s.first;
	p[5] = s.last;
}

/* READ, WRITE, WRITE_BARRIER or FLUSH_DISKCACHE, with nseg segments; segment
 * i is seg[i] if given, else a whole page.  Slots past nseg keep FILL. */
void put_rw(struct ctx *c, RING_IDX idx, uint8_t op, uint64_t id, uint64_t sector,
	    unsigned nseg, const struct tseg *seg)
{
	unsigned char *e = entry_at(c, idx);
	unsigned i;

	e[0] = op;
	e[1] = (uint8_t)nseg;
	put16(e + 2, 0x51ca); /* handle: ignored */
	put64(e + c->L->id, id);
	put64(e + c->L->sector, sector);
	for (i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		put_seg(e + c->L->seg + 8 * i,
			seg ? seg[i] : (struct tseg){ 100 + i, 0, 7 });
}

void put_discard(struct ctx *c, RING_IDX idx, uint8_t flag, uint64_t id,
		 uint64_t sector, uint64_t nr)
{
	unsigned char *e = entry_at(c, idx);

	e[0] = BLKIF_OP_DISCARD;
	e[1] = flag;
	put64(e + c->L->id, id);
	put64(e + c->L->sector, sector);
	put64(e + c->L->discard_nr, nr);
}

void put_indirect(struct ctx *c, RING_IDX idx, uint8_t iop, uint16_t nseg,
		  uint64_t id, uint64_t sector)
{
	unsigned char *e = entry_at(c, idx);
	unsigned i;

	e[0] = BLKIF_OP_INDIRECT;
	e[1] = iop;
	put16(e + 2, nseg);
	put64(e + c->L->id, id);
	put64(e + c->L->sector, sector);
	for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		put32(e + c->L->ind_grefs + 4 * i, 0x1000 + i);
}

enum blk_verdict parse(struct ctx *c)
{
	return blkif_copy_request(c->proto, c->ring, c->ring_size, c->idx, &c->lim, &c->req);
}

/* A verdict, with the id and the op to answer filled in. */
void expect(struct ctx *c, enum blk_verdict want, uint64_t id, uint8_t operation,
	    uint8_t op)
{
	assert_int_equal(parse(c), want);
	assert_int_equal(c->req.id, id);
	assert_int_equal(c->req.operation, operation);
	assert_int_equal(c->req.op, op);
	assert_int_equal(blk_req_rsp_op(&c->req), op);
}
