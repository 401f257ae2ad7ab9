/*
 * test_loop.c - the tests' event loop (test_loop.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "test_loop.h"

/* The loop the xenstore helpers use: the last one started. */
static struct test_loop *cur;

static void on_xenstore(struct ev_loop *loop, ev_io *w, int revents)
{
	struct test_loop *l = (struct test_loop *)((char *)w - offsetof(struct test_loop, xs_w));
	char **vec;

	(void)loop, (void)revents;
	while ((vec = bl_xs_next_watch(l->xen))) {
		l->xs_event(vec[0], vec[1]);
		free(vec);
	}
}

static void on_evtchn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct test_loop *l = (struct test_loop *)((char *)w - offsetof(struct test_loop, evtchn_w));
	evtchn_port_t ports[64];
	int n;

	(void)loop, (void)revents;
	while ((n = bl_evtchn_pending(l->xen, ports, 64)) > 0) {
		for (int i = 0; i < n; i++)
			l->evtchn_event(ports[i]);
		bl_evtchn_unmask(l->xen, ports, (unsigned)n);
		if (n < 64)
			break;
	}
}

/* Only there so that EVRUN_ONCE never sleeps for long. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void test_loop_start(struct test_loop *l, struct ev_loop *loop, struct bl_xen *xen,
		     void (*xs_event)(const char *path, const char *token),
		     void (*evtchn_event)(evtchn_port_t port), int timeout_ms)
{
	cur = l;
	l->timeout_ms = timeout_ms;
	l->loop = loop;
	l->xen = xen;
	l->xs_event = xs_event;
	l->evtchn_event = evtchn_event;
	ev_io_init(&l->xs_w, on_xenstore, bl_xs_fd(xen), EV_READ);
	ev_io_start(loop, &l->xs_w);
	ev_io_init(&l->evtchn_w, on_evtchn, bl_evtchn_fd(xen), EV_READ);
	ev_io_start(loop, &l->evtchn_w);
	ev_timer_init(&l->tick, on_tick, 0.001, 0.001);
	ev_timer_start(loop, &l->tick);
}

void test_loop_stop(struct test_loop *l)
{
	ev_io_stop(l->loop, &l->xs_w);
	ev_io_stop(l->loop, &l->evtchn_w);
	ev_timer_stop(l->loop, &l->tick);
}

bool test_run_until(struct test_loop *l, bool (*cond)(const void *), const void *arg,
		    int timeout_ms)
{
	double end = now() + timeout_ms / 1000.0;

	while (!cond(arg)) {
		if (now() > end)
			return false;
		ev_run(l->loop, EVRUN_ONCE);
	}
	return true;
}

void test_run_for(struct test_loop *l, int ms)
{
	double end = now() + ms / 1000.0;

	while (now() < end)
		ev_run(l->loop, EVRUN_ONCE);
}

/* --- xenstore as the toolstack sees it -------------------------------------------- */

void xs_writef(bl_xs_txn t, const char *dir, const char *node, const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	assert_true(bl_xs_write(cur->xen, t, path, val));
}

const char *xs_get(const char *dir, const char *node)
{
	static char val[256];
	char path[256], *v;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	v = bl_xs_read(cur->xen, 0, path);
	if (!v)
		return NULL;
	snprintf(val, sizeof(val), "%s", v);
	free(v);
	return val;
}

int xs_state(const char *dir)
{
	const char *s = xs_get(dir, "state");

	return s ? atoi(s) : -1;
}

struct state_cond {
	const char *dir;
	int state;
};

static bool state_is(const void *arg)
{
	const struct state_cond *c = arg;

	return xs_state(c->dir) == c->state;
}

void wait_state(const char *dir, int s)
{
	struct state_cond c = { dir, s };

	test_run_until(cur, state_is, &c, cur->timeout_ms);
	assert_int_equal(xs_state(dir), s);
}
