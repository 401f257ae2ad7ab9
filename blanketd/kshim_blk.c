/*
 * kshim_blk.c - an L0 virtio-blk device opened through kshim (on
 * kshim_dev.c) and set up for uplink_kshim.c: block features, queues, the
 * registered pool of request headers and status bytes (see kshim_blk.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kshim_blk.h"
#include "log.h"
#include "uplink.h"

static struct kdev *devices;

static int config_read(struct kdev *d, uint32_t off, uint32_t width, uint64_t *v)
{
	return kshim_dev_config(d->fd, off, width, v);
}

#define CFG(field) offsetof(struct virtio_blk_config, field), \
	sizeof(((struct virtio_blk_config *)0)->field)
#define HAS(d, f) (((d)->features >> (f)) & 1)

/* Features: what kshim requires (VERSION_1, ACCESS_PLATFORM when offered),
 * what saves interrupts (EVENT_IDX) and ring slots (INDIRECT_DESC), and
 * the block features we act on. */
static int negotiate(struct kdev *d, const struct kshim_info *info, char *err, size_t errlen)
{
	static const unsigned want[] = {
		VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_RING_F_EVENT_IDX,
		VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_BLK_SIZE,
		VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_MQ,
		VIRTIO_BLK_F_TOPOLOGY,
	};
	uint64_t v, blk_size = 512, seg_max = 0, size_max = 0, nq = 1;

	if (kshim_dev_features(d->fd, d->pci, info, want, sizeof(want) / sizeof(want[0]),
			       &d->features, err, errlen))
		return -1;
	if (config_read(d, CFG(capacity), &d->sectors) ||
	    (HAS(d, VIRTIO_BLK_F_BLK_SIZE) && config_read(d, CFG(blk_size), &blk_size)) ||
	    (HAS(d, VIRTIO_BLK_F_SEG_MAX) && config_read(d, CFG(seg_max), &seg_max)) ||
	    (HAS(d, VIRTIO_BLK_F_SIZE_MAX) && config_read(d, CFG(size_max), &size_max)) ||
	    (HAS(d, VIRTIO_BLK_F_MQ) && config_read(d, CFG(num_queues), &nq))) {
		snprintf(err, errlen, "%s: reading its configuration: %s", d->pci, strerror(errno));
		return -1;
	}
	/* blkif addresses 512-byte sectors with 512-byte-aligned segments. */
	if (blk_size != 512) {
		snprintf(err, errlen, "%s has %" PRIu64 "-byte blocks; only 512 is supported", d->pci,
			 blk_size);
		return -1;
	}
	d->phys_block = 512;
	if (HAS(d, VIRTIO_BLK_F_TOPOLOGY) && !config_read(d, CFG(physical_block_exp), &v) && v < 8)
		d->phys_block = 512u << v;
	/* Descriptors merge: a size_max below a sector could not be kept. */
	if (HAS(d, VIRTIO_BLK_F_SIZE_MAX) && size_max < KCHAIN_SECTOR) {
		snprintf(err, errlen, "%s has size_max %" PRIu64 " (< 512 bytes): not supported",
			 d->pci, size_max);
		return -1;
	}
	d->lim.size_max = HAS(d, VIRTIO_BLK_F_SIZE_MAX) ? (uint32_t)size_max & ~(KCHAIN_SECTOR - 1) : 0;
	d->lim.max_desc = seg_max ? (unsigned)seg_max : ~0u;
	d->max_discard = 0;
	if (HAS(d, VIRTIO_BLK_F_DISCARD)) {
		if (config_read(d, CFG(max_discard_sectors), &v) || v == 0)
			v = UINT32_MAX;
		d->max_discard = (uint32_t)v;
	}
	d->readonly = HAS(d, VIRTIO_BLK_F_RO);
	nq = nq ? nq : 1;
	if (nq > info->num_queues)
		nq = info->num_queues;
	if (nq > info->msix_vectors)
		nq = info->msix_vectors;
	d->nq = nq > KQ_MAX ? KQ_MAX : (unsigned)nq;
	if (!d->nq) {
		snprintf(err, errlen, "%s has no queue with an MSI-X vector", d->pci);
		return -1;
	}
	return 0;
}

static int queue_setup(struct kdev *d, struct kqueue *q, unsigned idx, char *err, size_t errlen)
{
	q->d = d;
	if (kshim_q_setup(d->fd, d->pci, &q->k, idx, 0, err, errlen))
		return -1;
	q->reqs = calloc(q->k.size, sizeof(*q->reqs));
	if (!q->reqs) {
		snprintf(err, errlen, "%s: setting up queue %u: %s", d->pci, idx, strerror(errno));
		return -1;
	}
	return 0;
}

/* Headers, discard ranges and status bytes of every possible in-flight
 * request: dom0 memory registered once, writable (the status bytes). */
static int pool_setup(struct kdev *d, char *err, size_t errlen)
{
	size_t slots = 0, off = 0;

	for (unsigned i = 0; i < d->nq; i++)
		slots += d->q[i].k.size;
	d->pool_len = slots * SLOT_BYTES;
	d->pool = kshim_pool(d->fd, &d->pool_len, true, &d->pool_region);
	if (!d->pool) {
		snprintf(err, errlen, "%s: registering %zu bytes for request headers: %s", d->pci,
			 d->pool_len, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < d->nq; i++) {
		struct kqueue *q = &d->q[i];

		for (unsigned k = q->k.size; k-- > 0; off += SLOT_BYTES) {
			q->reqs[k].slot = (uint32_t)off;
			q->reqs[k].next_free = q->free;
			q->free = &q->reqs[k];
		}
	}
	return 0;
}

static int kdev_open(struct kdev *d, struct ev_loop *loop, char *err, size_t errlen)
{
	struct kshim_info info;

	d->fd = kshim_dev_open(d->pci, VIRTIO_ID_BLOCK, "block device", &info, err, errlen);
	if (d->fd < 0)
		return -1;
	if (negotiate(d, &info, err, errlen))
		return -1;
	for (unsigned i = 0; i < d->nq; i++)
		if (queue_setup(d, &d->q[i], i, err, errlen))
			return -1;
	/* A request's data descriptors: seg_max, and the ring's size less the
	 * header's and the status's.  With indirect descriptors, what one
	 * table holds: a 1 MiB blkif request then goes as four or five device
	 * requests of one ring slot each, rather than two of ~128 slots that
	 * leave room for no other request in a 256-entry ring. */
	for (unsigned i = 0; i < d->nq; i++)
		if (d->lim.max_desc > d->q[i].k.size - 2u)
			d->lim.max_desc = d->q[i].k.size - 2u;
	if (HAS(d, VIRTIO_RING_F_INDIRECT_DESC) && d->lim.max_desc > KSHIM_INDIRECT_MAX - 2u)
		d->lim.max_desc = KSHIM_INDIRECT_MAX - 2u;
	if (pool_setup(d, err, errlen) || kmap_init(&d->map) ||
	    kmap_add(&d->map, (uintptr_t)d->pool, d->pool_len, d->pool_region, true))
		return -1;
	if (ioctl(d->fd, KSHIM_IOC_DRIVER_OK) < 0) {
		snprintf(err, errlen, "/dev/kshim-%s: DRIVER_OK: %s", d->pci, strerror(errno));
		return -1;
	}
	d->pass.run = kshim_pass;
	uring_pass_hook_add(&d->pass);
	for (unsigned i = 0; i < d->nq; i++)
		kshim_q_start(loop, &d->q[i].k, kshim_on_interrupt);
	log_info("kshim %s (%s): %" PRIu64 " sectors, %u queue(s) of %u, features %#" PRIx64
		 ", %u data descriptors per request%s", d->name, d->pci, d->sectors, d->nq,
		 d->q[0].k.size, d->features, d->lim.max_desc, d->readonly ? ", read-only" : "");
	return 0;
}

static struct ev_loop *dev_loop;

/* Everything but the page map, which outlives a dead device until its
 * users have released their persistent grants. */
static void kdev_free(struct kdev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		kshim_q_free(dev_loop, &d->q[i].k);
		free(d->q[i].reqs);
		d->q[i].reqs = NULL;
	}
	/* The mappings hold the file too: closing it after them resets the
	 * device and unpins every registered page. */
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->pool)
		munmap(d->pool, d->pool_len);
	d->pool = NULL;
}

struct kdev *kdev_get(struct ev_loop *loop, const char *name, const char *pci,
		      char *err, size_t errlen)
{
	struct kdev *d;

	for (d = devices; d; d = d->next)
		if (!strcmp(d->pci, pci) && !d->dead) {
			d->refs++;
			return d;
		}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dev_loop = loop;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->pci, sizeof(d->pci), "%s", pci);
	d->fd = -1;
	d->refs = 1;
	d->tail = &d->head;
	for (unsigned i = 0; i < KQ_MAX; i++)
		d->q[i].k.efd = -1;
	if (kdev_open(d, loop, err, errlen)) {
		kdev_free(d);
		if (d->map.bucket)
			kmap_destroy(&d->map);
		free(d);
		return NULL;
	}
	d->next = devices;
	devices = d;
	return d;
}

void kdev_shutdown(struct kdev *d)
{
	d->dead = true;
	uring_pass_hook_del(&d->pass);
	kdev_free(d);
}

void kdev_put(struct kdev *d)
{
	if (--d->refs)
		return;
	for (struct kdev **l = &devices; *l; l = &(*l)->next)
		if (*l == d) {
			*l = d->next;
			break;
		}
	uring_pass_hook_del(&d->pass);
	kdev_free(d);
	kmap_destroy(&d->map);
	free(d);
}
