/*
 * vhost_net.c - set-up of a vhost-net transmit queue over a TAP
 * (vhost_net.h), in the order QEMU and DPDK's virtio-user use: owner,
 * features, memory table, then the ring's size, start index, addresses and
 * kick eventfd, and last the backend, which starts the worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "vhost_net.h"

/* vhost-net's queues: 0 receive (unused here), 1 transmit. */
#define TXQ 1

int vhost_net_open(struct vhost_net *v, char *err, size_t errlen)
{
	uint64_t features = 0;

	memset(v, 0, sizeof(*v));
	v->kick = -1;
	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot open /dev/vhost-net: %s%s", strerror(e),
			 e == ENOENT || e == ENODEV || e == ENXIO ?
			 " (load the vhost_net module: modprobe vhost_net)" : "");
		errno = e;
		return -1;
	}
	/* Our mm is the one the worker copies from; no feature bits: legacy
	 * rings, the TAP handles the vnet header. */
	if (ioctl(v->fd, VHOST_SET_OWNER) < 0 || ioctl(v->fd, VHOST_SET_FEATURES, &features) < 0) {
		int e = errno;

		snprintf(err, errlen, "vhost-net: setting it up: %s", strerror(e));
		close(v->fd);
		v->fd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

int vhost_net_region(struct vhost_net *v, void *addr, size_t len)
{
	if (v->nregions == VHOST_NET_MAX_REGIONS || !addr || !len) {
		errno = ENOSPC;
		return -1;
	}
	v->region[v->nregions].addr = addr;
	v->region[v->nregions].len = len;
	v->nregions++;
	return 0;
}

static int set_mem_table(struct vhost_net *v)
{
	struct vhost_memory *m = calloc(1, sizeof(*m) + v->nregions * sizeof(m->regions[0]));
	int rc;

	if (!m)
		return -1;
	m->nregions = v->nregions;
	for (unsigned i = 0; i < v->nregions; i++) {
		uint64_t a = (uint64_t)(uintptr_t)v->region[i].addr;

		m->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = a, .userspace_addr = a, .memory_size = v->region[i].len,
		};
	}
	rc = ioctl(v->fd, VHOST_SET_MEM_TABLE, m);
	free(m);
	return rc;
}

int vhost_net_start(struct vhost_net *v, int tapfd, unsigned num, char *err, size_t errlen)
{
	struct vhost_vring_state num_s = { .index = TXQ, .num = num }, base = { .index = TXQ };
	struct vhost_vring_addr addr = { .index = TXQ };
	struct vhost_vring_file kick = { .index = TXQ }, backend = { .index = TXQ, .fd = tapfd };
	const char *what = "ring";

	if (vring_q_init(&v->tx, num) < 0)
		goto fail;
	/* The worker is never asked to signal: no call eventfd. */
	vring_q_interrupts(&v->tx, false);
	addr.desc_user_addr = (uint64_t)(uintptr_t)v->tx.r.desc;
	addr.avail_user_addr = (uint64_t)(uintptr_t)v->tx.r.avail;
	addr.used_user_addr = (uint64_t)(uintptr_t)v->tx.r.used;
	what = "memory table";
	if (set_mem_table(v) < 0)
		goto fail;
	what = "transmit ring";
	v->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	kick.fd = v->kick;
	if (v->kick < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_NUM, &num_s) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_ADDR, &addr) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_KICK, &kick) < 0)
		goto fail;
	what = "attaching the TAP";
	if (ioctl(v->fd, VHOST_NET_SET_BACKEND, &backend) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "vhost-net: %s: %s", what, strerror(errno));
	return -1;
}

void vhost_net_kick(struct vhost_net *v)
{
	uint64_t one = 1;

	/* Cannot fail short of a bad fd: the count only saturates. */
	if (write(v->kick, &one, sizeof(one)) < 0)
		return;
}

void vhost_net_stop(struct vhost_net *v)
{
	struct vhost_vring_file backend = { .index = TXQ, .fd = -1 };

	if (v->fd >= 0)
		ioctl(v->fd, VHOST_NET_SET_BACKEND, &backend);
}

void vhost_net_close(struct vhost_net *v)
{
	if (v->fd >= 0)
		close(v->fd);
	if (v->kick >= 0)
		close(v->kick);
	vring_q_free(&v->tx);
	v->fd = v->kick = -1;
}
