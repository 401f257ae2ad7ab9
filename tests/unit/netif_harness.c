/*
 * netif_harness.c - what the tests of the netif parsing layer
 * (libblanket/netif.c) share; see netif_harness.h.
 *
 * Requests are written the way a frontend would, byte by byte at the
 * offsets netif.h's diagrams give (not through the parser's structs, so that
 * a layout mistake there cannot hide), into rings in ordinary memory.  The
 * expected verdicts are xen-netback's (netback.c, hash.c).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "netif_harness.h"

int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->ring = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(c->ring != MAP_FAILED);
	memset(c->ring, FILL, PAGE);
	c->size = netif_tx_ring_size(1);
	c->cons = c->prod = c->rsp = 7;
	*state = c;
	return 0;
}

int teardown(void **state)
{
	struct ctx *c = *state;

	munmap(c->ring, PAGE);
	free(c);
	return 0;
}

/* ---- the frontend side ---- */

unsigned char *tx_at(struct ctx *c, RING_IDX i)
{
	return c->ring + HDR + (size_t)(i & (c->size - 1)) * TXE;
}

/* tx request: gref @0, offset @4, flags @6, id @8, size @10 */
void put_tx(struct ctx *c, RING_IDX i, uint32_t gref, uint16_t off, uint16_t flags,
	    uint16_t id, uint16_t size)
{
	unsigned char *e = tx_at(c, i);

	put32(e, gref);
	put16(e + 4, off);
	put16(e + 6, flags);
	put16(e + 8, id);
	put16(e + 10, size);
}

/* extra info: type @0, flags @1, 6 bytes of type-specific data @2 */
void put_extra(struct ctx *c, RING_IDX i, uint8_t type, uint8_t flags, const uint8_t d[6])
{
	unsigned char *e = tx_at(c, i);

	e[0] = type;
	e[1] = flags;
	memcpy(e + 2, d, 6);
}

/* GSO: size @2, type @4, pad @5, features @6 */
void put_gso(struct ctx *c, RING_IDX i, uint8_t flags, uint16_t size, uint8_t type)
{
	uint8_t d[6] = { 0 };

	memcpy(d, &size, 2);
	d[2] = type;
	d[4] = 0x34; /* features: ignored */
	put_extra(c, i, XEN_NETIF_EXTRA_TYPE_GSO, flags, d);
}

/*
 * A data packet at index at: the first slot (own share `own` bytes), then
 * `further` slots of `frag` bytes each, chained with more_data; first_flags
 * adds to the first slot's flags (more_data is set as needed).  Extras are
 * not written: with NETTXF_extra_info the caller writes them at at + 1 and
 * passes their count.  Returns the index after the packet.
 */
RING_IDX put_packet(struct ctx *c, RING_IDX at, uint16_t own, unsigned further,
			   uint16_t frag, uint16_t first_flags, unsigned nextras)
{
	RING_IDX i = at + 1 + nextras;
	unsigned k;

	put_tx(c, at, GREF0, 0, first_flags | (further ? NETTXF_more_data : 0), ID0,
	       (uint16_t)(own + further * frag));
	for (k = 1; k <= further; k++, i++)
		put_tx(c, i, GREF0 + k, 0, k < further ? NETTXF_more_data : 0,
		       (uint16_t)(ID0 + k), frag);
	return i;
}

enum netif_tx_verdict parse(struct ctx *c)
{
	return netif_tx_copy_packet(c->ring, c->size, c->cons, c->prod, c->rsp, &c->pkt);
}

void expect(struct ctx *c, enum netif_tx_verdict v, enum netif_tx_reason why,
	    unsigned consumed)
{
	assert_int_equal(parse(c), v);
	assert_int_equal(c->pkt.reason, why);
	if (v != NETIF_TX_FATAL) {
		assert_int_equal(c->pkt.consumed, consumed);
		assert_int_equal(c->pkt.consumed, c->pkt.nr_slots + c->pkt.nr_extras);
	}
}

/* The ids of an ERROR packet: the first, then the further slots in order. */
void expect_ids(struct ctx *c, unsigned nr_slots)
{
	unsigned k;

	assert_int_equal(c->pkt.nr_slots, nr_slots);
	for (k = 0; k < nr_slots; k++)
		assert_int_equal(c->pkt.slot[k].id, ID0 + k);
}

#if defined(__x86_64__) && defined(__linux__)
/*
 * Watch every access to the ring page while the parser runs: the page is
 * made inaccessible; each fault records the address, opens the page and
 * single-steps the faulting instruction (trap flag), after which the page
 * is closed again.
 */
#define TRACE_MAX 512
static unsigned char *trace_page;
static volatile unsigned trace_n;
static uintptr_t trace_addr[TRACE_MAX];
static volatile bool trace_write;

static void trace_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)sig;
	if (a < (uintptr_t)trace_page || a >= (uintptr_t)trace_page + PAGE)
		abort(); /* a real crash */
	if (uc->uc_mcontext.gregs[REG_ERR] & 2)
		trace_write = true;
	if (trace_n < TRACE_MAX)
		trace_addr[trace_n++] = a;
	mprotect(trace_page, PAGE, PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= 0x100;
}

static void trace_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	mprotect(trace_page, PAGE, PROT_NONE);
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
}

void trace_start(struct trace *t, unsigned char *page)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = trace_segv;
	assert_int_equal(sigaction(SIGSEGV, &sa, &t->old_segv), 0);
	sa.sa_sigaction = trace_trap;
	assert_int_equal(sigaction(SIGTRAP, &sa, &t->old_trap), 0);
	trace_page = page;
	trace_n = 0;
	trace_write = false;
	assert_int_equal(mprotect(page, PAGE, PROT_NONE), 0);
}

void trace_stop(struct trace *t)
{
	assert_int_equal(mprotect(trace_page, PAGE, PROT_READ | PROT_WRITE), 0);
	sigaction(SIGSEGV, &t->old_segv, NULL);
	sigaction(SIGTRAP, &t->old_trap, NULL);
}

/*
 * The accesses of one parse, as slot positions relative to first_slot:
 * all reads, none in the header, each within the [0, nslots) slots, slots
 * visited in order and never revisited, and no address read twice.  The
 * compiler may split the one copy of a slot into several loads (gcc: 8 + 4
 * bytes; clang: one per field), but never loads the same place twice;
 * reading a field again after the copy would.
 */
void check_trace(size_t entry, unsigned ring_size, RING_IDX first_slot, unsigned nslots)
{
	unsigned k, j, last = 0;

	assert_false(trace_write);
	assert_true(trace_n < TRACE_MAX);
	assert_true(trace_n >= nslots);
	for (k = 0; k < trace_n; k++) {
		uintptr_t off = trace_addr[k] - (uintptr_t)trace_page;
		unsigned slot, pos;

		assert_true(off >= HDR);
		slot = (unsigned)((off - HDR) / entry);
		assert_true(slot < ring_size);
		pos = (slot - first_slot) & (ring_size - 1);
		assert_true(pos < nslots);
		assert_true(k == 0 || pos == last || pos == last + 1);
		last = pos;
		for (j = 0; j < k; j++)
			assert_true(trace_addr[j] != trace_addr[k]);
	}
	assert_int_equal(last + 1, nslots);
}
#endif
