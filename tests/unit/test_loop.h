/*
 * test_loop.h - the event loop the backend tests drive (the vbd and the
 * vif tests): main.c's xenstore and event-channel watchers (main.o is not
 * linked) calling the backend's dispatchers, a 1 ms tick so that one
 * EVRUN_ONCE never sleeps for long, and waits that give up rather than hang;
 * and xenstore as the toolstack sees it, over the loop last started.
 */
#ifndef BLANKET_TEST_LOOP_H
#define BLANKET_TEST_LOOP_H

#include <stdbool.h>

#include <ev.h>

#include "xen.h"

struct test_loop {
	struct ev_loop *loop;
	struct bl_xen *xen;
	void (*xs_event)(const char *path, const char *token);
	void (*evtchn_event)(evtchn_port_t port);
	ev_io xs_w, evtchn_w;
	ev_timer tick;
	int timeout_ms;                 /* wait_state's */
};

/* Watch xen's xenstore and event-channel fds on loop, handing what comes
 * to xs_event and evtchn_event (the backend's, as main.c does); wait_state
 * gives up after timeout_ms. */
void test_loop_start(struct test_loop *l, struct ev_loop *loop, struct bl_xen *xen,
		     void (*xs_event)(const char *path, const char *token),
		     void (*evtchn_event)(evtchn_port_t port), int timeout_ms);
void test_loop_stop(struct test_loop *l);
/* Run the loop until cond(arg) holds; false after timeout_ms. */
bool test_run_until(struct test_loop *l, bool (*cond)(const void *), const void *arg,
		    int timeout_ms);
/* Run the loop for ms milliseconds. */
void test_run_for(struct test_loop *l, int ms);

/* xenstore as the toolstack sees it (through the started loop's xen) */
void xs_writef(bl_xs_txn t, const char *dir, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A node's value (static buffer), or NULL. */
const char *xs_get(const char *dir, const char *node);
/* dir/state as a number; -1 if absent. */
int xs_state(const char *dir);
/* Run until dir/state == s and insist on it. */
void wait_state(const char *dir, int s);

#endif
