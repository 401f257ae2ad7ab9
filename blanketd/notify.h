/*
 * notify.h - a loop pass's event-channel notifications, sent together.
 *
 * Rings answer their guests throughout a pass (vbd responses, vif TX
 * answers and RX packets), and each wants its frontend notified.  In a PV
 * dom0 each notification alone is an ioctl and a hypercall; queued here,
 * a round's notifications (uring.c runs a pass in rounds) leave in one
 * multicall at its end, after the round's I/O went to the kernel, so a
 * guest they wake does not delay that.  A port queued twice is notified
 * once: an event is a pending bit, not a count.
 */
#ifndef BLANKETD_NOTIFY_H
#define BLANKETD_NOTIFY_H

#include <stdint.h>

#include "xen.h"

/* Notify port's remote end at the end of this round of the pass. */
void notify_later(struct bl_xen *xen, evtchn_port_t port);
/* Send what is queued (the end of a round; and before a port is unbound,
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
