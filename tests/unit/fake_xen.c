/*
 * fake_xen.c - libblanket/xen.h without Xen, for unit tests; see fake_xen.h.
 * The xenstore half is fake_xs.c.
 *
 * Single-threaded and deliberately strict: it fails the calls real Xen
 * would fail (an ungranted ref, a writable map of a read-only grant, an
 * unmap that does not match a map, a notify on an unbound port) and counts
 * what a test may want to assert on (maps, unmaps, notifications, leaks).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_xen_priv.h"

struct bl_xen *fx;

void *xgrow(void *p, unsigned *cap, unsigned need, size_t elem)
{
	if (need <= *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	while (*cap < need)
		*cap *= 2;
	p = realloc(p, *cap * elem);
	if (!p)
		abort();
	return p;
}

void fd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

void fd_clear(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		abort();
}

/* --- open/close ------------------------------------------------------------ */

struct bl_xen *bl_xen_open(const char **what)
{
	struct bl_xen *x;
	size_t len = (size_t)FAKE_GUEST_PAGES * FAKE_PAGE_SIZE;

	*what = "fake xen";
	if (fx) {
		errno = EBUSY; /* one fake at a time */
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->memfd = memfd_create("fake-guest-memory", MFD_CLOEXEC);
	if (x->memfd < 0 || ftruncate(x->memfd, (off_t)len) < 0)
		abort();
	x->guest = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, x->memfd, 0);
	if (x->guest == MAP_FAILED)
		abort();
	x->evtchn_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	x->xs_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (x->evtchn_fd < 0 || x->xs_fd < 0)
		abort();
	fx = x;
	/* What xenstored gives every domain; blanketd reads its own domid. */
	bl_xs_write(x, 0, SELF_PREFIX "domid", "0");
	*what = NULL;
	return x;
}

void bl_xen_close(struct bl_xen *x)
{
	if (!x)
		return;
	for (unsigned i = 0; i < x->nr_maps; i++)
		munmap(x->maps[i].addr, (size_t)x->maps[i].count * FAKE_PAGE_SIZE);
	free(x->maps);
	free(x->grants);
	munmap(x->guest, (size_t)FAKE_GUEST_PAGES * FAKE_PAGE_SIZE);
	close(x->memfd);
	close(x->evtchn_fd);
	close(x->xs_fd);
	tree_free(&x->tree);
	tree_free(&x->snapshot);
	evq_clear(&x->queue);
	free(x->queue.e);
	evq_clear(&x->txn_events);
	free(x->txn_events.e);
	for (unsigned i = 0; i < x->nr_watches; i++) {
		free(x->watches[i].path);
		free(x->watches[i].token);
	}
	free(x->watches);
	if (fx == x)
		fx = NULL;
	free(x);
}

void *fake_guest_page(unsigned n)
{
	if (!fx || n >= FAKE_GUEST_PAGES)
		abort();
	return fx->guest + (size_t)n * FAKE_PAGE_SIZE;
}

/* --- grants ----------------------------------------------------------------- */

static struct grant *grant_find(struct bl_xen *x, uint32_t domid, grant_ref_t gref)
{
	for (unsigned i = 0; i < x->nr_grants; i++)
		if (x->grants[i].domid == domid && x->grants[i].gref == gref)
			return &x->grants[i];
	return NULL;
}

/* The entry for (domid, gref): the existing one, or a new one at the end. */
static struct grant *grant_slot(struct bl_xen *x, uint32_t domid, grant_ref_t gref)
{
	struct grant *g = grant_find(x, domid, gref);

	if (!g) {
		x->grants = xgrow(x->grants, &x->cap_grants, x->nr_grants + 1, sizeof(*g));
		g = &x->grants[x->nr_grants++];
	}
	return g;
}

void fake_gnt_grant(uint32_t domid, grant_ref_t gref, unsigned page, bool writable)
{
	if (!fx || page >= FAKE_GUEST_PAGES)
		abort();
	*grant_slot(fx, domid, gref) =
		(struct grant){ .domid = domid, .gref = gref, .page = page, .writable = writable };
}

void fake_gnt_revoke(uint32_t domid, grant_ref_t gref)
{
	struct grant *g = grant_find(fx, domid, gref);

	if (g)
		*g = fx->grants[--fx->nr_grants];
}

const void *fake_gnt_page(uint32_t domid, grant_ref_t gref)
{
	struct grant *g = grant_find(fx, domid, gref);

	return g ? fx->guest + (size_t)g->page * FAKE_PAGE_SIZE : NULL;
}

struct fake_gnt_stats fake_gnt_stats(void)
{
	return fx->gs;
}

int bl_gnt_set_max(struct bl_xen *x, uint32_t count)
{
	x->gs.max_grants = count;
	return 0;
}

void *bl_gnt_map_refs(struct bl_xen *x, uint32_t count, const uint32_t *domids,
		      const grant_ref_t *refs, bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	size_t len = (size_t)count * FAKE_PAGE_SIZE;
	unsigned char *base;

	x->gs.map_calls++;
	/* Like gntdev's mmap(): the whole batch fails, naming no ref. */
	for (uint32_t i = 0; i < count; i++) {
		struct grant *g = grant_find(x, domids[i], refs[i]);

		if (!g || (writable && !g->writable)) {
			x->gs.map_failures++;
			errno = EINVAL;
			return NULL;
		}
	}
	if (count == 0) {
		x->gs.map_failures++;
		errno = EINVAL;
		return NULL;
	}
	/* Reserve the range, then put each guest page at its place in it. */
	base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		abort();
	for (uint32_t i = 0; i < count; i++) {
		struct grant *g = grant_find(x, domids[i], refs[i]);
		void *p = mmap(base + (size_t)i * FAKE_PAGE_SIZE, FAKE_PAGE_SIZE, prot,
			       MAP_SHARED | MAP_FIXED, x->memfd, (off_t)g->page * FAKE_PAGE_SIZE);

		if (p == MAP_FAILED)
			abort();
	}
	x->maps = xgrow(x->maps, &x->cap_maps, x->nr_maps + 1, sizeof(*x->maps));
	x->maps[x->nr_maps++] = (struct mapping){ base, count };
	x->gs.pages_mapped += count;
	x->gs.outstanding++;
	x->gs.outstanding_pages += count;
	return base;
}

void *bl_gnt_map(struct bl_xen *x, uint32_t domid, uint32_t count, const grant_ref_t *refs,
		 bool writable)
{
	uint32_t *domids = malloc(((size_t)count + 1) * sizeof(*domids));
	void *p;

	if (!domids)
		abort();
	for (uint32_t i = 0; i < count; i++)
		domids[i] = domid;
	p = bl_gnt_map_refs(x, count, domids, refs, writable);
	free(domids);
	return p;
}

int bl_gnt_unmap(struct bl_xen *x, void *addr, uint32_t count)
{
	for (unsigned i = 0; i < x->nr_maps; i++)
		if (x->maps[i].addr == addr && x->maps[i].count == count) {
			munmap(addr, (size_t)count * FAKE_PAGE_SIZE);
			x->maps[i] = x->maps[--x->nr_maps];
			x->gs.unmap_calls++;
			x->gs.outstanding--;
			x->gs.outstanding_pages -= count;
			return 0;
		}
	/* gntdev would refuse an address/length that is not one mapping. */
	x->gs.bad_unmaps++;
	errno = EINVAL;
	return -1;
}

/* The guest-memory address of a copy end, or NULL with *st set. */
static unsigned char *copy_end(struct bl_xen *x, const struct bl_copy_ptr *p, uint16_t len,
			       bool dest, int16_t *st)
{
	struct grant *g;

	if (!p->foreign)
		return p->virt;
	g = grant_find(x, p->domid, p->gref);
	if (!g) {
		*st = GNTST_bad_gntref;
		return NULL;
	}
	if ((unsigned)p->offset + len > FAKE_PAGE_SIZE) {
		*st = GNTST_bad_copy_arg;
		return NULL;
	}
	if (dest && !g->writable) {
		*st = GNTST_general_error;
		return NULL;
	}
	if (g->self)
		return g->self + p->offset;
	return x->guest + (size_t)g->page * FAKE_PAGE_SIZE + p->offset;
}

int bl_gnt_copy(struct bl_xen *x, struct bl_gnt_copy_seg *segs, unsigned n)
{
	x->gs.copy_calls++;
	for (unsigned i = 0; i < n; i++) {
		struct bl_gnt_copy_seg *s = &segs[i];
		int16_t st = GNTST_okay;
		unsigned char *src = copy_end(x, &s->src, s->len, false, &st);
		unsigned char *dst = src ? copy_end(x, &s->dst, s->len, true, &st) : NULL;

		x->gs.copy_segs++;
		if (!src || !dst) {
			s->status = st;
			x->gs.copy_errors++;
			continue;
		}
		memmove(dst, src, s->len);
		s->status = GNTST_okay;
		x->gs.copy_bytes += s->len;
		x->gs.copy_foreign_both += s->src.foreign && s->dst.foreign;
	}
	return 0;
}

static bool self_grants;
static grant_ref_t next_self_gref = 0x100000;

void fake_self_grants(bool on)
{
	self_grants = on;
}

/* Plain memory, as without xen-gntalloc; after fake_self_grants(true), each
 * page also granted to FAKE_SELF_DOMID, as xen-gntalloc does. */
int bl_self_pages_alloc(struct bl_xen *x, unsigned count, struct bl_self_pages *p)
{
	(void)x;
	*p = (struct bl_self_pages){ .count = count, .addr = aligned_alloc(4096, (size_t)count * 4096) };
	if (!p->addr)
		return -1;
	memset(p->addr, 0, (size_t)count * 4096);
	if (self_grants && fx) {
		p->refs = calloc(count, sizeof(*p->refs));
		if (!p->refs)
			abort();
		p->domid = FAKE_SELF_DOMID;
		for (unsigned i = 0; i < count; i++) {
			p->refs[i] = next_self_gref++;
			*grant_slot(fx, FAKE_SELF_DOMID, p->refs[i]) =
				(struct grant){ .domid = FAKE_SELF_DOMID, .gref = p->refs[i],
						.writable = true, .self = p->addr + (size_t)i * 4096 };
		}
	}
	return 0;
}

void bl_self_pages_free(struct bl_xen *x, struct bl_self_pages *p)
{
	(void)x;
	for (unsigned i = 0; p->refs && fx && i < p->count; i++)
		fake_gnt_revoke(FAKE_SELF_DOMID, p->refs[i]);
	free(p->refs);
	free(p->addr);
	*p = (struct bl_self_pages){ 0 };
}

struct bl_copy_ptr bl_gnt_probe_sink(struct bl_xen *x)
{
	static uint8_t scratch;

	(void)x;
	return (struct bl_copy_ptr){ .virt = &scratch };
}

/* --- event channels ----------------------------------------------------------- */

static void port_queue(struct bl_xen *x, evtchn_port_t p)
{
	if (x->ports[p].queued)
		return;
	x->ports[p].queued = true;
	x->fifo[(x->fifo_head + x->fifo_len++) % MAX_PORTS] = p;
	fd_signal(x->evtchn_fd);
}

int bl_evtchn_fd(struct bl_xen *x)
{
	return x->evtchn_fd;
}

int bl_evtchn_bind(struct bl_xen *x, uint32_t domid, evtchn_port_t remote_port)
{
	for (evtchn_port_t p = 1; p < MAX_PORTS; p++)
		if (!x->ports[p].bound) {
			x->ports[p] = (struct port){ .bound = true, .domid = domid,
						     .remote = remote_port };
			return (int)p;
		}
	errno = ENOSPC;
	return -1;
}

static bool port_ok(struct bl_xen *x, evtchn_port_t p)
{
	if (p == 0 || p >= MAX_PORTS || !x->ports[p].bound) {
		x->bad_evtchn_calls++;
		errno = EINVAL;
		return false;
	}
	return true;
}

int bl_evtchn_unbind(struct bl_xen *x, evtchn_port_t port)
{
	if (!port_ok(x, port))
		return -1;
	x->ports[port].bound = false;
	return 0;
}

int bl_evtchn_notify_many(struct bl_xen *x, const evtchn_port_t *ports, unsigned n)
{
	int rc = 0;

	x->notify_calls++;
	for (unsigned i = 0; i < n; i++) {
		if (!port_ok(x, ports[i]))
			rc = -1;
		else
			x->ports[ports[i]].notifies++;
	}
	return rc;
}

bool bl_evtchn_multicall(struct bl_xen *x)
{
	(void)x;
	return false;
}

int bl_evtchn_pending(struct bl_xen *x, evtchn_port_t *ports, unsigned max)
{
	unsigned n = 0;

	while (n < max && x->fifo_len) {
		evtchn_port_t p = x->fifo[x->fifo_head];

		x->fifo_head = (x->fifo_head + 1) % MAX_PORTS;
		x->fifo_len--;
		x->ports[p].queued = false;
		/* An unbound port's leftover event is dropped, as the driver does. */
		if (!x->ports[p].bound)
			continue;
		/* The evtchn driver masks a port when it delivers it. */
		x->ports[p].masked = true;
		ports[n++] = p;
	}
	if (!x->fifo_len)
		fd_clear(x->evtchn_fd);
	return (int)n;
}

int bl_evtchn_unmask(struct bl_xen *x, const evtchn_port_t *ports, unsigned n)
{
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		evtchn_port_t p = ports[i];

		if (!port_ok(x, p)) {
			rc = -1;
			continue;
		}
		x->ports[p].masked = false;
		if (x->ports[p].pending) {
			x->ports[p].pending = false;
			port_queue(x, p);
		}
	}
	return rc;
}

int fake_evtchn_local_port(uint32_t domid, evtchn_port_t remote_port)
{
	for (evtchn_port_t p = 1; p < MAX_PORTS; p++)
		if (fx->ports[p].bound && fx->ports[p].domid == domid &&
		    fx->ports[p].remote == remote_port)
			return (int)p;
	return -1;
}

void fake_evtchn_kick(evtchn_port_t port)
{
	struct port *p;

	if (port == 0 || port >= MAX_PORTS || !fx->ports[port].bound)
		return; /* nobody listens */
	p = &fx->ports[port];
	if (p->masked)
		p->pending = true;
	else
		port_queue(fx, port);
}

unsigned fake_evtchn_notify_calls(void)
{
	return fx->notify_calls;
}

unsigned fake_evtchn_notifies(evtchn_port_t port)
{
	return port < MAX_PORTS ? fx->ports[port].notifies : 0;
}

unsigned fake_evtchn_bound(void)
{
	unsigned n = 0;

	for (evtchn_port_t p = 1; p < MAX_PORTS; p++)
		n += fx->ports[p].bound;
	return n;
}

unsigned fake_evtchn_bad_calls(void)
{
	return fx->bad_evtchn_calls;
}
