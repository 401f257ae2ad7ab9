/*
 * netif_harness.h - what the netif parser tests share (test_netif_tx.c,
 * test_netif_ring.c, test_netif_ctrl.c): a ring page in ordinary memory,
 * requests written as a frontend writes them, and a tracer of the
 * parser's accesses to the page.  See netif_harness.c.
 */
#ifndef BLANKET_NETIF_HARNESS_H
#define BLANKET_NETIF_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "netif.h"

#define PAGE NETIF_PAGE_SIZE
#define HDR 64u     /* struct *_sring header */
#define TXE 12u     /* TX slot */
#define RXE 8u      /* RX slot */
#define CTE 16u     /* ctrl slot */
#define FILL 0xa5u  /* what unused ring bytes hold: never zero by luck */

#define ID0 1000u   /* id of a packet's first slot; further slot i has ID0 + i */
#define GREF0 500u

struct ctx {
	unsigned char *ring;  /* one page of its own (mmap), so it can be protected */
	unsigned size;        /* entries */
	RING_IDX cons, prod, rsp;
	struct netif_tx_pkt pkt;
};

int setup(void **state);
int teardown(void **state);

/* ---- the frontend side ---- */

static inline void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static inline void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static inline uint16_t get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, sizeof(v)); return v; }
static inline uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, sizeof(v)); return v; }

unsigned char *tx_at(struct ctx *c, RING_IDX i);
void put_tx(struct ctx *c, RING_IDX i, uint32_t gref, uint16_t off, uint16_t flags,
	    uint16_t id, uint16_t size);
void put_extra(struct ctx *c, RING_IDX i, uint8_t type, uint8_t flags, const uint8_t d[6]);
void put_gso(struct ctx *c, RING_IDX i, uint8_t flags, uint16_t size, uint8_t type);
RING_IDX put_packet(struct ctx *c, RING_IDX at, uint16_t own, unsigned further,
		    uint16_t frag, uint16_t first_flags, unsigned nextras);
enum netif_tx_verdict parse(struct ctx *c);
void expect(struct ctx *c, enum netif_tx_verdict v, enum netif_tx_reason why,
	    unsigned consumed);
void expect_ids(struct ctx *c, unsigned nr_slots);

#if defined(__x86_64__) && defined(__linux__)
/* ---- the parser's accesses to the ring page (netif_harness.c) ---- */

struct trace {
	struct sigaction old_segv, old_trap;
};

void trace_start(struct trace *t, unsigned char *page);
void trace_stop(struct trace *t);
void check_trace(size_t entry, unsigned ring_size, RING_IDX first_slot, unsigned nslots);
#endif

#define TX_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#endif
