/*
 * vbd_harness.h - the fixture the vbd tests share (test_vbd.c,
 * test_vbd_io.c, test_vbd_grants.c, test_vbd_hostile.c): blanketd's real
 * block backend on a libev loop over fake_xen.c and a temporary raw image,
 * the test as toolstack and blkfront.  See vbd_harness.c.
 */
#ifndef BLANKET_VBD_HARNESS_H
#define BLANKET_VBD_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_xen.h"
#include "test_loop.h"
#include "vbd.h"

/* xen/io/ring.h's macros expect the OS to provide these. */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#define DOMID 5u
#define DEVID 51712u            /* xvda */
#define DEVID2 51728u           /* xvdb */
#define IMG_BYTES (8u << 20)
#define IMG_SECTORS (IMG_BYTES / 512u)
#define TIMEOUT_MS 5000
/* Guest grant refs differ from page numbers so a mix-up shows. */
#define GREF(page) (0x10000u + (page))
#define IMG_SEED 0xf11eu        /* the image's initial contents */

/*
 * The x86_32 ring ("x86_32-abi"): 108-byte requests and 12-byte responses,
 * 64-bit fields only 4-byte aligned.  Described as bytes so that the test
 * does not share blkif.c's structs: the offsets (struct layout, in
 * vbd_harness.c) are the ABI, checked by hand against blkback's common.h.
 */
struct x32_req { uint8_t b[108]; };
struct x32_rsp { uint8_t b[12]; };
DEFINE_RING_TYPES(x32, struct x32_req, struct x32_rsp);

/* The fixture: setup() builds it, teardown() checks nothing leaked. */
struct vbd_test {
	struct bl_xen *xen;
	struct ev_loop *loop;
	struct bl_config cfg;
	struct test_loop tl;
	char img[64];
	int img_fd;
	unsigned next_page;        /* guest page allocator */
	evtchn_port_t next_remote; /* frontend port allocator */
};
extern struct vbd_test T;

struct feq {
	unsigned first_page;      /* the ring's pages, contiguous */
	evtchn_port_t remote;     /* our port, as written to xenstore */
	int local;                /* the backend's end of it */
	union {
		struct blkif_front_ring n;
		struct x32_front_ring x;
	} r;
	uint64_t next_id;
};

struct fe {
	uint32_t domid, devid;
	char be[128], fe[128];
	const char *protocol;
	bool x32, persistent;
	unsigned order, nq;
	struct feq q[4];
};

struct rsp {
	uint64_t id;
	uint8_t op;
	int16_t status;
};

/* the fixture */
bool run_until(bool (*cond)(const void *), const void *arg);
void run_for(int ms);
void fill(void *p, size_t len, uint32_t seed);
void file_write(uint64_t off, const void *buf, size_t len);
void file_read(uint64_t off, void *buf, size_t len);
uint8_t *file_snapshot(void);
void assert_file_is(uint8_t *snap);
int setup(void **state);
bool quiesced(const void *arg);
int teardown(void **state);

/* guest memory */
unsigned guest_alloc(unsigned n);
unsigned data_page(bool writable);
uint8_t *gp(unsigned page);
struct blkif_request_segment seg_of(unsigned page, uint8_t first, uint8_t last);

/* the frontend */
void fe_init(struct fe *f, uint32_t devid);
void toolstack_add(const struct fe *f, const char *params, const char *mode);
void fe_connect(struct fe *f);
void fe_find_ports(struct fe *f);
void connect_device(struct fe *f, const char *params, const char *mode);
struct vbd *find_vbd(uint32_t devid);
void *fe_sring(struct fe *f, unsigned qi);
uint8_t *fe_slot(struct fe *f, unsigned qi, uint64_t *id);
uint64_t put_rw(struct fe *f, unsigned qi, uint8_t op, uint64_t sector,
		const struct blkif_request_segment *seg, unsigned nseg);
uint64_t put_discard(struct fe *f, unsigned qi, uint64_t sector, uint64_t nr);
uint64_t put_indirect(struct fe *f, unsigned qi, uint8_t iop, uint64_t sector,
		      uint16_t nseg, const unsigned *ipages, unsigned nipages);
void fe_push(struct fe *f, unsigned qi);
unsigned fe_unconsumed(struct fe *f, unsigned qi);
struct rsp fe_pop(struct fe *f, unsigned qi);
void fe_wait(struct fe *f, unsigned qi, unsigned n);
int16_t fe_answer(struct fe *f, unsigned qi, uint64_t id, uint8_t op);
int16_t do_rw(struct fe *f, unsigned qi, uint8_t op, uint64_t sector,
	      const struct blkif_request_segment *seg, unsigned nseg);
int16_t do_discard(struct fe *f, unsigned qi, uint64_t sector, uint64_t nr);
void full_segs(struct blkif_request_segment *seg, const unsigned *pages, unsigned n);
void fill_indirect(const unsigned *ipages, const struct blkif_request_segment *seg,
		   unsigned n);
struct vbd_ring *be_ring(uint32_t devid, unsigned qi);

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TC(f, conf) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)conf)

#endif
