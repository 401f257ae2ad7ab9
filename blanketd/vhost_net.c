/*
 * vhost_net.c - set-up of a vhost-net instance over a TAP (vhost_net.h), in
 * the order QEMU and DPDK's virtio-user use: owner, features, memory table,
 * then per ring its size, start index, addresses and eventfds, and last
 * the backend, which starts the worker.
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

int vhost_net_open(struct vhost_net *v, char *err, size_t errlen)
{
	uint64_t features = 0;

	memset(v, 0, sizeof(*v));
	v->kick[0] = v->kick[1] = v->call[0] = v->call[1] = -1;
	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot open /dev/vhost-net: %s%s", strerror(e),
			 e == ENOENT || e == ENODEV || e == ENXIO ?
			 " (load the vhost_net module: modprobe vhost_net)" : "");
		errno = e;
		return -1;
	}
	/* Our mm is the one the worker copies from and to; no feature bits:
	 * legacy rings, the TAP handles the vnet header. */
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

static int set_ring(struct vhost_net *v, unsigned i, unsigned num, int tapfd)
{
	struct vring_q *q = &v->q[i];
	struct vhost_vring_state num_s = { .index = i, .num = num }, base = { .index = i, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = i,
		.desc_user_addr = (uint64_t)(uintptr_t)q->r.desc,
		.avail_user_addr = (uint64_t)(uintptr_t)q->r.avail,
		.used_user_addr = (uint64_t)(uintptr_t)q->r.used,
	};
	struct vhost_vring_file kick = { .index = i }, call = { .index = i },
				backend = { .index = i, .fd = tapfd };

	v->kick[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	v->call[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (v->kick[i] < 0 || v->call[i] < 0)
		return -1;
	kick.fd = v->kick[i];
	call.fd = v->call[i];
	if (ioctl(v->fd, VHOST_SET_VRING_NUM, &num_s) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_ADDR, &addr) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_KICK, &kick) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_CALL, &call) < 0 ||
	    ioctl(v->fd, VHOST_NET_SET_BACKEND, &backend) < 0)
		return -1;
	return 0;
}

int vhost_net_start(struct vhost_net *v, int tapfd, unsigned rxnum, unsigned txnum,
		    char *err, size_t errlen)
{
	const char *what = "rings";

	if (vring_q_init(&v->q[VHOST_NET_RXQ], rxnum) < 0 ||
	    vring_q_init(&v->q[VHOST_NET_TXQ], txnum) < 0)
		goto fail;
	what = "memory table";
	if (set_mem_table(v) < 0)
		goto fail;
	what = "receive ring";
	if (set_ring(v, VHOST_NET_RXQ, rxnum, tapfd) < 0)
		goto fail;
	what = "transmit ring";
	if (set_ring(v, VHOST_NET_TXQ, txnum, tapfd) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "vhost-net: %s: %s", what, strerror(errno));
	return -1;
}

void vhost_net_kick(struct vhost_net *v, unsigned q)
{
	uint64_t one = 1;

	/* Cannot fail short of a bad fd: the count only saturates. */
	if (write(v->kick[q], &one, sizeof(one)) < 0)
		return;
}

void vhost_net_ack(struct vhost_net *v, unsigned q)
{
	uint64_t n;

	if (read(v->call[q], &n, sizeof(n)) < 0)
		return;
}

void vhost_net_stop(struct vhost_net *v)
{
	for (unsigned i = 0; i < 2 && v->fd >= 0; i++) {
		struct vhost_vring_file backend = { .index = i, .fd = -1 };

		ioctl(v->fd, VHOST_NET_SET_BACKEND, &backend);
	}
}

void vhost_net_close(struct vhost_net *v)
{
	if (v->fd >= 0)
		close(v->fd);
	for (unsigned i = 0; i < 2; i++) {
		if (v->kick[i] >= 0)
			close(v->kick[i]);
		if (v->call[i] >= 0)
			close(v->call[i]);
		vring_q_free(&v->q[i]);
	}
	v->fd = -1;
}
