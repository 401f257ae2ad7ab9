/* notify.c - see notify.h. */
#include "notify.h"

/* A port per ring notified in the pass; a fuller queue is sent early. */
#define NOTIFY_QUEUE 256u

static struct bl_xen *xen;
static evtchn_port_t queue[NOTIFY_QUEUE];
static unsigned nqueued;
struct notify_stats notify_stats;

void notify_later(struct bl_xen *x, evtchn_port_t port)
{
	xen = x;
	for (unsigned i = 0; i < nqueued; i++)
		if (queue[i] == port)
			return;
	if (nqueued == NOTIFY_QUEUE)
		notify_flush();
	queue[nqueued++] = port;
}

const char *notify_mode(void)
{
	if (!notify_stats.batches)
		return "none yet";
	return bl_evtchn_multicall(xen) ? "multicall" : "ioctl";
}

void notify_flush(void)
{
	if (!nqueued)
		return;
	bl_evtchn_notify_many(xen, queue, nqueued);
	notify_stats.sent += nqueued;
	notify_stats.batches++;
	nqueued = 0;
}
