/*
 * ring_watch.h - the once-a-second check for requests a frontend posted
 * that wait unread (vbd_ring.c, vif_ring.c).
 *
 * A safety net, not protocol.  A frontend notifies only when its producer
 * crosses our req_event, so after one lost notification it never notifies
 * again and the ring is dead for good.  The test bed saw a vif ring stall
 * like that once (cause unknown).  Requests that were waiting at the last
 * tick, with our consumer unmoved since, are served by the caller, counted
 * and logged, so a recurrence is seen.
 */
#ifndef BLANKETD_RING_WATCH_H
#define BLANKETD_RING_WATCH_H

#include <stdbool.h>

#include <xen/io/ring.h>

struct ring_watch {
	RING_IDX prod, cons;             /* the ring at the last tick */
};

/* True if requests were waiting unread at the last tick and the consumer
 * has not moved since. */
static inline bool ring_watch_stalled(const struct ring_watch *w, RING_IDX prod, RING_IDX cons)
{
	return prod != cons && cons == w->cons && w->prod != w->cons;
}

/* The ring as this tick leaves it (after serving what had stalled). */
static inline void ring_watch_note(struct ring_watch *w, RING_IDX prod, RING_IDX cons)
{
	w->prod = prod;
	w->cons = cons;
}

#endif
