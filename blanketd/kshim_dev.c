/*
 * kshim_dev.c - binding an L0 virtio device to kshim, opening it, and the
 * set-up steps every device type shares (see kshim_dev.h).
 *
 * Binding.  kshim has no PCI id table: it takes only a device whose driver_override
 * says "kshim" (kshim/README.md).  blanketd does the three sysfs writes
 * itself, at start for every device in blanket.conf's [kshim] and again
 * when a vbd or the vif uplink opens one, so that an administrator only
 * names the device.  A device dom0 itself uses is refused: a virtio-blk
 * whose block device is mounted or swap (taking it would pull a file
 * system from under dom0; a cloud VM's root disk is often virtio-blk too),
 * a virtio-net whose interface is up (dom0's own way to the network).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <net/if.h>
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

/* Is network interface ifname up (IFF_UP in its sysfs flags)? */
static bool net_up(const char *ifname)
{
	char path[512];
	unsigned long flags = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/class/net/%s/flags", sysfs, ifname);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%lx", &flags) != 1)
		flags = 0;
	fclose(f);
	return flags & IFF_UP;
}

/* What dom0 uses of the device at pci, through the virtio drivers'
 * children .../virtioN/block/<disk> and .../virtioN/net/<interface>: a
 * mounted or swap disk, an interface that is up.  *which says what. */
static bool device_in_use(const char *pci, char *which, size_t len)
{
	static const char *const kinds[] = { "block", "net" };
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
		for (unsigned k = 0; k < 2 && !used; k++) {
			snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s/%s", sysfs, pci,
				 e->d_name, kinds[k]);
			bd = opendir(path);
			if (!bd)
				continue;
			while (!used && (b = readdir(bd))) {
				if (b->d_name[0] == '.')
					continue;
				if (k == 0 && blk_in_use(b->d_name)) {
					snprintf(which, len, "/dev/%.64s mounted or swap", b->d_name);
					used = true;
				} else if (k == 1 && net_up(b->d_name)) {
					snprintf(which, len, "interface %.32s is up: ip link set %.32s down "
						 "first", b->d_name, b->d_name);
					used = true;
				}
			}
			closedir(bd);
		}
	}
	closedir(d);
	return used;
}

int uplink_kshim_bind(const char *pci, char *err, size_t errlen)
{
	char path[256], node[64], drv[256], blk[400];
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
			snprintf(err, errlen, "%s (driver %s) is in use by dom0 (%s): not taking it",
				 pci, drv, blk);
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


/* --- opening and setting up ------------------------------------------------------------------ */

int kshim_dev_open(const char *pci, uint32_t device_id, const char *what,
		   struct kshim_info *info, char *err, size_t errlen)
{
	char node[64];
	int fd;

	if (uplink_kshim_bind(pci, err, errlen))
		return -1;
	snprintf(node, sizeof(node), "/dev/kshim-%s", pci);
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s%s", node, strerror(errno),
			 errno == EBUSY ? " (another process has it)" : "");
		return -1;
	}
	if (ioctl(fd, KSHIM_IOC_INFO, info) < 0) {
		snprintf(err, errlen, "%s: KSHIM_IOC_INFO: %s", node, strerror(errno));
		close(fd);
		return -1;
	}
	if (info->device_id != device_id) {
		snprintf(err, errlen, "%s is virtio device type %u, not a %s (%u)", pci,
			 info->device_id, what, device_id);
		close(fd);
		return -1;
	}
	if (!(info->features >> VIRTIO_F_VERSION_1 & 1)) {
		snprintf(err, errlen, "%s is a legacy virtio device (no VERSION_1)", pci);
		close(fd);
		return -1;
	}
	return fd;
}

int kshim_dev_features(int fd, const char *pci, const struct kshim_info *info,
		       const unsigned *want, unsigned nwant, uint64_t *features,
		       char *err, size_t errlen)
{
	*features = 0;
	for (unsigned i = 0; i < nwant; i++)
		*features |= info->features & (1ull << want[i]);
	if (ioctl(fd, KSHIM_IOC_SET_FEATURES, features) < 0) {
		snprintf(err, errlen, "%s: setting features %#" PRIx64 ": %s", pci, *features,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int kshim_dev_config(int fd, uint32_t off, uint32_t width, uint64_t *v)
{
	struct kshim_config_read cr = { .offset = off, .width = width };

	if (ioctl(fd, KSHIM_IOC_CONFIG_READ, &cr) < 0)
		return -1;
	*v = cr.value;
	return 0;
}

int kshim_q_setup(int fd, const char *pci, struct kshim_q *q, unsigned idx, unsigned size,
		  char *err, size_t errlen)
{
	struct kshim_queue_setup qs = { .index = (uint16_t)idx, .size = (uint16_t)size };

	q->idx = (uint16_t)idx;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		goto fail;
	qs.eventfd = q->efd;
	if (ioctl(fd, KSHIM_IOC_QUEUE_SETUP, &qs) < 0)
		goto fail;
	q->size = qs.size;
	q->area_size = qs.area_size;
	q->area = mmap(NULL, qs.area_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)qs.mmap_offset);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		goto fail;
	}
	q->ch = (struct kshim_chain *)(q->area + qs.chain_off);
	q->seg = (struct kshim_seg *)(q->area + qs.seg_off);
	q->cqe = (struct kshim_cqe *)(q->area + qs.cqe_off);
	return 0;
fail:
	snprintf(err, errlen, "%s: setting up queue %u: %s", pci, idx, strerror(errno));
	return -1;
}

void kshim_q_start(struct ev_loop *loop, struct kshim_q *q,
		   void (*cb)(struct ev_loop *, ev_io *, int))
{
	ev_io_init(&q->w, cb, q->efd, EV_READ);
	ev_io_start(loop, &q->w);
}

void kshim_q_free(struct ev_loop *loop, struct kshim_q *q)
{
	if (loop)
		ev_io_stop(loop, &q->w);
	if (q->area)
		munmap(q->area, q->area_size);
	if (q->efd >= 0)
		close(q->efd);
	q->area = NULL;
	q->efd = -1;
}

void kshim_q_ack(struct kshim_q *q, const char *name)
{
	uint64_t v;

	if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err("kshim %s: queue %u eventfd: %s", name, q->idx, strerror(errno));
}

int kshim_reg(int fd, uintptr_t addr, size_t len, bool writable, uint32_t *id)
{
	struct kshim_reg_mem rm = { .uaddr = addr, .len = len,
				    .flags = writable ? KSHIM_MEM_WRITABLE : 0 };

	if (ioctl(fd, KSHIM_IOC_REG_MEM, &rm) < 0)
		return -1;
	*id = rm.id;
	return 0;
}

int kshim_map_grants(int fd, unsigned n, const uint32_t *domids, const uint32_t *refs,
		     uint32_t *id)
{
	struct kshim_grant *g = malloc((size_t)n * sizeof(*g));
	struct kshim_map_grants mg = { .grants = (uintptr_t)g, .count = n };
	int rc, e;

	if (!g)
		return -1;
	for (unsigned i = 0; i < n; i++)
		g[i] = (struct kshim_grant){ .ref = refs[i], .domid = (uint16_t)domids[i] };
	rc = ioctl(fd, KSHIM_IOC_MAP_GRANTS, &mg);
	e = errno;
	free(g);
	errno = e;
	if (rc < 0)
		return -1;
	*id = mg.id;
	return 0;
}

void *kshim_pool(int fd, size_t *len, bool writable, uint32_t *id)
{
	void *p;
	int e;

	*len = (*len + 4095) & ~(size_t)4095;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Fault every page in before kshim pins it: a read-only pin of memory
	 * never touched pins the shared zero page, and what we write there
	 * later lands in private copies the device never sees. */
	memset(p, 0, *len);
	if (kshim_reg(fd, (uintptr_t)p, *len, writable, id) < 0) {
		e = errno;
		munmap(p, *len);
		errno = e;
		return NULL;
	}
	return p;
}
