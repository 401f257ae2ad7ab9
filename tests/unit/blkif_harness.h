/*
 * blkif_harness.h - what the blkif parser tests share (test_blkif.c,
 * test_blkif_ring.c): a ring in ordinary memory for each ABI, and requests
 * written as a frontend writes them.  See blkif_harness.c.
 */
#ifndef BLANKET_BLKIF_HARNESS_H
#define BLANKET_BLKIF_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "blkif.h"

#define PAGE BLK_PAGE_SIZE
#define HDR 64u    /* struct blkif_sring header, identical in every ABI */
#define FILL 0xa5u /* what unused ring bytes hold: never zero by luck */
#define DISK_SECTORS 1000000u

/* Where an ABI puts things (xen/io/blkif.h and blkback's common.h). */
struct layout {
	size_t entry;        /* entry stride: the request size */
	size_t id;           /* id, the same for every operation */
	size_t sector;       /* sector_number */
	size_t seg;          /* r/w segments (8 bytes each) */
	size_t discard_nr;   /* discard nr_sectors */
	size_t ind_grefs;    /* indirect_grefs */
	size_t rsp;          /* response size */
};

struct param {
	enum blkif_proto proto;
	unsigned nr_pages;
};
extern const struct param p_native, p_x86_32, p_x86_64;

struct ctx {
	enum blkif_proto proto;
	const struct layout *L;
	unsigned nr_pages, ring_size;
	RING_IDX idx;             /* where tests put their request */
	unsigned char *ring;
	struct blk_limits lim;
	struct blk_req req;
};

int setup(void **state);
int teardown(void **state);

/* ---- the frontend side: encode requests ---- */

static inline void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static inline void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static inline void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

struct tseg {
	uint32_t gref;
	uint8_t first, last;
};

unsigned char *entry_at(struct ctx *c, RING_IDX idx);
void put_seg(unsigned char *p, struct tseg s);
void put_rw(struct ctx *c, RING_IDX idx, uint8_t op, uint64_t id, uint64_t sector,
	    unsigned nseg, const struct tseg *seg);
void put_discard(struct ctx *c, RING_IDX idx, uint8_t flag, uint64_t id,
		 uint64_t sector, uint64_t nr);
void put_indirect(struct ctx *c, RING_IDX idx, uint8_t iop, uint16_t nseg,
		  uint64_t id, uint64_t sector);
enum blk_verdict parse(struct ctx *c);
void expect(struct ctx *c, enum blk_verdict want, uint64_t id, uint8_t operation,
	    uint8_t op);

#define ABI_TEST(fn, p) { #fn "/" #p, fn, setup, teardown, (void *)&p_##p }
#define ABI_TESTS(fn) ABI_TEST(fn, native), ABI_TEST(fn, x86_32), ABI_TEST(fn, x86_64)

#endif
