/*
 * test_loop.h - the event loop the backend tests drive (the vbd and the
 * vif tests): main.c's xenstore and event-channel watchers (main.o is not
 * linked) calling the backend's dispatchers, a 1 ms tick so that one
 * EVRUN_ONCE never sleeps for long, and waits that give up rather than hang.
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
};

/* Watch xen's xenstore and event-channel fds on loop, handing what comes
 * to xs_event and evtchn_event (the backend's, as main.c does). */
void test_loop_start(struct test_loop *l, struct ev_loop *loop, struct bl_xen *xen,
		     void (*xs_event)(const char *path, const char *token),
		     void (*evtchn_event)(evtchn_port_t port));
void test_loop_stop(struct test_loop *l);
/* Run the loop until cond(arg) holds; false after timeout_ms. */
bool test_run_until(struct test_loop *l, bool (*cond)(const void *), const void *arg,
		    int timeout_ms);
/* Run the loop for ms milliseconds. */
void test_run_for(struct test_loop *l, int ms);

#endif
