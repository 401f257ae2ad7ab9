/*
 * kshim_dev.c - binding an L0 virtio-blk device to kshim, opening it and
 * setting it up for uplink_kshim.c (see kshim_dev.h).
 *
 * Binding.  kshim has no PCI id table: it takes only a device whose driver_override
 * says "kshim" (kshim/README.md).  blanketd does the three sysfs writes
 * itself, at start for every device in blanket.conf's [kshim] and again
 * when a vbd opens one, so that an administrator only names the device.
 * A device whose block device dom0 has mounted or uses as swap is refused:
 * taking it away would pull a file system from under dom0 (a cloud VM's
 * root disk is often virtio-blk too).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kshim_dev.h"
#include "log.h"
#include "uplink.h"

/* Where sysfs is mounted. */
static const char *sysfs = "/sys";

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The name of the driver bound to pci ("" if none). */
static void bound_driver(const char *pci, char *drv, size_t len)
{
	char path[256], target[256];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", sysfs, pci);
	n = readlink(path, target, sizeof(target) - 1);
	drv[0] = '\0';
	if (n > 0) {
		target[n] = '\0';
		snprintf(drv, len, "%s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	}
}

/* Is /dev/<blk> or one of its partitions mounted or an active swap? */
static bool blk_in_use(const char *blk)
{
	static const char *const tables[] = { "/proc/mounts", "/proc/swaps" };
	char line[512], dev[300];
	size_t n = (size_t)snprintf(dev, sizeof(dev), "/dev/%s", blk);

	for (unsigned i = 0; i < 2; i++) {
		FILE *f = fopen(tables[i], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			/* /dev/vdb, /dev/vdb1; not /dev/vdbb (another disk). */
			if (!strncmp(line, dev, n) &&
			    (line[n] == ' ' || line[n] == '\t' || (line[n] >= '0' && line[n] <= '9') ||
			     line[n] == 'p')) {
				fclose(f);
				return true;
			}
		fclose(f);
	}
	return false;
}

/* The block devices virtio-blk made for pci: .../virtioN/block/<name>. */
static bool device_in_use(const char *pci, char *which, size_t len)
{
	char path[512];
	struct dirent *e, *b;
	DIR *d, *bd;
	bool used = false;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, pci);
	d = opendir(path);
	if (!d)
		return false;
	while (!used && (e = readdir(d))) {
		if (strncmp(e->d_name, "virtio", 6))
			continue;
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s/block", sysfs, pci, e->d_name);
		bd = opendir(path);
		if (!bd)
			continue;
		while (!used && (b = readdir(bd)))
			if (b->d_name[0] != '.' && blk_in_use(b->d_name)) {
				snprintf(which, len, "/dev/%s", b->d_name);
				used = true;
			}
		closedir(bd);
	}
	closedir(d);
	return used;
}

int uplink_kshim_bind(const char *pci, char *err, size_t errlen)
{
	char path[256], node[64], drv[256], blk[300];
	struct stat st;
	int rc;

	snprintf(node, sizeof(node), "/dev/kshim-%s", pci);
	bound_driver(pci, drv, sizeof(drv));
	if (!strcmp(drv, "kshim") && stat(node, &st) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, pci);
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "no PCI device %s (lspci -D lists them)", pci);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/kshim", sysfs);
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "kshim module not loaded: modprobe kshim (build it with make kshim)");
		return -1;
	}
	if (drv[0] && strcmp(drv, "kshim")) {
		if (device_in_use(pci, blk, sizeof(blk))) {
			snprintf(err, errlen, "%s (driver %s) is in use by dom0 (%s mounted or swap): "
				 "not taking it", pci, drv, blk);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind", sysfs, pci);
		if ((rc = sysfs_write(path, pci))) {
			snprintf(err, errlen, "cannot unbind %s from %s: %s", pci, drv, strerror(-rc));
			return -1;
		}
		log_info("kshim: took %s from driver %s", pci, drv);
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver_override", sysfs, pci);
	if ((rc = sysfs_write(path, "kshim"))) {
		snprintf(err, errlen, "cannot set driver_override of %s: %s", pci, strerror(-rc));
		return -1;
	}
	if (!drv[0] || strcmp(drv, "kshim")) {
		snprintf(path, sizeof(path), "%s/bus/pci/drivers/kshim/bind", sysfs);
		/* EBUSY/ENODEV here usually means kshim refused it: dmesg says why. */
		if ((rc = sysfs_write(path, pci))) {
			snprintf(err, errlen, "kshim did not bind %s: %s (see dmesg)", pci, strerror(-rc));
			return -1;
		}
	}
	/* devtmpfs creates the node at bind; give a slow udev a moment anyway. */
	for (int i = 0; i < 100 && stat(node, &st) < 0; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	if (stat(node, &st) < 0) {
		snprintf(err, errlen, "%s bound to kshim but %s did not appear", pci, node);
		return -1;
	}
	return 0;
}

/* --- opening ------------------------------------------------------------------------------- */

static struct kdev *devices;

static int config_read(struct kdev *d, uint32_t off, uint32_t width, uint64_t *v)
{
	struct kshim_config_read cr = { .offset = off, .width = width };

	if (ioctl(d->fd, KSHIM_IOC_CONFIG_READ, &cr) < 0)
		return -1;
	*v = cr.value;
	return 0;
}

#define CFG(field) offsetof(struct virtio_blk_config, field), \
	sizeof(((struct virtio_blk_config *)0)->field)
#define HAS(d, f) (((d)->features >> (f)) & 1)

/* Features: what kshim requires (VERSION_1, ACCESS_PLATFORM when offered),
 * what saves interrupts (EVENT_IDX), and the block features we act on. */
static int negotiate(struct kdev *d, const struct kshim_info *info, char *err, size_t errlen)
{
	static const unsigned want[] = {
		VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_RING_F_EVENT_IDX,
		VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_BLK_SIZE,
		VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_MQ,
		VIRTIO_BLK_F_TOPOLOGY,
	};
	uint64_t v, blk_size = 512, seg_max = 0, size_max = 0, nq = 1;

	if (info->device_id != VIRTIO_ID_BLOCK) {
		snprintf(err, errlen, "%s is virtio device type %u, not a block device (2)", d->pci,
			 info->device_id);
		return -1;
	}
	if (!(info->features >> VIRTIO_F_VERSION_1 & 1)) {
		snprintf(err, errlen, "%s is a legacy virtio device (no VERSION_1)", d->pci);
		return -1;
	}
	d->features = 0;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		d->features |= info->features & (1ull << want[i]);
	if (ioctl(d->fd, KSHIM_IOC_SET_FEATURES, &d->features) < 0) {
		snprintf(err, errlen, "%s: setting features %#" PRIx64 ": %s", d->pci, d->features,
			 strerror(errno));
		return -1;
	}
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
	struct kshim_queue_setup qs = { .index = (uint16_t)idx };

	q->d = d;
	q->idx = (uint16_t)idx;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		goto fail;
	qs.eventfd = q->efd;
	if (ioctl(d->fd, KSHIM_IOC_QUEUE_SETUP, &qs) < 0)
		goto fail;
	q->size = qs.size;
	q->area_size = qs.area_size;
	q->area = mmap(NULL, qs.area_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)qs.mmap_offset);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		goto fail;
	}
	q->ch = (struct kshim_chain *)(q->area + qs.chain_off);
	q->seg = (struct kshim_seg *)(q->area + qs.seg_off);
	q->cqe = (struct kshim_cqe *)(q->area + qs.cqe_off);
	q->reqs = calloc(q->size, sizeof(*q->reqs));
	if (!q->reqs)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: setting up queue %u: %s", d->pci, idx, strerror(errno));
	return -1;
}

/* Headers, discard ranges and status bytes of every possible in-flight
 * request: dom0 memory registered once, writable (the status bytes). */
static int pool_setup(struct kdev *d, char *err, size_t errlen)
{
	struct kshim_reg_mem rm = { .flags = KSHIM_MEM_WRITABLE };
	size_t slots = 0, off = 0;

	for (unsigned i = 0; i < d->nq; i++)
		slots += d->q[i].size;
	d->pool_len = (slots * SLOT_BYTES + KCHAIN_PAGE - 1) & ~(size_t)(KCHAIN_PAGE - 1);
	d->pool = mmap(NULL, d->pool_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->pool == MAP_FAILED) {
		d->pool = NULL;
		goto fail;
	}
	rm.uaddr = (uintptr_t)d->pool;
	rm.len = d->pool_len;
	if (ioctl(d->fd, KSHIM_IOC_REG_MEM, &rm) < 0)
		goto fail;
	d->pool_region = rm.id;
	for (unsigned i = 0; i < d->nq; i++) {
		struct kqueue *q = &d->q[i];

		for (unsigned k = q->size; k-- > 0; off += SLOT_BYTES) {
			q->reqs[k].slot = (uint32_t)off;
			q->reqs[k].next_free = q->free;
			q->free = &q->reqs[k];
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: registering %zu bytes for request headers: %s", d->pci, d->pool_len,
		 strerror(errno));
	return -1;
}

static int kdev_open(struct kdev *d, struct ev_loop *loop, char *err, size_t errlen)
{
	struct kshim_info info;
	char node[64];

	if (uplink_kshim_bind(d->pci, err, errlen))
		return -1;
	snprintf(node, sizeof(node), "/dev/kshim-%s", d->pci);
	d->fd = open(node, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s%s", node, strerror(errno),
			 errno == EBUSY ? " (another process has it)" : "");
		return -1;
	}
	if (ioctl(d->fd, KSHIM_IOC_INFO, &info) < 0) {
		snprintf(err, errlen, "%s: KSHIM_IOC_INFO: %s", node, strerror(errno));
		return -1;
	}
	if (negotiate(d, &info, err, errlen))
		return -1;
	for (unsigned i = 0; i < d->nq; i++)
		if (queue_setup(d, &d->q[i], i, err, errlen))
			return -1;
	/* A request's data descriptors: seg_max, and the ring's size less the
	 * header's and the status's. */
	for (unsigned i = 0; i < d->nq; i++)
		if (d->lim.max_desc > d->q[i].size - 2u)
			d->lim.max_desc = d->q[i].size - 2u;
	if (pool_setup(d, err, errlen) || kmap_init(&d->map) ||
	    kmap_add(&d->map, (uintptr_t)d->pool, d->pool_len, d->pool_region, true))
		return -1;
	if (ioctl(d->fd, KSHIM_IOC_DRIVER_OK) < 0) {
		snprintf(err, errlen, "%s: DRIVER_OK: %s", node, strerror(errno));
		return -1;
	}
	d->pass.run = kshim_pass;
	uring_pass_hook_add(&d->pass);
	for (unsigned i = 0; i < d->nq; i++) {
		ev_io_init(&d->q[i].w, kshim_on_interrupt, d->q[i].efd, EV_READ);
		ev_io_start(loop, &d->q[i].w);
	}
	log_info("kshim %s (%s): %" PRIu64 " sectors, %u queue(s) of %u, features %#" PRIx64
		 ", %u data descriptors per request%s", d->name, d->pci, d->sectors, d->nq,
		 d->q[0].size, d->features, d->lim.max_desc, d->readonly ? ", read-only" : "");
	return 0;
}

static struct ev_loop *dev_loop;

/* Everything but the page map, which outlives a dead device until its
 * users have released their persistent grants. */
static void kdev_free(struct kdev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct kqueue *q = &d->q[i];

		if (dev_loop)
			ev_io_stop(dev_loop, &q->w);
		if (q->area)
			munmap(q->area, q->area_size);
		if (q->efd >= 0)
			close(q->efd);
		free(q->reqs);
		q->area = NULL;
		q->efd = -1;
		q->reqs = NULL;
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
		d->q[i].efd = -1;
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
