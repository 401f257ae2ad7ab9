/*
 * fake_xen.c - libblanket/xen.h without Xen, for unit tests; see fake_xen.h.
 *
 * Single-threaded and deliberately strict: it fails the calls real Xen
 * would fail (an ungranted ref, a writable map of a read-only grant, an
 * unmap that does not match a map, a notify on an unbound port) and counts
 * what a test may want to assert on (maps, unmaps, notifications, leaks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_xen.h"

#define MAX_PORTS 1024u
#define SELF_PREFIX "/local/domain/0/"

struct grant {
	uint32_t domid;
	grant_ref_t gref;
	unsigned page;
	bool writable;
};

struct mapping {
	void *addr;
	uint32_t count;
};

struct port {
	bool bound, masked, pending, queued;
	uint32_t domid;
	evtchn_port_t remote;
	unsigned notifies;
};

struct node {
	char *path, *value;
};

struct watch {
	char *path, *token;
};

struct event {
	char *path, *token;
};

struct tree {
	struct node *n;
	unsigned count, cap;
};

struct evq {
	struct event *e;
	unsigned count, cap;
};

struct bl_xen {
	/* guest memory */
	int memfd;
	unsigned char *guest;
	/* grants */
	struct grant *grants;
	unsigned nr_grants, cap_grants;
	struct mapping *maps;
	unsigned nr_maps, cap_maps;
	struct fake_gnt_stats gs;
	/* event channels; port 0 is never handed out, as in Xen */
	int evtchn_fd;
	struct port ports[MAX_PORTS];
	evtchn_port_t fifo[MAX_PORTS];
	unsigned fifo_head, fifo_len;
	unsigned bad_evtchn_calls;
	/* xenstore */
	int xs_fd;
	struct tree tree, snapshot;
	bl_xs_txn txn, next_txn;
	struct evq queue, txn_events;
	struct watch *watches;
	unsigned nr_watches, cap_watches;
	unsigned fail_commits;
};

static struct bl_xen *fx;

static void *xgrow(void *p, unsigned *cap, unsigned need, size_t elem)
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

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static void fd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

static void fd_clear(int fd)
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

static void tree_free(struct tree *t)
{
	for (unsigned i = 0; i < t->count; i++) {
		free(t->n[i].path);
		free(t->n[i].value);
	}
	free(t->n);
	memset(t, 0, sizeof(*t));
}

static void evq_clear(struct evq *q)
{
	for (unsigned i = 0; i < q->count; i++) {
		free(q->e[i].path);
		free(q->e[i].token);
	}
	q->count = 0;
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

void fake_gnt_grant(uint32_t domid, grant_ref_t gref, unsigned page, bool writable)
{
	struct grant *g;

	if (!fx || page >= FAKE_GUEST_PAGES)
		abort();
	g = grant_find(fx, domid, gref);
	if (!g) {
		fx->grants = xgrow(fx->grants, &fx->cap_grants, fx->nr_grants + 1, sizeof(*g));
		g = &fx->grants[fx->nr_grants++];
	}
	*g = (struct grant){ .domid = domid, .gref = gref, .page = page, .writable = writable };
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

int bl_evtchn_notify(struct bl_xen *x, evtchn_port_t port)
{
	if (!port_ok(x, port))
		return -1;
	x->ports[port].notifies++;
	return 0;
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

/* --- xenstore --------------------------------------------------------------- */

/* Relative paths are relative to our own domain's home, as in xenstored. */
static char *abs_path(const char *path)
{
	char *p;

	if (path[0] == '/')
		return xstrdup(path);
	if (asprintf(&p, SELF_PREFIX "%s", path) < 0)
		abort();
	return p;
}

/* Is `path` the node `dir` or below it? */
static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static struct node *node_find(struct tree *t, const char *path)
{
	for (unsigned i = 0; i < t->count; i++)
		if (!strcmp(t->n[i].path, path))
			return &t->n[i];
	return NULL;
}

static void node_set(struct tree *t, const char *path, const char *value)
{
	struct node *n = node_find(t, path);

	if (n) {
		free(n->value);
		n->value = xstrdup(value);
		return;
	}
	t->n = xgrow(t->n, &t->cap, t->count + 1, sizeof(*t->n));
	t->n[t->count++] = (struct node){ xstrdup(path), xstrdup(value) };
}

static void tree_copy(struct tree *dst, const struct tree *src)
{
	tree_free(dst);
	for (unsigned i = 0; i < src->count; i++)
		node_set(dst, src->n[i].path, src->n[i].value);
}

static void evq_push(struct evq *q, const char *path, const char *token)
{
	q->e = xgrow(q->e, &q->cap, q->count + 1, sizeof(*q->e));
	q->e[q->count++] = (struct event){ xstrdup(path), xstrdup(token) };
}

/* Queue an event now, or at commit when a transaction is open. */
static void fire(struct bl_xen *x, bl_xs_txn t, const char *path, const char *token)
{
	if (t) {
		evq_push(&x->txn_events, path, token);
		return;
	}
	evq_push(&x->queue, path, token);
	fd_signal(x->xs_fd);
}

/* xenstored's rule: a change to `path` fires every watch on it or on an
 * ancestor (with the changed path); a removal also fires watches below the
 * removed node (with the watch's own path). */
static void fire_watches(struct bl_xen *x, bl_xs_txn t, const char *path, bool removed)
{
	for (unsigned i = 0; i < x->nr_watches; i++) {
		struct watch *w = &x->watches[i];

		if (is_under(path, w->path))
			fire(x, t, path, w->token);
		else if (removed && is_under(w->path, path))
			fire(x, t, w->path, w->token);
	}
}

static bool txn_ok(struct bl_xen *x, bl_xs_txn t)
{
	if (t && t != x->txn) {
		errno = ENOENT;
		return false;
	}
	return true;
}

int bl_xs_fd(struct bl_xen *x)
{
	return x->xs_fd;
}

char *bl_xs_read(struct bl_xen *x, bl_xs_txn t, const char *path)
{
	char *p = abs_path(path), *v = NULL;
	struct node *n;

	if (txn_ok(x, t)) {
		n = node_find(&x->tree, p);
		if (n)
			v = xstrdup(n->value);
		else
			errno = ENOENT;
	}
	free(p);
	return v;
}

bool bl_xs_write(struct bl_xen *x, bl_xs_txn t, const char *path, const char *val)
{
	char *p, *slash;

	if (!txn_ok(x, t))
		return false;
	p = abs_path(path);
	/* Missing parents come into being, empty, as in xenstored. */
	for (slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (!node_find(&x->tree, p))
			node_set(&x->tree, p, "");
		*slash = '/';
	}
	node_set(&x->tree, p, val);
	fire_watches(x, t, p, false);
	free(p);
	return true;
}

bool bl_xs_rm(struct bl_xen *x, bl_xs_txn t, const char *path)
{
	char *p, *parent;
	bool found = false;

	if (!txn_ok(x, t))
		return false;
	p = abs_path(path);
	for (unsigned i = 0; i < x->tree.count;) {
		if (is_under(x->tree.n[i].path, p)) {
			free(x->tree.n[i].path);
			free(x->tree.n[i].value);
			x->tree.n[i] = x->tree.n[--x->tree.count];
			found = true;
		} else {
			i++;
		}
	}
	if (found) {
		fire_watches(x, t, p, true);
		free(p);
		return true;
	}
	/* Removing what is not there succeeds if its parent exists. */
	parent = xstrdup(p);
	*strrchr(parent, '/') = '\0';
	found = !parent[0] || node_find(&x->tree, parent);
	free(parent);
	free(p);
	if (!found)
		errno = ENOENT;
	return found;
}

char **bl_xs_directory(struct bl_xen *x, bl_xs_txn t, const char *path, unsigned *num)
{
	char *p, **vec, *s;
	size_t plen, bytes = 0;
	unsigned n = 0;

	if (!txn_ok(x, t))
		return NULL;
	p = abs_path(path);
	if (!node_find(&x->tree, p)) {
		free(p);
		errno = ENOENT;
		return NULL;
	}
	plen = strlen(p);
	/* Children: nodes exactly one component below p. */
	for (unsigned i = 0; i < x->tree.count; i++) {
		const char *c = x->tree.n[i].path;

		if (!strncmp(c, p, plen) && c[plen] == '/' && !strchr(c + plen + 1, '/')) {
			n++;
			bytes += strlen(c + plen + 1) + 1;
		}
	}
	/* One block, as libxenstore returns it: the pointers, then the names. */
	vec = malloc(sizeof(*vec) * (n + 1) + bytes);
	if (!vec)
		abort();
	s = (char *)(vec + n + 1);
	n = 0;
	for (unsigned i = 0; i < x->tree.count; i++) {
		const char *c = x->tree.n[i].path;

		if (!strncmp(c, p, plen) && c[plen] == '/' && !strchr(c + plen + 1, '/')) {
			vec[n++] = s;
			strcpy(s, c + plen + 1);
			s += strlen(s) + 1;
		}
	}
	vec[n] = NULL;
	*num = n;
	free(p);
	return vec;
}

bool bl_xs_watch(struct bl_xen *x, const char *path, const char *token)
{
	char *p = abs_path(path);

	x->watches = xgrow(x->watches, &x->cap_watches, x->nr_watches + 1, sizeof(*x->watches));
	x->watches[x->nr_watches++] = (struct watch){ p, xstrdup(token) };
	/* A new watch fires once at once, with its own path. */
	fire(x, 0, p, token);
	return true;
}

bool bl_xs_unwatch(struct bl_xen *x, const char *path, const char *token)
{
	char *p = abs_path(path);
	bool found = false;

	for (unsigned i = 0; i < x->nr_watches; i++)
		if (!strcmp(x->watches[i].path, p) && !strcmp(x->watches[i].token, token)) {
			free(x->watches[i].path);
			free(x->watches[i].token);
			x->watches[i] = x->watches[--x->nr_watches];
			found = true;
			break;
		}
	/* libxenstore drops events already queued for the token. */
	if (found)
		for (unsigned i = 0; i < x->queue.count;) {
			struct event *e = &x->queue.e[i];

			if (!strcmp(e->token, token) && is_under(e->path, p)) {
				free(e->path);
				free(e->token);
				memmove(e, e + 1, (x->queue.count - i - 1) * sizeof(*e));
				x->queue.count--;
			} else {
				i++;
			}
		}
	free(p);
	if (!found)
		errno = ENOENT;
	return found;
}

char **bl_xs_next_watch(struct bl_xen *x)
{
	struct event e;
	size_t lp, lt;
	char **vec;

	if (!x->queue.count) {
		fd_clear(x->xs_fd);
		errno = EAGAIN;
		return NULL;
	}
	e = x->queue.e[0];
	memmove(x->queue.e, x->queue.e + 1, (x->queue.count - 1) * sizeof(e));
	x->queue.count--;
	if (!x->queue.count)
		fd_clear(x->xs_fd);
	lp = strlen(e.path) + 1;
	lt = strlen(e.token) + 1;
	/* vec[0] path, vec[1] token, in one block: free(vec) frees all. */
	vec = malloc(2 * sizeof(*vec) + lp + lt);
	if (!vec)
		abort();
	vec[0] = (char *)(vec + 2);
	vec[1] = vec[0] + lp;
	memcpy(vec[0], e.path, lp);
	memcpy(vec[1], e.token, lt);
	free(e.path);
	free(e.token);
	return vec;
}

/* Writes in a transaction go straight to the tree (reads in it see them);
 * their watch events wait for the commit, and an abort or a failed commit
 * puts back the snapshot taken here.  Single-threaded, nobody writes
 * outside the transaction while it is open. */
bl_xs_txn bl_xs_begin(struct bl_xen *x)
{
	/* Single-threaded: one transaction at a time is all anyone needs. */
	if (x->txn) {
		errno = EBUSY;
		return 0;
	}
	x->txn = ++x->next_txn;
	if (!x->txn)
		x->txn = ++x->next_txn;
	tree_copy(&x->snapshot, &x->tree);
	evq_clear(&x->txn_events);
	return x->txn;
}

bool bl_xs_end(struct bl_xen *x, bl_xs_txn t, bool abort_it)
{
	bool commit = !abort_it;

	if (!t || t != x->txn) {
		errno = ENOENT;
		return false;
	}
	x->txn = 0;
	if (commit && x->fail_commits) {
		x->fail_commits--;
		commit = false;
	}
	if (!commit) {
		/* Undo every write and forget its events. */
		struct tree tmp = x->tree;

		x->tree = x->snapshot;
		x->snapshot = tmp;
		tree_free(&x->snapshot);
		evq_clear(&x->txn_events);
		if (abort_it)
			return true;
		errno = EAGAIN; /* "someone else committed first: retry" */
		return false;
	}
	tree_free(&x->snapshot);
	for (unsigned i = 0; i < x->txn_events.count; i++)
		fire(x, 0, x->txn_events.e[i].path, x->txn_events.e[i].token);
	evq_clear(&x->txn_events);
	return true;
}

void fake_xs_fail_commits(unsigned n)
{
	fx->fail_commits = n;
}

unsigned fake_xs_count(const char *prefix)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fx->tree.count; i++)
		n += !prefix || is_under(fx->tree.n[i].path, prefix);
	return n;
}

void fake_xs_dump(void)
{
	for (unsigned i = 0; i < fx->tree.count; i++)
		fprintf(stderr, "  %s = \"%s\"\n", fx->tree.n[i].path, fx->tree.n[i].value);
}

unsigned fake_xs_watches(void)
{
	return fx->nr_watches;
}

void fake_xs_drop_watches(void)
{
	for (unsigned i = 0; i < fx->nr_watches; i++) {
		free(fx->watches[i].path);
		free(fx->watches[i].token);
	}
	fx->nr_watches = 0;
	evq_clear(&fx->queue);
	fd_clear(fx->xs_fd);
}
