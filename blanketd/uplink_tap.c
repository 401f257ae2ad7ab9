/*
 * uplink_tap.c - the network uplink over a Linux TAP interface.
 *
 * IFF_VNET_HDR puts a virtio_net_hdr in front of every frame both ways, and
 * TUNSETOFFLOAD lets the kernel hand us (and take from us) partial
 * checksums and TCP segments of up to 64 KiB, so GSO and checksum offload
 * pass between guests and dom0's stack without anyone segmenting or
 * summing.  Frames out are one writev of the header and the frame, queued
 * on the daemon's io_uring: the frames of a loop pass enter the kernel
 * with one io_uring_enter rather than a writev() each (every syscall of a
 * PV dom0 is a trip through Xen).  The frame is in one of our copy
 * buffers (tap_tx_buffer says why), or, with all of them in use, in the
 * guest's own pages mapped by the switch.  A
 * TAP write never waits, so each completes inside that submit and is
 * reaped in the same pass.  (A thread of its own for the TAP's I/O was
 * tried: dom0 had an idle CPU for it, but the cross-thread wake-ups
 * delayed every TX completion, and a guest's TCP, whose small-queue limit
 * waits on those completions, lost more than the loop gained: 0.6 of
 * netback's guest->dom0 throughput instead of 0.75.)  Frames in are read
 * into a bounded pool of buffers, and reading pauses while the pool is
 * empty.  The header translation is vnet_hdr.c, shared with the kshim-net
 * uplink.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "copy_pool.h"
#include "log.h"
#include "netif.h"
#include "uplink.h"
#include "uring.h"
#include "vnet_hdr.h"
#include "xen.h"

#define TAP_POOL 256u
#define TAP_BUF (sizeof(struct virtio_net_hdr) + 65536u + 64u)
#define TAP_RX_BUDGET 64u
/* Copy buffers for guests' frames (tap_tx_buffer): a loop pass's frames
 * at most, since every TAP write completes inside the pass's submit. */
#define TAP_COPY_BUFS COPY_POOL_MAX

struct tap {
	struct net_uplink u;
	struct ev_loop *loop;
	struct bl_xen *xen;           /* NULL: receive buffers in plain memory */
	unsigned nself;               /* receive buffers granted to ourselves */
	ev_io w;
	int fd;
	struct net_uplink_buf *free;
	unsigned nbufs;
	bool paused;
	struct copy_pool copies;      /* TAP_COPY_BUFS, or none */
};

/* A frame being written: the header and the iovecs live until the
 * completion. */
struct tap_tx {
	struct uring_req req;
	struct tap *t;
	void *cookie;
	size_t len;
	int copy;                     /* the copy buffer it is in, or -1 */
	struct virtio_net_hdr h;
	struct iovec v[1 + NET_UPLINK_MAX_FRAGS];
};

/* A receive buffer: the first TAP_SELF_BUFS are granted to ourselves
 * (xen-gntalloc), so the copies into guests name them by grant and gntdev
 * pins no page per segment; the pool is LIFO, so those are the busy ones.
 * The cap leaves xen-gntalloc's default limit (1024 grants) room for the
 * vifs' TX header pages. */
#define TAP_BUF_PAGES ((unsigned)((TAP_BUF + 4095) / 4096))
#define TAP_SELF_BUFS 32u

struct tap_buf {
	struct net_uplink_buf nb;
	struct bl_self_pages mem;     /* TAP_BUF bytes; refs NULL: plain memory */
};

static void tap_tx_complete(struct uring_req *r, int res)
{
	struct tap_tx *x = (struct tap_tx *)r;
	struct tap *t = x->t;

	t->u.stats.tx_inflight--;
	if (res < 0) {
		t->u.stats.tx_errors++;
	} else {
		t->u.stats.tx_pkts++;
		t->u.stats.tx_bytes += x->len;
	}
	if (x->copy >= 0)
		copy_pool_put_index(&t->copies, x->copy);
	t->u.tx_done(&t->u, x->cookie, res < 0 ? res : 0);
	free(x);
}

/*
 * The TAP copies every frame written to it into an skb (tun_get_user), so
 * a guest's pages mapped for the write save no copy: they only add the
 * mapping, and under a PV dom0 the gntdev mmap, munmap and unmap (with
 * its TLB flush) of a pass took about twice the dom0 CPU of the
 * hypervisor's grant copy of the same pages into dom0 memory (profiled on
 * the test bed, tests/e2e/README.md).  So the switch grant-copies guests'
 * frames into these buffers, and the guests get their slots back in the
 * same pass.
 */
static void *tap_tx_buffer(struct net_uplink *u, size_t len, const struct net_meta *m)
{
	struct tap *t = (struct tap *)u;

	(void)len, (void)m;
	/* NULL with all in use: the guest's pages are mapped */
	return copy_pool_get(&t->copies);
}

static void tap_tx_buffer_put(struct net_uplink *u, void *buf)
{
	copy_pool_put(&((struct tap *)u)->copies, buf);
}

static int tap_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
			const struct net_meta *m, void *cookie)
{
	struct tap *t = (struct tap *)u;
	/* the copy buffer the frame is in (all its pieces are), or -1 */
	int copy = n ? copy_pool_index(&t->copies, iov[0].iov_base) : -1;
	struct io_uring_sqe *sqe;
	struct tap_tx *x;

	x = n <= NET_UPLINK_MAX_FRAGS ? malloc(sizeof(*x)) : NULL;
	sqe = x ? uring_sqe() : NULL;
	if (!sqe) {
		/* a copy buffer is ours again, sent or not */
		if (copy >= 0)
			copy_pool_put_index(&t->copies, copy);
		free(x);
		u->stats.tx_errors++;
		return n > NET_UPLINK_MAX_FRAGS ? -EINVAL : -ENOMEM;
	}
	x->copy = copy;
	x->req.complete = tap_tx_complete;
	x->t = t;
	x->cookie = cookie;
	x->len = 0;
	vnet_hdr_from_meta(m, &x->h);
	x->v[0] = (struct iovec){ .iov_base = &x->h, .iov_len = sizeof(x->h) };
	for (unsigned i = 0; i < n; i++) {
		x->v[1 + i] = iov[i];
		x->len += iov[i].iov_len;
	}
	io_uring_prep_writev(sqe, t->fd, x->v, n + 1, 0);
	io_uring_sqe_set_data(sqe, &x->req);
	u->stats.tx_inflight++;
	return 0;
}

static struct net_uplink_buf *buf_get(struct tap *t)
{
	struct net_uplink_buf *b = t->free;
	struct tap_buf *tb;

	if (b) {
		t->free = b->next;
		return b;
	}
	if (t->nbufs == TAP_POOL)
		return NULL;
	tb = calloc(1, sizeof(*tb));
	if (!tb)
		return NULL;
	if (t->xen && t->nself < TAP_SELF_BUFS &&
	    bl_self_pages_alloc(t->xen, TAP_BUF_PAGES, &tb->mem) == 0) {
		t->nself += tb->mem.refs != NULL;
	} else {
		tb->mem = (struct bl_self_pages){ .addr = malloc(TAP_BUF) };
		if (!tb->mem.addr) {
			free(tb);
			return NULL;
		}
	}
	t->nbufs++;
	tb->nb.data = tb->mem.addr + sizeof(struct virtio_net_hdr);
	tb->nb.self = tb->mem.refs ? &tb->mem : NULL;
	return &tb->nb;
}

static void tap_rx_release(struct net_uplink *u, struct net_uplink_buf *b)
{
	struct tap *t = (struct tap *)u;

	b->next = t->free;
	t->free = b;
	if (t->paused) {
		t->paused = false;
		ev_io_start(t->loop, &t->w);
	}
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tap *t = (struct tap *)((char *)w - offsetof(struct tap, w));

	(void)loop, (void)revents;
	for (unsigned k = 0; k < TAP_RX_BUDGET; k++) {
		struct net_uplink_buf *b = buf_get(t);
		struct tap_buf *tb;
		struct virtio_net_hdr h;
		ssize_t n;

		if (!b) {
			/* Every buffer is with a guest: read again when one returns. */
			t->u.stats.rx_pool_empty++;
			t->paused = true;
			ev_io_stop(t->loop, &t->w);
			return;
		}
		tb = (struct tap_buf *)b;
		n = read(t->fd, tb->mem.addr, TAP_BUF);
		if (n < (ssize_t)(sizeof(h) + NETIF_ETH_HLEN)) {
			tap_rx_release(&t->u, b);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n >= 0)
				t->u.stats.rx_errors++;
			if (n < 0)
				return;
			continue;
		}
		memcpy(&h, tb->mem.addr, sizeof(h));
		if (vnet_meta_from_hdr(&h, &b->meta)) {
			t->u.stats.rx_errors++;
			tap_rx_release(&t->u, b);
			continue;
		}
		b->len = (size_t)n - sizeof(h);
		b->nr_frags = 0;   /* one piece: data[0 .. len) */
		t->u.stats.rx_pkts++;
		t->u.stats.rx_bytes += b->len;
		if (t->u.rx)
			t->u.rx(&t->u, b);
		else
			tap_rx_release(&t->u, b);
	}
}

static void tap_close(struct net_uplink *u)
{
	struct tap *t = (struct tap *)u;

	ev_io_stop(t->loop, &t->w);
	/* Writes still queued finish first (tx_done for each): they hold
	 * the guests' pages and our fd. */
	while (t->u.stats.tx_inflight)
		uring_wait();
	close(t->fd);
	if (t->copies.mem)
		munmap(t->copies.mem, TAP_COPY_BUFS * COPY_POOL_BUF_SIZE);
	/* Buffers still with guests were released through rx_release first. */
	while (t->free) {
		struct net_uplink_buf *b = t->free;

		t->free = b->next;
		bl_self_pages_free(t->xen, &((struct tap_buf *)b)->mem);
		free(b);
	}
	free(t);
}

static const struct net_uplink_ops tap_ops = {
	.tx_async = tap_tx_async,
	.tx_buffer = tap_tx_buffer,
	.tx_buffer_put = tap_tx_buffer_put,
	.rx_release = tap_rx_release,
	.close = tap_close,
};

static int set_up(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		snprintf(err, errlen, "tap %s: cannot bring it up: %s", name, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return 0;
}

struct net_uplink *uplink_tap_open(struct ev_loop *loop, struct bl_xen *x, const char *ifname,
				   char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int hdrsz = sizeof(struct virtio_net_hdr);
	struct tap *t;
	void *mem;
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open /dev/net/tun: %s%s", strerror(errno),
			 errno == ENOENT || errno == ENODEV || errno == ENXIO ?
			 " (load the tun module: modprobe tun)" : "");
		return NULL;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "tap %s: TUNSETIFF: %s", ifname, strerror(errno));
		goto fail;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
		snprintf(err, errlen, "tap %s: offloads: %s", ifname, strerror(errno));
		goto fail;
	}
	if (set_up(ifr.ifr_name, err, errlen))
		goto fail;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	t->u.ops = &tap_ops;
	t->u.kind = "tap";
	snprintf(t->u.name, sizeof(t->u.name), "%s", ifr.ifr_name);
	t->loop = loop;
	t->xen = x;
	t->fd = fd;
	/* Frames waiting for a guest's buffers may keep half the pool: the
	 * other half keeps reading for everyone else. */
	t->u.rx_hold_max = TAP_POOL / 2;
	/* Without them (no memory) every frame goes from its mapping. */
	mem = mmap(NULL, TAP_COPY_BUFS * COPY_POOL_BUF_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	copy_pool_init(&t->copies, mem == MAP_FAILED ? NULL : mem, TAP_COPY_BUFS);
	ev_io_init(&t->w, on_read, fd, EV_READ);
	ev_io_start(loop, &t->w);
	return &t->u;
fail:
	close(fd);
	return NULL;
}
