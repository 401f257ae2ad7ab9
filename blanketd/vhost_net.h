/*
 * vhost_net.h - a TAP device's frames moved by the kernel's vhost-net
 * worker instead of by our read() and write() calls (uplink_tap.c).
 *
 * /dev/vhost-net serves two virtqueues in our memory: 0 receive, 1
 * transmit, attached to the TAP's socket.  Its worker thread copies frames
 * between them and the TAP, so dom0's network stack runs for our frames on
 * that thread, beside the event loop, and a loop pass costs one kick (an
 * eventfd write) however many frames it queued, and one eventfd read
 * however many arrived.  The memory table maps every region our
 * descriptors point into one to one (guest address = our address).
 * Feature bits none: the TAP (IFF_VNET_HDR) reads and writes the 10-byte
 * virtio_net_hdr itself, legacy ring layout.
 */
#ifndef BLANKETD_VHOST_NET_H
#define BLANKETD_VHOST_NET_H

#include <stddef.h>

#include "vring.h"

#define VHOST_NET_RXQ 0
#define VHOST_NET_TXQ 1
#define VHOST_NET_MAX_REGIONS 48   /* vhost's default limit is 64 */

struct vhost_net {
	int fd;                        /* /dev/vhost-net */
	int kick[2], call[2];          /* eventfds, per queue */
	struct vring_q q[2];
	unsigned nregions;
	struct { void *addr; size_t len; } region[VHOST_NET_MAX_REGIONS];
};

/* Open /dev/vhost-net: 0, or -1 with errno and a one-line reason in err
 * (ENOENT/ENODEV: the module is not loaded). */
int vhost_net_open(struct vhost_net *v, char *err, size_t errlen);
/* Memory descriptors will point into (before vhost_net_start): 0 or -1. */
int vhost_net_region(struct vhost_net *v, void *addr, size_t len);
/* Rings of rxnum and txnum entries, the memory table, and the TAP as the
 * backend: 0, or -1 with a reason. */
int vhost_net_start(struct vhost_net *v, int tapfd, unsigned rxnum, unsigned txnum,
		    char *err, size_t errlen);
/* Tell the worker queue q has new chains (after vring_q_publish said so). */
void vhost_net_kick(struct vhost_net *v, unsigned q);
/* Clear queue q's call eventfd (its signal woke us). */
void vhost_net_ack(struct vhost_net *v, unsigned q);
/* Detach the TAP (the worker finishes what it is doing, then stops) so
 * the rings can be drained; then vhost_net_close. */
void vhost_net_stop(struct vhost_net *v);
void vhost_net_close(struct vhost_net *v);

#endif
