/*
 * kshim_blk.h - a virtio-blk device opened through kshim, shared by the
 * kshim uplinks (one per vbd) that name it.  kshim_blk.c opens and sets it
 * up (on kshim_dev.c); uplink_kshim.c runs its data path.
 */
#ifndef BLANKETD_KSHIM_BLK_H
#define BLANKETD_KSHIM_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "uring.h"

#include "kshim_chain.h"
#include "kshim_dev.h"

#define KQ_MAX 4                 /* queues used per device */
/* Per in-flight request, in the registered pool: header, discard range, status. */
#define SLOT_BYTES 64u
#define SLOT_HDR 0u
#define SLOT_RANGE 16u
#define SLOT_STATUS 32u

struct kdev;
struct kop;                      /* an uplink_io being served (uplink_kshim.c) */

/* One device request (a chain) in flight; its cookie is its address. */
struct kreq {
	struct kreq *next_free;
	struct kop *op;              /* NULL while free */
	struct kchain_cursor start;  /* where its data starts in the op (to roll back) */
	uint64_t bytes;              /* data (READ/WRITE) or discarded bytes */
	uint32_t slot;               /* byte offset of its slot in the pool */
};

struct kqueue {
	struct kshim_q k;            /* area and interrupt (kshim_dev.h) */
	struct kdev *d;
	struct kreq *reqs, *free;    /* [size]: never more chains than descriptors */
	unsigned inflight;
	bool collect;                /* the interrupt fired: completions to collect */
	bool full;                   /* out of descriptors until something completes */
};

struct kdev {
	struct kdev *next;
	char name[32], pci[16];
	int fd, refs;
	bool dead;                   /* the device failed: everything gets -EIO */
	uint64_t features, sectors;
	uint32_t phys_block;         /* bytes */
	uint32_t max_discard;        /* sectors per DISCARD request */
	bool readonly;
	struct kchain_limits lim;
	unsigned nq;
	struct kqueue q[KQ_MAX];
	uint8_t *pool;               /* headers and status bytes, registered once */
	size_t pool_len;
	uint32_t pool_region;
	struct kmap map;             /* every registered page -> region */
	struct kop *head, **tail;    /* operations not yet wholly submitted */
	struct kop *barrier;         /* an ordered operation in progress */
	unsigned inflight;           /* chains, all queues */
	uint64_t batch;              /* KICKs made */
	struct uring_pass_hook pass;  /* KICK at the end of each loop pass */
};

/* The device at pci, opened and live (a new reference if already open);
 * NULL with a one-line reason in err. */
struct kdev *kdev_get(struct ev_loop *loop, const char *name, const char *pci,
		      char *err, size_t errlen);
/* Drop a reference; the last one closes (resets) the device. */
void kdev_put(struct kdev *d);
/* Stop the device's watchers and close it after a fatal error; its queued
 * and in-flight operations are the caller's to fail. */
void kdev_shutdown(struct kdev *d);

/* uplink_kshim.c: the watchers' callbacks. */
bool kshim_pass(struct uring_pass_hook *h, unsigned round);
void kshim_on_interrupt(struct ev_loop *loop, ev_io *w, int revents);

#endif
