/*
 * kshim test, run as the init's payload of a QEMU guest (see run.sh) with:
 *   - one virtio-blk-pci (modern) over a zeroed host file of DISK_SECTORS sectors,
 *   - two virtio-net-pci (modern) on one QEMU hub, so that what one sends the other receives,
 * all first bound to virtio-pci. It moves them to kshim through driver_override, does real
 * I/O through kshim's uapi, checks that bad descriptors are refused, checks teardown (process
 * death, unbind while open, module reload), and prints one "PASS name" / "FAIL name: why" line
 * per check and a closing "N passed, N failed" line.
 *
 *   kshim_test /path/to/kshim.ko      the guest side
 *   kshim_test --check-disk FILE      the host side, after QEMU exits: is FILE exactly what the
 *                                     guest side wrote?
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "kshim_uapi.h"

#define DISK_SECTORS 32768		/* run.sh makes a 16 MiB disk */
#define PG 4096
#define MAXCQ 1024

/* ---- results ---------------------------------------------------------------------------- */

static int npass, nfail;

static bool check(bool ok, const char *name, const char *fmt, ...)
{
	if (ok) {
		printf("PASS %s\n", name);
		npass++;
	} else {
		va_list ap;

		printf("FAIL %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		nfail++;
	}
	fflush(stdout);
	return ok;
}

/* The disk pattern: a function of the absolute byte offset, so the host can check it. */
static uint8_t pat(uint64_t off)
{
	return (uint8_t)(((off * 0x9E3779B97F4A7C15ull) >> 56) ^ (off >> 9) ^ 0xA5);
}

/* Byte ranges of the disk the guest writes; everything else must stay zero. */
static const struct { uint64_t sector, count; } written[] = { { 0, 32 }, { 64, 24 }, { 128, 8 } };

/* ---- sysfs and binding ------------------------------------------------------------------ */

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Finds the n-th (0-based) PCI device with vendor 0x1af4 and the given device id. */
static bool find_pci(unsigned int devid, int n, char *bdf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char names[8][256];
	int count = 0;

	if (!d)
		return false;
	while ((e = readdir(d)) && count < 8) {
		char path[512];
		unsigned int v = 0, id = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%x", &v) != 1)
				v = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%x", &id) != 1)
				id = 0;
			fclose(f);
		}
		if (v == 0x1af4 && id == devid)
			snprintf(names[count++], sizeof(names[0]), "%s", e->d_name);
	}
	closedir(d);
	/* readdir order is not sorted: sort so that "the n-th" is stable */
	for (int i = 0; i < count; i++)
		for (int j = i + 1; j < count; j++)
			if (strcmp(names[j], names[i]) < 0) {
				char t[256];

				memcpy(t, names[i], sizeof(t));
				memcpy(names[i], names[j], sizeof(t));
				memcpy(names[j], t, sizeof(t));
			}
	if (n >= count)
		return false;
	snprintf(bdf, len, "%s", names[n]);
	return true;
}

static bool bound_to(const char *bdf, const char *drv)
{
	char path[256], target[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	return !strcmp(strrchr(target, '/') + 1, drv);
}

static bool dev_node_exists(const char *bdf)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/kshim-%s", bdf);
	return stat(path, &st) == 0;
}

/* The documented steps (kshim/README.md): unbind from the current driver, set
 * driver_override, bind. */
static int bind_kshim(const char *bdf)
{
	char path[256];
	int ret;

	if (bound_to(bdf, "kshim"))
		return 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	if (access(path, F_OK) == 0 && (ret = sysfs_write(path, bdf)))
		return ret;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if ((ret = sysfs_write(path, "kshim")))
		return ret;
	ret = sysfs_write("/sys/bus/pci/drivers/kshim/bind", bdf);
	if (ret)
		return ret;
	return dev_node_exists(bdf) ? 0 : -ENOENT;
}

static long vmstat(const char *key)
{
	FILE *f;
	char k[64];
	long v, ret = -1;

	/* fold the per-CPU deltas into the global counters first */
	sysfs_write("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", k, &v) == 2)
		if (!strcmp(k, key))
			ret = v;
	fclose(f);
	return ret;
}

static bool interrupts_mention(const char *s)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, s))
			found = true;
	fclose(f);
	return found;
}

/* ---- a kshim device and its queues -------------------------------------------------------- */

struct kq {
	uint16_t idx;
	int efd;
	struct kshim_queue_setup qs;
	uint8_t *area;
	struct kshim_chain *ch;
	struct kshim_seg *seg;
	struct kshim_cqe *cqe;
	struct kshim_cqe pend[MAXCQ];	/* completions collected but not consumed yet */
	int npend;
	uint16_t desc_free;		/* as the last KICK said */
};

struct kdev {
	int fd;
	char bdf[64];
	struct kshim_info info;
};

static int kopen(struct kdev *d, const char *bdf)
{
	char path[128];

	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	snprintf(path, sizeof(path), "/dev/kshim-%s", bdf);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return -errno;
	if (ioctl(d->fd, KSHIM_IOC_INFO, &d->info) < 0) {
		int e = -errno;

		close(d->fd);
		return e;
	}
	return 0;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static int set_features(struct kdev *d, uint64_t f)
{
	return xioctl(d->fd, KSHIM_IOC_SET_FEATURES, &f);
}

static int qsetup(struct kdev *d, struct kq *q, uint16_t idx, uint16_t size, bool irq)
{
	int ret;

	memset(q, 0, sizeof(*q));
	q->idx = idx;
	q->efd = irq ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	q->qs.index = idx;
	q->qs.size = size;
	q->qs.eventfd = q->efd;
	ret = xioctl(d->fd, KSHIM_IOC_QUEUE_SETUP, &q->qs);
	if (ret)
		return ret;
	q->area = mmap(NULL, q->qs.area_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		       q->qs.mmap_offset);
	if (q->area == MAP_FAILED)
		return -errno;
	q->ch = (void *)(q->area + q->qs.chain_off);
	q->seg = (void *)(q->area + q->qs.seg_off);
	q->cqe = (void *)(q->area + q->qs.cqe_off);
	return 0;
}

static void qclose(struct kq *q)
{
	if (q->area && q->area != MAP_FAILED)
		munmap(q->area, q->qs.area_size);
	if (q->efd >= 0)
		close(q->efd);
	q->area = NULL;
	q->efd = -1;
}

static int reg_mem(struct kdev *d, void *p, size_t len, bool writable, uint32_t *id)
{
	struct kshim_reg_mem rm = { .uaddr = (uintptr_t)p, .len = len,
				    .flags = writable ? KSHIM_MEM_WRITABLE : 0 };
	int ret = xioctl(d->fd, KSHIM_IOC_REG_MEM, &rm);

	*id = rm.id;
	return ret;
}

static void seg(struct kq *q, int i, uint32_t region, uint64_t off, uint32_t len, bool dev_write)
{
	q->seg[i] = (struct kshim_seg){ .region = region, .offset = off, .len = len,
					.flags = dev_write ? KSHIM_SEG_DEV_WRITE : 0 };
}

static void chain(struct kq *q, int i, uint64_t cookie, uint32_t first, uint16_t count)
{
	q->ch[i] = (struct kshim_chain){ .cookie = cookie, .seg_first = first,
					 .seg_count = count };
}

/* One KICK: submits chains[0..n); completions go to q->pend. Returns 0 or -errno. */
static int kick(struct kdev *d, struct kq *q, uint32_t n, uint32_t *done)
{
	struct kshim_kick k = { .queue = q->idx, .sq_count = n };
	int ret = xioctl(d->fd, KSHIM_IOC_KICK, &k);

	for (uint32_t i = 0; i < k.cq_count && q->npend < MAXCQ; i++)
		q->pend[q->npend++] = q->cqe[i];
	if (done)
		*done = k.sq_done;
	q->desc_free = k.desc_free;
	return ret;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits until q->pend holds `want` completions (interrupt-driven if the queue has an eventfd,
 * else polling). Returns how many it holds. */
static int wait_cq(struct kdev *d, struct kq *q, int want, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;

	for (;;) {
		uint64_t v;

		if (kick(d, q, 0, NULL) || q->npend >= want || now_ms() >= end)
			return q->npend;
		if (q->efd >= 0) {
			struct pollfd p = { .fd = q->efd, .events = POLLIN };

			if (poll(&p, 1, (int)(end - now_ms())) > 0 &&
			    read(q->efd, &v, sizeof(v)) != sizeof(v))
				return q->npend;
		} else {
			usleep(1000);
		}
	}
}

/* Finds and removes the completion with this cookie from q->pend. */
static bool take_cq(struct kq *q, uint64_t cookie, struct kshim_cqe *out)
{
	for (int i = 0; i < q->npend; i++)
		if (q->pend[i].cookie == cookie) {
			*out = q->pend[i];
			q->pend[i] = q->pend[--q->npend];
			return true;
		}
	return false;
}

static void *anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---- virtio-blk --------------------------------------------------------------------------- */

struct blk {
	struct kdev d;
	struct kq q;
	uint8_t *hdr, *data, *rd, *ro;
	uint32_t r_hdr, r_data, r_rd, r_ro;
};

/* Request i's header lives at hdr + 64 * i, its status byte at hdr + 2048 + i. */
static void blk_req(struct blk *b, int slot, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr *h = (void *)(b->hdr + 64 * slot);

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	b->hdr[2048 + slot] = 0xff;
}

/* Submits chains[0..n) in one KICK and waits for all; checks status bytes of slots. */
static bool blk_run(struct blk *b, int n, const char *name)
{
	uint32_t done;
	int ret = kick(&b->d, &b->q, n, &done);
	struct kshim_cqe c;

	if (ret || done != (uint32_t)n)
		return check(false, name, "kick: %s, %u of %d submitted", strerror(-ret), done, n);
	if (wait_cq(&b->d, &b->q, n, 10000) < n)
		return check(false, name, "only %d of %d completions", b->q.npend, n);
	for (int i = 0; i < n; i++) {
		if (!take_cq(&b->q, b->q.ch[i].cookie, &c))
			return check(false, name, "no completion for %d", i);
		/* cookie = 1000 + status slot */
		if (b->hdr[2048 + (c.cookie - 1000)] != VIRTIO_BLK_S_OK)
			return check(false, name, "request %d status %u", i,
				     b->hdr[2048 + (c.cookie - 1000)]);
	}
	return check(true, name, "");
}

/* Expects chains[0..n) to be refused with err at chain `at`, with nothing left in flight. */
static void blk_refused(struct blk *b, int n, int at, int err, const char *name)
{
	uint32_t done;
	int ret = kick(&b->d, &b->q, n, &done);

	check(ret == -err && done == (uint32_t)at, name, "kick returned %s with sq_done %u",
	      ret ? strerror(-ret) : "success", done);
}

/* Opens and sets up the disk for I/O, as after a module reload. */
static bool blk_open(struct blk *b, const char *bdf, bool event_idx, bool indirect)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1;
	int ret;

	ret = kopen(&b->d, bdf);
	if (!check(ret == 0, "reload: open", "%s", strerror(-ret)))
		return false;
	f |= b->d.info.features & (1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_SEG_MAX);
	if (event_idx)
		f |= b->d.info.features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	if (indirect)
		f |= b->d.info.features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	if (!(ret = set_features(&b->d, f)) && !(ret = qsetup(&b->d, &b->q, 0, 0, true)))
		ret = xioctl(b->d.fd, KSHIM_IOC_DRIVER_OK, NULL);
	return check(ret == 0, "reload: setup", "%s", strerror(-ret));
}

static void blk_close(struct blk *b)
{
	qclose(&b->q);
	close(b->d.fd);
}

static void test_blk(const char *bdf)
{
	struct blk b = { 0 };
	struct kshim_config_read cr = { .offset = 0, .width = 8 };
	struct kdev other;
	uint64_t f;
	int ret;

	ret = kopen(&b.d, bdf);
	if (!check(ret == 0, "blk: open", "%s", strerror(-ret)))
		return;
	check(b.d.info.device_id == 2 && b.d.info.num_queues >= 1 && b.d.info.max_queue_size >= 64 &&
	      (b.d.info.features >> VIRTIO_F_VERSION_1 & 1) && b.d.info.msix_vectors >= 1,
	      "blk: info", "id %u queues %u max %u features %#llx vectors %u", b.d.info.device_id,
	      b.d.info.num_queues, b.d.info.max_queue_size,
	      (unsigned long long)b.d.info.features, b.d.info.msix_vectors);
	check(kopen(&other, bdf) == -EBUSY, "blk: second open refused", "not EBUSY");
	check(xioctl(b.d.fd, KSHIM_IOC_CONFIG_READ, &cr) == 0 && cr.value == DISK_SECTORS,
	      "blk: config capacity", "%llu", (unsigned long long)cr.value);
	cr = (struct kshim_config_read){ .offset = 1, .width = 4 };
	check(xioctl(b.d.fd, KSHIM_IOC_CONFIG_READ, &cr) == -EINVAL, "blk: misaligned config read refused",
	      "not EINVAL");
	b.q.qs.eventfd = -1;
	check(xioctl(b.d.fd, KSHIM_IOC_QUEUE_SETUP, &b.q.qs) == -EBADFD,
	      "blk: queue setup before features refused", "not EBADFD");
	check(set_features(&b.d, 1ull << VIRTIO_BLK_F_FLUSH) == -EINVAL,
	      "blk: features without VERSION_1 refused", "not EINVAL");
	check(set_features(&b.d, 1ull << VIRTIO_F_VERSION_1 | 1ull << 34) == -EINVAL,
	      "blk: packed ring refused", "not EINVAL");
	f = 1ull << VIRTIO_F_VERSION_1 | (b.d.info.features & (1ull << VIRTIO_BLK_F_FLUSH |
		1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_RING_F_EVENT_IDX));
	if (!check(f >> VIRTIO_BLK_F_FLUSH & 1, "blk: flush offered", "no"))
		return;
	ret = set_features(&b.d, f);
	if (!check(ret == 0, "blk: features", "%s", strerror(-ret)))
		return;
	ret = qsetup(&b.d, &b.q, 0, 0, true);
	if (!check(ret == 0, "blk: queue setup", "%s", strerror(-ret)))
		return;
	check(b.q.qs.size == b.d.info.max_queue_size, "blk: queue size defaults to max", "%u",
	      b.q.qs.size);
	check(set_features(&b.d, f) == -EBADFD, "blk: features twice refused", "not EBADFD");

	/* Memory: headers+status (writable), write data (writable), read-back buffer
	 * (writable), and a read-only mapping registered read-only. */
	b.hdr = anon(PG);
	b.data = anon(16 * PG);
	b.rd = anon(16 * PG);
	b.ro = anon(4 * PG);
	for (int i = 0; i < 4 * PG; i++)
		b.ro[i] = pat(i);			/* sectors 0..31 */
	mprotect(b.ro, 4 * PG, PROT_READ);
	check(reg_mem(&b.d, b.ro, 4 * PG, true, &b.r_ro) == -EFAULT,
	      "mem: read-only mapping refused as writable", "not EFAULT");
	check(reg_mem(&b.d, b.data + 100, PG, true, &b.r_data) == -EINVAL,
	      "mem: unaligned address refused", "not EINVAL");
	check(reg_mem(&b.d, (void *)0x10000, PG, true, &b.r_data) == -EFAULT,
	      "mem: unmapped address refused", "not EFAULT");
	{
		/* Grants exist only under Xen: here, no region and ENODEV. */
		struct kshim_grant g = { .ref = 8, .domid = 1 };
		struct kshim_map_grants mg = { .grants = (uintptr_t)&g, .count = 1 };

		check(xioctl(b.d.fd, KSHIM_IOC_MAP_GRANTS, &mg) == -ENODEV && mg.id == 0,
		      "mem: grant mapping refused without Xen", "not ENODEV");
	}
	if (!check(!reg_mem(&b.d, b.hdr, PG, true, &b.r_hdr) &&
		   !reg_mem(&b.d, b.data, 16 * PG, true, &b.r_data) &&
		   !reg_mem(&b.d, b.rd, 16 * PG, true, &b.r_rd) &&
		   !reg_mem(&b.d, b.ro, 4 * PG, false, &b.r_ro), "mem: register", "%m"))
		return;

	blk_req(&b, 0, VIRTIO_BLK_T_FLUSH, 0);
	seg(&b.q, 0, b.r_hdr, 0, 16, false);
	seg(&b.q, 1, b.r_hdr, 2048, 1, true);
	chain(&b.q, 0, 1000, 0, 2);
	check(kick(&b.d, &b.q, 1, NULL) == -EBADFD, "blk: kick before DRIVER_OK refused",
	      "not EBADFD");
	if (!check(xioctl(b.d.fd, KSHIM_IOC_DRIVER_OK, NULL) == 0, "blk: driver ok", "%m"))
		return;

	/* Three writes in one batch: 16 KiB from the read-only region; 12 KiB starting mid-page
	 * (crosses pages); 4 KiB from two scattered pieces, one crossing a page. */
	for (int i = 0; i < 12288; i++)
		b.data[2048 + i] = pat(64 * 512 + i);
	for (int i = 0; i < 1024; i++)
		b.data[5 * PG + 100 + i] = pat(128 * 512 + i);
	for (int i = 0; i < 3072; i++)
		b.data[9 * PG + 3000 + i] = pat(128 * 512 + 1024 + i);
	blk_req(&b, 0, VIRTIO_BLK_T_OUT, 0);
	blk_req(&b, 1, VIRTIO_BLK_T_OUT, 64);
	blk_req(&b, 2, VIRTIO_BLK_T_OUT, 128);
	seg(&b.q, 0, b.r_hdr, 0, 16, false);
	seg(&b.q, 1, b.r_ro, 0, 16384, false);
	seg(&b.q, 2, b.r_hdr, 2048, 1, true);
	seg(&b.q, 3, b.r_hdr, 64, 16, false);
	seg(&b.q, 4, b.r_data, 2048, 12288, false);
	seg(&b.q, 5, b.r_hdr, 2049, 1, true);
	seg(&b.q, 6, b.r_hdr, 128, 16, false);
	seg(&b.q, 7, b.r_data, 5 * PG + 100, 1024, false);
	seg(&b.q, 8, b.r_data, 9 * PG + 3000, 3072, false);
	seg(&b.q, 9, b.r_hdr, 2050, 1, true);
	chain(&b.q, 0, 1000, 0, 3);
	chain(&b.q, 1, 1001, 3, 3);
	chain(&b.q, 2, 1002, 6, 4);
	blk_run(&b, 3, "blk: write batch");

	blk_req(&b, 0, VIRTIO_BLK_T_FLUSH, 0);
	seg(&b.q, 0, b.r_hdr, 0, 16, false);
	seg(&b.q, 1, b.r_hdr, 2048, 1, true);
	chain(&b.q, 0, 1000, 0, 2);
	blk_run(&b, 1, "blk: flush");

	/* Read back into other buffers, laid out differently (mid-page, odd offsets). */
	memset(b.rd, 0, 16 * PG);
	blk_req(&b, 0, VIRTIO_BLK_T_IN, 0);
	blk_req(&b, 1, VIRTIO_BLK_T_IN, 64);
	blk_req(&b, 2, VIRTIO_BLK_T_IN, 128);
	seg(&b.q, 0, b.r_hdr, 0, 16, false);
	seg(&b.q, 1, b.r_rd, 0, 16384, true);
	seg(&b.q, 2, b.r_hdr, 2048, 1, true);
	seg(&b.q, 3, b.r_hdr, 64, 16, false);
	seg(&b.q, 4, b.r_rd, 16384 + 512, 12288, true);
	seg(&b.q, 5, b.r_hdr, 2049, 1, true);
	seg(&b.q, 6, b.r_hdr, 128, 16, false);
	seg(&b.q, 7, b.r_rd, 40960 + 7, 2000, true);
	seg(&b.q, 8, b.r_rd, 50000, 2096, true);
	seg(&b.q, 9, b.r_hdr, 2050, 1, true);
	chain(&b.q, 0, 1000, 0, 3);
	chain(&b.q, 1, 1001, 3, 3);
	chain(&b.q, 2, 1002, 6, 4);
	if (blk_run(&b, 3, "blk: read batch")) {
		int bad = -1;

		for (int i = 0; i < 16384 && bad < 0; i++)
			if (b.rd[i] != pat(i))
				bad = i;
		for (int i = 0; i < 12288 && bad < 0; i++)
			if (b.rd[16384 + 512 + i] != pat(64 * 512 + i))
				bad = 100000 + i;
		for (int i = 0; i < 2000 && bad < 0; i++)
			if (b.rd[40960 + 7 + i] != pat(128 * 512 + i))
				bad = 200000 + i;
		for (int i = 0; i < 2096 && bad < 0; i++)
			if (b.rd[50000 + i] != pat(128 * 512 + 2000 + i))
				bad = 300000 + i;
		check(bad < 0, "blk: read back equals written", "mismatch at %d", bad);
	}

	/* What must be refused. Each time nothing may reach the device. */
	blk_req(&b, 0, VIRTIO_BLK_T_IN, 0);
	seg(&b.q, 0, b.r_hdr, 0, 16, false);
	seg(&b.q, 2, b.r_hdr, 2048, 1, true);
	chain(&b.q, 0, 1000, 0, 3);
	seg(&b.q, 1, 999, 0, 512, true);
	blk_refused(&b, 1, 0, ENOENT, "refuse: unknown region");
	seg(&b.q, 1, b.r_rd, 16 * PG, 512, true);
	blk_refused(&b, 1, 0, ERANGE, "refuse: offset past region end");
	seg(&b.q, 1, b.r_rd, 16 * PG - 512, 1024, true);
	blk_refused(&b, 1, 0, ERANGE, "refuse: buffer crossing region end");
	seg(&b.q, 1, b.r_rd, UINT64_MAX - 511, 1024, true);
	blk_refused(&b, 1, 0, ERANGE, "refuse: offset wrap-around");
	seg(&b.q, 1, b.r_rd, 0, 0, true);
	blk_refused(&b, 1, 0, ERANGE, "refuse: zero length");
	seg(&b.q, 1, b.r_ro, 0, 512, true);
	blk_refused(&b, 1, 0, EPERM, "refuse: device write into read-only region");
	seg(&b.q, 1, b.r_rd, 0, 512, true);
	b.q.seg[1].flags = 0x80;
	blk_refused(&b, 1, 0, EINVAL, "refuse: unknown segment flag");
	seg(&b.q, 0, b.r_hdr, 2048, 1, true);
	seg(&b.q, 1, b.r_rd, 0, 512, true);
	seg(&b.q, 2, b.r_hdr, 0, 16, false);
	blk_refused(&b, 1, 0, EINVAL, "refuse: readable after writable");
	chain(&b.q, 0, 1000, b.q.qs.size - 1, 2);
	blk_refused(&b, 1, 0, EINVAL, "refuse: segments outside the area");
	chain(&b.q, 0, 1000, 0, 0);
	blk_refused(&b, 1, 0, EINVAL, "refuse: empty chain");
	/* A batch whose second chain is bad: the first goes, the second and third do not. */
	blk_req(&b, 0, VIRTIO_BLK_T_FLUSH, 0);
	seg(&b.q, 0, b.r_hdr, 0, 16, false);
	seg(&b.q, 1, b.r_hdr, 2048, 1, true);
	seg(&b.q, 2, b.r_hdr, 64, 16, false);
	seg(&b.q, 3, b.r_hdr, PG - 1, 2, true);
	chain(&b.q, 0, 1000, 0, 2);
	chain(&b.q, 1, 1001, 2, 2);
	chain(&b.q, 2, 1002, 0, 2);
	blk_refused(&b, 3, 1, ERANGE, "refuse: second chain of a batch");
	/* A region is gone once unregistered. */
	check(xioctl(b.d.fd, KSHIM_IOC_UNREG_MEM, &b.r_ro) == 0, "mem: unregister", "%m");
	seg(&b.q, 4, b.r_ro, 0, 512, false);
	chain(&b.q, 0, 1003, 4, 1);
	blk_refused(&b, 1, 0, ENOENT, "refuse: unregistered region");
	{
		struct kshim_cqe c;

		wait_cq(&b.d, &b.q, 1, 10000);
		usleep(200000);
		kick(&b.d, &b.q, 0, NULL);
		check(b.q.npend == 1 && take_cq(&b.q, 1000, &c) && b.hdr[2048] == VIRTIO_BLK_S_OK,
		      "refuse: only the good chain ran", "%d completions", b.q.npend);
	}
	blk_close(&b);
	/* The file is closed: the region ids are gone with it and the device is reset. */
}

/* Reads sectors 0-31 again as one chain of n + 2 descriptors: n pieces of 16384 / n bytes, each
 * followed by a gap so none merges. Checks the ring slots the chain took while in flight and the
 * data. */
static void blk_read_pieces(struct blk *b, int n, uint16_t slots, const char *name)
{
	int len = 16384 / n, bad = -1;
	uint32_t done;
	int ret;

	memset(b->rd, 0, 8 * PG);
	blk_req(b, 0, VIRTIO_BLK_T_IN, 0);
	seg(&b->q, 0, b->r_hdr, 0, 16, false);
	for (int i = 0; i < n; i++)
		seg(&b->q, 1 + i, b->r_rd, (uint64_t)i * 2 * len, len, true);
	seg(&b->q, 1 + n, b->r_hdr, 2048, 1, true);
	chain(&b->q, 0, 1000, 0, n + 2);
	ret = kick(&b->d, &b->q, 1, &done);
	if (!check(ret == 0 && done == 1 && b->q.desc_free == b->q.qs.size - slots, name,
		   "%s, %u submitted, %u of %u descriptors free", strerror(-ret), done,
		   b->q.desc_free, b->q.qs.size))
		return;
	if (wait_cq(&b->d, &b->q, 1, 10000) < 1 || b->hdr[2048] != VIRTIO_BLK_S_OK) {
		check(false, name, "no completion, or status %u", b->hdr[2048]);
		return;
	}
	b->q.npend = 0;
	for (int i = 0; i < 16384 && bad < 0; i++)
		if (b->rd[i / len * 2 * len + i % len] != pat(i))
			bad = i;
	check(bad < 0, n > 8 ? "indirect: the long read's data" : "indirect: the short read's data",
	      "mismatch at byte %d", bad);
}

/* With VIRTIO_RING_F_INDIRECT_DESC: a chain that fits a table takes one slot of the ring; a
 * longer one is chained in the ring itself. */
static void blk_indirect(struct blk *b)
{
	blk_read_pieces(b, 8, 1, "indirect: a 10-descriptor read takes one ring slot");
	blk_read_pieces(b, 64, 66, "indirect: a 66-descriptor read goes in the ring");
}

/* After a module reload: the data written before is still there. */
static void test_blk_reread(const char *bdf)
{
	struct blk b = { 0 };
	int bad = -1;

	/* with indirect descriptors, which the first open of the disk did without */
	if (!blk_open(&b, bdf, false, true))
		return;
	b.hdr = anon(PG);
	b.rd = anon(8 * PG);
	if (!check(!reg_mem(&b.d, b.hdr, PG, true, &b.r_hdr) &&
		   !reg_mem(&b.d, b.rd, 8 * PG, true, &b.r_rd), "reload: register", "%m"))
		return;
	blk_req(&b, 0, VIRTIO_BLK_T_IN, 0);
	seg(&b.q, 0, b.r_hdr, 0, 16, false);
	seg(&b.q, 1, b.r_rd, 0, 16384, true);
	seg(&b.q, 2, b.r_hdr, 2048, 1, true);
	chain(&b.q, 0, 1000, 0, 3);
	if (blk_run(&b, 1, "reload: read sectors 0-31")) {
		for (int i = 0; i < 16384 && bad < 0; i++)
			if (b.rd[i] != pat(i))
				bad = i;
		check(bad < 0, "reload: data intact", "mismatch at %d", bad);
	}
	blk_indirect(&b);
	blk_close(&b);
}

/* ---- virtio-net ---------------------------------------------------------------------------- */

#define NET_HDR 12		/* struct virtio_net_hdr_v1: VERSION_1 always has num_buffers */
#define RX_STRIDE 1600		/* not a divisor of the page size: some buffers cross pages */
#define TX_BASE (32 * 1024)
#define NRX 8

struct net {
	struct kdev d;
	struct kq rx, tx;
	uint8_t *mem;
	uint32_t region;
	uint8_t mac[6];
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
};

static const int frame_len[] = { 60, 333, 1000, 1514 };

static bool net_open(struct net *n, const char *bdf, bool event_idx, const char *tag)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MAC;
	char name[64];
	int ret;

	memset(n, 0, sizeof(*n));
	n->rx.efd = n->tx.efd = -1;
	snprintf(name, sizeof(name), "net %s: open", tag);
	ret = kopen(&n->d, bdf);
	if (!check(ret == 0, name, "%s", strerror(-ret)))
		return false;
	snprintf(name, sizeof(name), "net %s: info", tag);
	check(n->d.info.device_id == 1 && n->d.info.num_queues >= 2, name, "id %u queues %u",
	      n->d.info.device_id, n->d.info.num_queues);
	/* The device with EVENT_IDX also gets indirect descriptors: one of each kind. */
	if (event_idx)
		f |= n->d.info.features & (1ull << VIRTIO_RING_F_EVENT_IDX |
					   1ull << VIRTIO_RING_F_INDIRECT_DESC);
	n->indirect = f >> VIRTIO_RING_F_INDIRECT_DESC & 1;
	snprintf(name, sizeof(name), "net %s: setup", tag);
	if (!(ret = set_features(&n->d, f)) && !(ret = qsetup(&n->d, &n->rx, 0, 0, true)))
		ret = qsetup(&n->d, &n->tx, 1, 64, false);
	if (ret)
		return check(false, name, "%s", strerror(-ret));
	for (int i = 0; i < 6; i++) {
		struct kshim_config_read cr = { .offset = i, .width = 1 };

		if (xioctl(n->d.fd, KSHIM_IOC_CONFIG_READ, &cr))
			return check(false, name, "config read %m");
		n->mac[i] = cr.value;
	}
	n->mem = anon(64 * 1024);
	return check(n->tx.qs.size == 64 && !reg_mem(&n->d, n->mem, 64 * 1024, true, &n->region) &&
		     !xioctl(n->d.fd, KSHIM_IOC_DRIVER_OK, NULL), name, "%m");
}

static bool net_post_rx(struct net *n, const char *tag)
{
	char name[64];
	uint32_t done;
	int ret;

	for (int i = 0; i < NRX; i++) {
		seg(&n->rx, i, n->region, i * RX_STRIDE, RX_STRIDE, true);
		chain(&n->rx, i, 100 + i, i, 1);
	}
	snprintf(name, sizeof(name), "net %s: post %d rx buffers", tag, NRX);
	ret = kick(&n->d, &n->rx, NRX, &done);
	return check(ret == 0 && done == NRX, name, "%s", strerror(-ret));
}

static void net_close(struct net *n)
{
	qclose(&n->rx);
	qclose(&n->tx);
	close(n->d.fd);
}

static uint8_t payload(int seq, int j)
{
	return (uint8_t)(seq * 31 + j * 7);
}

/* Sends frames seq0..seq0+count-1 from a to b in one batch, waits for the TX completions. */
static void net_send(struct net *a, const struct net *b, int seq0, int count, const char *tag)
{
	char name[64];
	uint32_t done;
	int ret;

	snprintf(name, sizeof(name), "net %s: send %d frames", tag, count);
	for (int i = 0; i < count; i++) {
		/* With indirect descriptors, a gap after the header keeps kshim from merging it
		 * with the frame: each chain is a two-entry table. */
		uint32_t gap = a->indirect ? 4 : 0;
		uint8_t *slot = a->mem + TX_BASE + i * 2048, *fr = slot + NET_HDR + gap;
		int len = frame_len[(seq0 + i) % 4];

		memset(slot, 0, NET_HDR);
		memcpy(fr, b->mac, 6);
		memcpy(fr + 6, a->mac, 6);
		fr[12] = 0x88;	/* local experimental ethertype */
		fr[13] = 0xb5;
		for (int j = 14; j < len; j++)
			fr[j] = payload(seq0 + i, j);
		seg(&a->tx, 2 * i, a->region, TX_BASE + i * 2048, NET_HDR, false);
		seg(&a->tx, 2 * i + 1, a->region, TX_BASE + i * 2048 + NET_HDR + gap, len, false);
		chain(&a->tx, i, 500 + i, 2 * i, 2);
	}
	ret = kick(&a->d, &a->tx, count, &done);
	if (ret || done != (uint32_t)count)
		check(false, name, "%s, %u submitted", strerror(-ret), done);
	else if (a->indirect && a->tx.desc_free != a->tx.qs.size - count)
		check(false, name, "indirect: %u of %u descriptors free after %d two-segment chains",
		      a->tx.desc_free, a->tx.qs.size, count);
	else
		check(wait_cq(&a->d, &a->tx, count, 10000) >= count, name, "%d tx completions",
		      a->tx.npend);
	a->tx.npend = 0;
}

/* Waits for frames seq0.. from `from` on b's RX queue and checks each byte; reposts the
 * buffers. */
static void net_expect(struct net *b, const struct net *from, int seq0, int count, const char *tag)
{
	char name[64];
	int got = wait_cq(&b->d, &b->rx, count, 10000), bad = 0;

	snprintf(name, sizeof(name), "net %s: receive %d frames", tag, count);
	if (got != count) {
		check(false, name, "%d received", got);
		return;
	}
	for (int i = 0; i < count; i++) {
		struct kshim_cqe c = b->rx.pend[i];
		int slot = c.cookie - 100, seq = seq0 + i, len = frame_len[seq % 4];
		const uint8_t *fr = b->mem + slot * RX_STRIDE + NET_HDR;

		if (slot < 0 || slot >= NRX) {
			bad++;
			slot = 0;
		} else if (c.len != (uint32_t)(NET_HDR + len) || memcmp(fr, b->mac, 6) ||
			   memcmp(fr + 6, from->mac, 6)) {
			bad++;
		} else {
			for (int j = 14; j < len; j++)
				if (fr[j] != payload(seq, j)) {
					bad++;
					break;
				}
		}
		/* repost the buffer */
		seg(&b->rx, i, b->region, slot * RX_STRIDE, RX_STRIDE, true);
		chain(&b->rx, i, 100 + slot, i, 1);
	}
	b->rx.npend = 0;
	check(bad == 0 && kick(&b->d, &b->rx, count, NULL) == 0, name, "%d bad frames", bad);
}

static void test_net(const char *bdf_a, const char *bdf_b)
{
	struct net a, b;

	/* A with EVENT_IDX and indirect descriptors, B with neither: both notification schemes,
	 * both ways of laying out a chain. */
	if (!net_open(&a, bdf_a, true, "A") || !net_open(&b, bdf_b, false, "B"))
		return;
	check(a.indirect, "net: A has indirect descriptors", "the device does not offer them");
	check(!memcmp(a.mac, "\x52\x54\x00\x4b\x53\x01", 6) &&
	      !memcmp(b.mac, "\x52\x54\x00\x4b\x53\x02", 6), "net: config MAC",
	      "%02x:%02x:%02x:%02x:%02x:%02x", a.mac[0], a.mac[1], a.mac[2], a.mac[3], a.mac[4],
	      a.mac[5]);
	if (!net_post_rx(&a, "A") || !net_post_rx(&b, "B"))
		return;
	check(xioctl(b.d.fd, KSHIM_IOC_UNREG_MEM, &b.region) == -EBUSY,
	      "mem: unregister with buffers in flight refused", "not EBUSY");
	net_send(&a, &b, 0, 4, "A->B");
	net_expect(&b, &a, 0, 4, "A->B");
	net_send(&b, &a, 10, 4, "B->A");
	net_expect(&a, &b, 10, 4, "B->A");
	/* A lone frame into a queue of posted receive buffers interrupts at once with EVENT_IDX
	 * too: kshim does not wait for half of them to fill (they may never). */
	{
		struct pollfd p = { .fd = a.rx.efd, .events = POLLIN };
		uint64_t v;

		while (poll(&p, 1, 0) > 0 && read(a.rx.efd, &v, sizeof(v)) == sizeof(v))
			;
		net_send(&b, &a, 14, 1, "B->A lone frame");
		p.revents = 0;
		check(poll(&p, 1, 2000) > 0, "net: a lone received frame interrupts (EVENT_IDX)",
		      "no interrupt within 2 s");
		net_expect(&a, &b, 14, 1, "B->A lone frame");
	}
	/* more frames than one batch of RX buffers: recycling works */
	for (int r = 0; r < 3; r++) {
		char tag[32];

		snprintf(tag, sizeof(tag), "A->B round %d", r + 2);
		net_send(&a, &b, 20 + 4 * r, 4, tag);
		net_expect(&b, &a, 20 + 4 * r, 4, tag);
	}
	/* Fill A's RX ring with one-descriptor buffers (NRX buffers are posted already, each using
	 * one or two descriptors: the pages under one crossing a page boundary may or may not be
	 * contiguous); one more chain finds no free descriptor. No frame comes to fill them: A is
	 * closed with them in flight. */
	{
		uint32_t room, done = 0;
		int ret;

		kick(&a.d, &a.rx, 0, NULL);
		room = a.rx.desc_free;
		check(room + 2 * NRX >= a.rx.qs.size && room + NRX <= a.rx.qs.size,
		      "ring: free descriptor count", "%u of %u", room, a.rx.qs.size);
		for (uint32_t i = 0; i < room; i++) {
			seg(&a.rx, i, a.region, 0, 100, true);
			chain(&a.rx, i, 1000 + i, i, 1);
		}
		ret = kick(&a.d, &a.rx, room, &done);
		check(ret == 0 && done == room, "ring: fill to queue size", "%s, %u of %u",
		      strerror(-ret), done, room);
		chain(&a.rx, 0, 999, 0, 1);
		ret = kick(&a.d, &a.rx, 1, &done);
		check(ret == -ENOSPC && done == 0 && a.rx.desc_free == 0,
		      "ring: full ring refuses with ENOSPC", "%s", ret ? strerror(-ret) : "accepted");
	}
	net_close(&a);

	/* Process death with DMA in flight: a child opens A, posts RX buffers, dies. */
	pid_t pid = fork();

	if (pid == 0) {
		struct net c;

		if (net_open(&c, bdf_a, false, "child") && net_post_rx(&c, "child"))
			kill(getpid(), SIGKILL);
		_exit(1);
	}
	int st;

	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "death: child killed with DMA in flight",
	      "status %#x", st);
	if (!net_open(&a, bdf_a, false, "A after death") || !net_post_rx(&a, "A after death"))
		return;
	check((a.d.info.status & 0xf) == (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER),
	      "death: device reset on reopen", "status %#x", a.d.info.status);
	net_send(&b, &a, 40, 4, "B->A after death");
	net_expect(&a, &b, 40, 4, "B->A after death");
	net_close(&a);
	net_close(&b);
}

/* Unbind while open, with RX buffers in flight: ioctls fail, close works, rebind works. */
static void test_unplug(const char *bdf)
{
	struct net n;
	struct kshim_info info;
	int ret;

	if (!net_open(&n, bdf, false, "unplug") || !net_post_rx(&n, "unplug"))
		return;
	ret = sysfs_write("/sys/bus/pci/drivers/kshim/unbind", bdf);
	check(ret == 0, "unplug: unbind while open", "%s", strerror(-ret));
	check(xioctl(n.d.fd, KSHIM_IOC_INFO, &info) == -ENODEV &&
	      kick(&n.d, &n.rx, 0, NULL) == -ENODEV, "unplug: ioctls refused after removal",
	      "not ENODEV");
	check(!dev_node_exists(bdf), "unplug: device node gone", "still there");
	check(n.rx.ch[0].cookie == 100, "unplug: mapped area still readable", "cookie %llu",
	      (unsigned long long)n.rx.ch[0].cookie);
	net_close(&n);
	check(!interrupts_mention(bdf), "unplug: interrupts freed", "still in /proc/interrupts");
	ret = sysfs_write("/sys/bus/pci/drivers/kshim/bind", bdf);
	check(ret == 0 && dev_node_exists(bdf), "unplug: rebind", "%s", strerror(-ret));
	ret = kopen(&n.d, bdf);
	if (check(ret == 0, "unplug: reopen after rebind", "%s", strerror(-ret)))
		close(n.d.fd);
}

/* ---- host side ----------------------------------------------------------------------------- */

static int check_disk(const char *file)
{
	FILE *f = fopen(file, "rb");
	uint64_t off = 0, bad = 0, first_bad = 0;
	int c;

	if (!f) {
		perror(file);
		return 1;
	}
	while ((c = getc(f)) != EOF) {
		uint8_t want = 0;

		for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++)
			if (off >= written[i].sector * 512 &&
			    off < (written[i].sector + written[i].count) * 512)
				want = pat(off);
		if (c != want && !bad++)
			first_bad = off;
		off++;
	}
	fclose(f);
	if (off != DISK_SECTORS * 512ull || bad) {
		printf("FAIL host: disk contents: size %llu, %llu bad bytes from %llu\n",
		       (unsigned long long)off, (unsigned long long)bad,
		       (unsigned long long)first_bad);
		return 1;
	}
	printf("PASS host: disk contents\n");
	return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char blk[64], net_a[64], net_b[64];
	long pins0;
	int ret, fd;

	if (argc == 3 && !strcmp(argv[1], "--check-disk"))
		return check_disk(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: %s KSHIM.KO | --check-disk FILE\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!check(find_pci(0x1042, 0, blk, sizeof(blk)) && find_pci(0x1041, 0, net_a, sizeof(net_a)) &&
		   find_pci(0x1041, 1, net_b, sizeof(net_b)), "setup: devices present", "missing"))
		goto out;
	check(bound_to(blk, "virtio-pci"), "setup: virtio-pci had the disk", "not bound");
	if (!(ret = bind_kshim(blk)) && !(ret = bind_kshim(net_a)))
		ret = bind_kshim(net_b);
	if (!check(ret == 0, "setup: bind via driver_override", "%s", strerror(-ret)))
		goto out;
	pins0 = vmstat("nr_foll_pin_acquired") - vmstat("nr_foll_pin_released");

	test_blk(blk);
	test_net(net_a, net_b);
	test_unplug(net_b);

	check(vmstat("nr_foll_pin_acquired") - vmstat("nr_foll_pin_released") == pins0,
	      "teardown: every pinned page released", "acquired %ld released %ld",
	      vmstat("nr_foll_pin_acquired"), vmstat("nr_foll_pin_released"));
	check(vmstat("nr_foll_pin_acquired") > pins0, "teardown: pins were counted", "no counter");
	check(!interrupts_mention("kshim"), "teardown: no kshim interrupts left", "found");

	/* Module unload with devices bound, then load again: driver_override still says kshim,
	 * so the devices come back by themselves. */
	check(syscall(SYS_delete_module, "kshim", O_NONBLOCK) == 0 &&
	      access("/sys/bus/pci/drivers/kshim", F_OK) != 0 && !dev_node_exists(blk),
	      "reload: rmmod", "%m");
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	check(fd >= 0 && syscall(SYS_finit_module, fd, "", 0) == 0 && bound_to(blk, "kshim") &&
	      dev_node_exists(blk), "reload: insmod rebinds", "%m");
	close(fd);
	test_blk_reread(blk);

	/* Giving a device back (kshim/README.md): unbind, clear the override, reprobe. */
	{
		char path[256];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", net_b);
		ret = sysfs_write("/sys/bus/pci/drivers/kshim/unbind", net_b);
		if (!ret)
			ret = sysfs_write(path, "\n");
		if (!ret)
			ret = sysfs_write("/sys/bus/pci/drivers_probe", net_b);
		check(ret == 0 && bound_to(net_b, "virtio-pci"), "give back: virtio-pci has it again",
		      "%s", strerror(-ret));
	}
out:
	printf("kshim_test: %d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
