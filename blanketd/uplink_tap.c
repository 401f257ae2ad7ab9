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
 *
 * With /dev/vhost-net ([vif] vhost, default auto) the kernel's vhost-net
 * worker writes the frames instead (vhost_net.h).  Our TAP writes ran
 * dom0's whole receive path (tun_get_user, the stack, waking the socket's
 * reader) inside the pass's io_uring_enter: a fifth of the event loop's
 * time in guest->dom0 TCP on the test bed.  The worker does that on its
 * own thread.  The copy buffers' frames (and small frames behind them,
 * copied whole into the chain's header slot) are chains of its ring,
 * published with one kick per pass; the guests were answered when the
 * copy was made, so nothing waits on the worker (the TAP-I/O thread above
 * failed on exactly that).  Used chains are collected each pass, without
 * interrupts.  Anything else (a large frame in a guest's mapped pages,
 * with every copy buffer in use, or a small one with the ring idle) is
 * written as before.
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
#include "vhost_net.h"
#include "vnet_hdr.h"
#include "xen.h"

#define TAP_POOL 256u
#define TAP_BUF (sizeof(struct virtio_net_hdr) + 65536u + 64u)
#define TAP_RX_BUDGET 64u
/* Copy buffers for guests' frames (tap_tx_buffer): a loop pass's frames
 * at most, since every TAP write completes inside the pass's submit. */
#define TAP_COPY_BUFS COPY_POOL_MAX
/* vhost-net's transmit ring (a copy buffer's frame is up to 1 + 19
 * descriptors: every copy buffer fits), and each chain's first piece: the
 * vnet header, then, for a frame that fits, the frame itself. */
#define TAP_VH_TXNUM 1024u
#define TAP_SLOT 256u
#define TAP_SLOT_INLINE (TAP_SLOT - sizeof(struct virtio_net_hdr))

/* A vhost transmit chain, by its head. */
struct tap_vtx {
	void *cookie;
	size_t len;
	int copy;                     /* the copy buffer it is in, or -1 */
};

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
	/* vhost-net's transmit ring, or NULL: writes of our own */
	struct vhost_net *vh;
	struct uring_pass_hook pass;
	uint8_t *slots;               /* TAP_VH_TXNUM x TAP_SLOT */
	struct tap_vtx *vtx;          /* TAP_VH_TXNUM */
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

static void tx_done(struct tap *t, void *cookie, size_t len, int copy, int res)
{
	t->u.stats.tx_inflight--;
	if (res < 0) {
		t->u.stats.tx_errors++;
	} else {
		t->u.stats.tx_pkts++;
		t->u.stats.tx_bytes += len;
	}
	if (copy >= 0)
		copy_pool_put_index(&t->copies, copy);
	t->u.tx_done(&t->u, cookie, res < 0 ? res : 0);
}

static void tap_tx_complete(struct uring_req *r, int res)
{
	struct tap_tx *x = (struct tap_tx *)r;

	tx_done(x->t, x->cookie, x->len, x->copy, res);
	free(x);
}

/* The transmit chains the vhost-net worker is done with; how many. */
static unsigned vh_tx_reap(struct tap *t)
{
	struct tap_vtx *v;
	unsigned n = 0;

	while ((v = vring_q_used(&t->vh->tx, NULL))) {
		tx_done(t, v->cookie, v->len, v->copy, 0);
		n++;
	}
	return n;
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
	void *buf;

	(void)len, (void)m;
	/* With vhost-net, buffers the worker has sent since the pass began
	 * are collected here rather than at its end, so that a pass's burst
	 * finds them. */
	if (!(buf = copy_pool_get(&t->copies)) && t->vh && vh_tx_reap(t))
		buf = copy_pool_get(&t->copies);
	/* NULL with all in use: the guest's pages are mapped */
	return buf;
}

static void tap_tx_buffer_put(struct net_uplink *u, void *buf)
{
	copy_pool_put(&((struct tap *)u)->copies, buf);
}

/* A chain on vhost-net's transmit ring: the frame in copy buffer copy, or
 * (copy -1) small enough to go in the chain's header slot.  -1 if it is
 * neither, or the ring is full: it is written instead. */
static int vh_tx(struct tap *t, const struct iovec *iov, unsigned n, const struct net_meta *m,
		 void *cookie, int copy)
{
	struct vring_q *q = &t->vh->tx;
	struct iovec v[1 + NET_UPLINK_MAX_FRAGS];
	int head = vring_q_next_head(q);
	unsigned nv = 1;
	size_t len = 0;
	uint8_t *slot;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (head < 0 || n > NET_UPLINK_MAX_FRAGS || (copy < 0 && len > TAP_SLOT_INLINE))
		return -1;
	slot = t->slots + (size_t)head * TAP_SLOT;
	vnet_hdr_from_meta(m, (struct virtio_net_hdr *)slot);
	v[0] = (struct iovec){ .iov_base = slot, .iov_len = sizeof(struct virtio_net_hdr) };
	for (unsigned i = 0; i < n; i++) {
		if (copy < 0) {
			memcpy(slot + v[0].iov_len, iov[i].iov_base, iov[i].iov_len);
			v[0].iov_len += iov[i].iov_len;
		} else if (iov[i].iov_len) {
			v[nv++] = iov[i];
		}
	}
	t->vtx[head] = (struct tap_vtx){ .cookie = cookie, .len = len, .copy = copy };
	if (vring_q_add(q, v, nv, false, &t->vtx[head]) < 0)
		return -1;
	t->u.stats.tx_inflight++;
	return 0;
}

static int tap_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
			const struct net_meta *m, void *cookie)
{
	struct tap *t = (struct tap *)u;
	/* the copy buffer the frame is in (all its pieces are), or -1 */
	int copy = n ? copy_pool_index(&t->copies, iov[0].iov_base) : -1;
	struct io_uring_sqe *sqe;
	struct tap_tx *x;

	/* A small frame (a TCP ACK) with nothing on the ring ahead of it is
	 * written at once instead: through the worker, its wake-up delays
	 * every ACK a dom0 sender waits for (dom0->guest TCP, one run each:
	 * 481 Mbit/s against 536).  A large frame written past a busy ring
	 * may overtake the ring's last few (only with every copy buffer or
	 * the whole ring in use): TCP copes with that. */
	if (t->vh && (copy >= 0 || t->vh->tx.inflight) &&
	    vh_tx(t, iov, n, m, cookie, copy) == 0)
		return 0;
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

/* n bytes (vnet header and frame) arrived in b: hand the frame on. */
static void rx_frame(struct tap *t, struct net_uplink_buf *b, size_t n)
{
	struct virtio_net_hdr h;

	if (n < sizeof(h) + NETIF_ETH_HLEN) {
		t->u.stats.rx_errors++;
		tap_rx_release(&t->u, b);
		return;
	}
	memcpy(&h, ((struct tap_buf *)b)->mem.addr, sizeof(h));
	if (vnet_meta_from_hdr(&h, &b->meta)) {
		t->u.stats.rx_errors++;
		tap_rx_release(&t->u, b);
		return;
	}
	b->len = n - sizeof(h);
	b->nr_frags = 0;   /* one piece: data[0 .. len) */
	t->u.stats.rx_pkts++;
	t->u.stats.rx_bytes += b->len;
	if (t->u.rx)
		t->u.rx(&t->u, b);
	else
		tap_rx_release(&t->u, b);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tap *t = (struct tap *)((char *)w - offsetof(struct tap, w));

	(void)loop, (void)revents;
	for (unsigned k = 0; k < TAP_RX_BUDGET; k++) {
		struct net_uplink_buf *b = buf_get(t);
		ssize_t n;

		if (!b) {
			/* Every buffer is with a guest: read again when one returns. */
			t->u.stats.rx_pool_empty++;
			t->paused = true;
			ev_io_stop(t->loop, &t->w);
			return;
		}
		n = read(t->fd, ((struct tap_buf *)b)->mem.addr, TAP_BUF);
		if (n < 0) {
			tap_rx_release(&t->u, b);
			return;   /* EAGAIN: all read */
		}
		rx_frame(t, b, (size_t)n);
	}
}

/* The end of a loop pass: the pass's chains to the worker, with a kick if
 * it is waiting for them; sent frames collected.  Their senders were
 * answered when the frames were copied, so a completion leaves the next
 * round nothing to do: false. */
static bool vh_pass(struct uring_pass_hook *h, unsigned round)
{
	struct tap *t = (struct tap *)((char *)h - offsetof(struct tap, pass));

	(void)round;
	if (vring_q_publish(&t->vh->tx)) {
		vhost_net_kick(t->vh);
		t->u.stats.kicks++;
	}
	vh_tx_reap(t);
	return false;
}

static void vh_drain_tx(void *cookie, bool used, void *arg)
{
	struct tap_vtx *v = cookie;

	tx_done(arg, v->cookie, v->len, v->copy, used ? 0 : -ECANCELED);
}

/* Stop the worker and take back what it had (every frame gets its
 * tx_done), then free what the vhost path allocated. */
static void vh_close(struct tap *t)
{
	uring_pass_hook_del(&t->pass);
	vhost_net_stop(t->vh);
	vring_q_drain(&t->vh->tx, vh_drain_tx, t);
	vhost_net_close(t->vh);
	free(t->vh);
	t->vh = NULL;
}

static void tap_close(struct net_uplink *u)
{
	struct tap *t = (struct tap *)u;

	ev_io_stop(t->loop, &t->w);
	if (t->vh)
		vh_close(t);
	/* Writes still queued finish first (tx_done for each): they hold
	 * the guests' pages and our fd. */
	while (t->u.stats.tx_inflight)
		uring_wait();
	close(t->fd);
	if (t->copies.mem)
		munmap(t->copies.mem, TAP_COPY_BUFS * COPY_POOL_BUF_SIZE);
	if (t->slots)
		munmap(t->slots, (size_t)TAP_VH_TXNUM * TAP_SLOT);
	free(t->vtx);
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

/* The vhost-net transmit ring, with the header slots and the copy buffers
 * in its memory table.  0, or -1 with a reason (t is then as it was). */
static int vh_open(struct tap *t, char *err, size_t errlen)
{
	struct vhost_net *vh = calloc(1, sizeof(*vh));

	if (!vh || vhost_net_open(vh, err, errlen) < 0) {
		if (!vh)
			snprintf(err, errlen, "out of memory");
		free(vh);
		return -1;
	}
	t->slots = mmap(NULL, (size_t)TAP_VH_TXNUM * TAP_SLOT, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->vtx = calloc(TAP_VH_TXNUM, sizeof(*t->vtx));
	if (t->slots == MAP_FAILED || !t->vtx || !t->copies.mem) {
		snprintf(err, errlen, "vhost-net: out of memory");
		goto fail;
	}
	if (vhost_net_region(vh, t->copies.mem, TAP_COPY_BUFS * COPY_POOL_BUF_SIZE) < 0 ||
	    vhost_net_region(vh, t->slots, (size_t)TAP_VH_TXNUM * TAP_SLOT) < 0 ||
	    vhost_net_start(vh, t->fd, TAP_VH_TXNUM, err, errlen) < 0)
		goto fail;
	t->vh = vh;
	t->pass.run = vh_pass;
	uring_pass_hook_add(&t->pass);
	t->u.engine = "vhost-net";
	return 0;
fail:
	vhost_net_stop(vh);
	vhost_net_close(vh);
	free(vh);
	if (t->slots != MAP_FAILED)
		munmap(t->slots, (size_t)TAP_VH_TXNUM * TAP_SLOT);
	t->slots = NULL;
	free(t->vtx);
	t->vtx = NULL;
	return -1;
}

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
				   enum bl_vhost vhost, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int hdrsz = sizeof(struct virtio_net_hdr);
	char why[160];
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
	if (vhost != BL_VHOST_NO && vh_open(t, why, sizeof(why)) < 0) {
		if (vhost == BL_VHOST_YES) {
			snprintf(err, errlen, "tap %s: [vif] vhost = yes: %s", ifr.ifr_name, why);
			if (mem != MAP_FAILED)
				munmap(mem, TAP_COPY_BUFS * COPY_POOL_BUF_SIZE);
			free(t);
			goto fail;
		}
		log_info("vif: tap %s: %s; blanketd writes its frames itself", t->u.name, why);
	}
	ev_io_init(&t->w, on_read, fd, EV_READ);
	ev_io_start(loop, &t->w);
	return &t->u;
fail:
	close(fd);
	return NULL;
}
