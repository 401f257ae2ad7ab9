/*
 * vring.h - the driver's side of a split virtqueue (virtio 1.x, 2.7) kept in
 * this process's memory, for a device that reads it from here: the kernel's
 * vhost-net worker (vhost_net.h).  The legacy layout in the host's byte
 * order (little-endian x86), no event index: the device says whether it
 * wants a kick in used->flags, we whether we want an interrupt in
 * avail->flags.  Descriptors carry this process's virtual addresses, which
 * vhost_net.c's memory table maps one to one.
 *
 * Single-threaded: one owner adds, publishes and reaps.
 */
#ifndef BLANKETD_VRING_H
#define BLANKETD_VRING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

struct vring_q {
	struct vring r;          /* desc, avail, used: in mem */
	unsigned num;            /* a power of 2 */
	void *mem;
	size_t mem_len;
	uint16_t free_head;      /* descriptors not in a chain, linked by next */
	unsigned nfree;
	uint16_t avail_idx;      /* ours; the device sees it at vring_q_publish */
	uint16_t published;      /* avail_idx at the last publish */
	uint16_t last_used;      /* the next used entry to reap */
	void **cookie;           /* per chain head: the owner's, NULL when free */
	unsigned inflight;       /* chains added and not reaped */
};

/* num entries (a power of 2, at most 32768); 0, or -1 with errno. */
int vring_q_init(struct vring_q *q, unsigned num);
void vring_q_free(struct vring_q *q);

/* The head the next vring_q_add will use (a per-chain slot of the owner's
 * can be filled in before it), or -1 with no descriptor free. */
static inline int vring_q_next_head(const struct vring_q *q)
{
	return q->nfree ? q->free_head : -1;
}

/* A chain of n buffers (device-writable if writable: receive buffers),
 * handed back with cookie (not NULL) by vring_q_used.  The head, or -1 if
 * fewer than n descriptors are free (nothing added). */
int vring_q_add(struct vring_q *q, const struct iovec *iov, unsigned n, bool writable,
		void *cookie);

/* Make what was added since the last call visible to the device.  True if
 * there was something and the device wants to be told (its kick is then
 * the owner's to send). */
bool vring_q_publish(struct vring_q *q);

/* The next chain the device is done with: its cookie, and in *len the
 * bytes it wrote (receive buffers); its descriptors are free again.  NULL
 * when there is none. */
void *vring_q_used(struct vring_q *q, uint32_t *len);

/* Whether the device should signal (its call eventfd) for used chains. */
void vring_q_interrupts(struct vring_q *q, bool on);

/* Take every chain back (the device is stopped): done(cookie, true, arg)
 * for each used one in the order used, then done(cookie, false, arg) for
 * each the device never took. */
void vring_q_drain(struct vring_q *q, void (*done)(void *cookie, bool used, void *arg), void *arg);

#endif
