/*
 * vhost_net.h - the TAP uplink's transmit side moved by the kernel's
 * vhost-net worker instead of by our writes (uplink_tap.c).
 *
 * /dev/vhost-net serves a transmit virtqueue in our memory attached to the
 * TAP's socket: its worker thread takes each chain (a vnet header and a
 * frame) and hands it to the TAP, so dom0's network stack runs for our
 * frames on that thread, beside the event loop, and a loop pass costs one
 * kick (an eventfd write) however many frames it queued.  Only transmit:
 * the receive queue is left without a backend, and we read the TAP as
 * before (received through the worker, every frame waits for its wake-up
 * and then for ours: dom0->guest TCP made 536 Mbit/s on the test bed where
 * our own reads made 677, one run each).
 * The memory table maps every region our descriptors point into one to
 * one (guest address = our address).  No feature bits: the TAP
 * (IFF_VNET_HDR) reads the 10-byte virtio_net_hdr itself, legacy layout.
 */
#ifndef BLANKETD_VHOST_NET_H
#define BLANKETD_VHOST_NET_H

#include <stddef.h>

#include "vring.h"

#define VHOST_NET_MAX_REGIONS 8    /* vhost's default limit is 64 */

struct vhost_net {
	int fd;                        /* /dev/vhost-net */
	int kick;                      /* eventfd */
	struct vring_q tx;
	unsigned nregions;
	struct { void *addr; size_t len; } region[VHOST_NET_MAX_REGIONS];
};

/* Open /dev/vhost-net: 0, or -1 with errno and a one-line reason in err
 * (naming the module when it is not loaded). */
int vhost_net_open(struct vhost_net *v, char *err, size_t errlen);
/* Memory descriptors will point into (before vhost_net_start): 0 or -1. */
int vhost_net_region(struct vhost_net *v, void *addr, size_t len);
/* A transmit ring of num entries (no interrupts: the owner collects used
 * chains itself), the memory table, and the TAP as its backend: 0, or -1
 * with a reason. */
int vhost_net_start(struct vhost_net *v, int tapfd, unsigned num, char *err, size_t errlen);
/* Tell the worker the ring has new chains (after vring_q_publish said so). */
void vhost_net_kick(struct vhost_net *v);
/* Detach the TAP (the worker finishes the chain it is on, then stops), so
 * that the ring can be drained; then vhost_net_close. */
void vhost_net_stop(struct vhost_net *v);
void vhost_net_close(struct vhost_net *v);

#endif
