/*
 * fake_xs.c - the xenstore of the in-memory Xen (fake_xen.h): a tree of
 * nodes with transactions and watches, as xenstored keeps them.  The rest
 * of the fake is fake_xen.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_xen_priv.h"

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

void tree_free(struct tree *t)
{
	for (unsigned i = 0; i < t->count; i++) {
		free(t->n[i].path);
		free(t->n[i].value);
	}
	free(t->n);
	memset(t, 0, sizeof(*t));
}

void evq_clear(struct evq *q)
{
	for (unsigned i = 0; i < q->count; i++) {
		free(q->e[i].path);
		free(q->e[i].token);
	}
	q->count = 0;
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
