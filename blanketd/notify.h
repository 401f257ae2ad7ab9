/*
 * notify.h - a loop pass's event-channel notifications, sent together.
 *
 * Rings answer their guests throughout a pass (vbd responses, vif TX
 * answers and RX packets), and each wants its frontend notified.  In a PV
 * dom0 each notification alone is an ioctl and a hypercall; queued here,
 * the pass's notifications leave in one multicall when the pass ends
 * (uring.c, before the loop sleeps), after everything else the pass did: the guests
 * they wake then find dom0's work of the pass done.  A port queued twice
 * in a pass is notified once: an event is a pending bit, not a count.
 */
#ifndef BLANKETD_NOTIFY_H
#define BLANKETD_NOTIFY_H

#include <stdint.h>

#include "xen.h"

/* Notify port's remote end at the end of this pass. */
void notify_later(struct bl_xen *xen, evtchn_port_t port);
/* Send what is queued (the end of a pass; and before a port is unbound,
 * so its last responses are not left unannounced). */
void notify_flush(void);

/* Notifications sent, and the batches they went in (a multicall each, or
 * one ioctl per notification where privcmd is missing). */
struct notify_stats {
	uint64_t sent, batches;
};
extern struct notify_stats notify_stats;
/* How the batches go: "multicall", "ioctl" (no privcmd), or "none yet". */
const char *notify_mode(void);

#endif
