/*
 * kshim_dev.h - what every L0 virtio device driven through kshim needs,
 * whatever its type: binding it to kshim, opening /dev/kshim-<pci>,
 * negotiating features, reading config, setting up a queue (its shared
 * area and its MSI-X eventfd) and registering dom0 memory.
 *
 * The device types build on it: kshim_blk.c (virtio-blk, for the vbd's
 * uplink_kshim.c) and uplink_kshim_net.c (virtio-net, the vif switch's
 * uplink).  Each keeps its own state and its own end-of-pass KICKs.
 */
#ifndef BLANKETD_KSHIM_DEV_H
#define BLANKETD_KSHIM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "kshim_uapi.h"

/* One virtqueue as kshim shows it: the area chains, segments and
 * completions pass through, and the interrupt as an eventfd. */
struct kshim_q {
	uint16_t idx, size;
	int efd;
	ev_io w;                     /* the queue's MSI-X interrupt */
	uint8_t *area;
	uint32_t area_size;
	struct kshim_chain *ch;      /* [size] */
	struct kshim_seg *seg;       /* [size] */
	struct kshim_cqe *cqe;       /* [size] */
};

/* Bind pci (binding it to kshim if needed), open it and read its info;
 * the device must be virtio type device_id (what names the type in
 * messages).  The fd, or -1 with a one-line reason. */
int kshim_dev_open(const char *pci, uint32_t device_id, const char *what,
		   struct kshim_info *info, char *err, size_t errlen);
/* Accept the bits of want[] the device offers (VERSION_1 is required);
 * *features gets what was set.  0, or -1 with a reason. */
int kshim_dev_features(int fd, const char *pci, const struct kshim_info *info,
		       const unsigned *want, unsigned nwant, uint64_t *features,
		       char *err, size_t errlen);
/* One device config field; -1 with errno. */
int kshim_dev_config(int fd, uint32_t off, uint32_t width, uint64_t *v);
/* Set queue idx up with size entries (0: the device's maximum) and an
 * eventfd, and map its area.  0, or -1 with a reason. */
int kshim_q_setup(int fd, const char *pci, struct kshim_q *q, unsigned idx, unsigned size,
		  char *err, size_t errlen);
/* Watch the queue's eventfd with cb (after DRIVER_OK). */
void kshim_q_start(struct ev_loop *loop, struct kshim_q *q,
		   void (*cb)(struct ev_loop *, ev_io *, int));
/* Stop watching, unmap, close the eventfd (before closing the device fd). */
void kshim_q_free(struct ev_loop *loop, struct kshim_q *q);
/* Read the eventfd empty (the interrupt watcher's job). */
void kshim_q_ack(struct kshim_q *q, const char *name);
/* Pin and DMA-map [addr, addr + len) (page-aligned); the region id, or -1
 * with errno. */
int kshim_reg(int fd, uintptr_t addr, size_t len, bool writable, uint32_t *id);
/* Map n grants (page i: domids[i], refs[i]) for the device alone
 * (KSHIM_IOC_MAP_GRANTS); the region id, or -1 with errno (EACCES: Xen
 * refused one of them, none mapped; ENODEV: not a Xen PV domain). */
int kshim_map_grants(int fd, unsigned n, const uint32_t *domids, const uint32_t *refs,
		     uint32_t *id);
/* Anonymous dom0 memory of len bytes (rounded up to pages), registered:
 * request headers, receive buffers.  NULL with errno. */
void *kshim_pool(int fd, size_t *len, bool writable, uint32_t *id);

#endif
