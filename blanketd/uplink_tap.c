/*
 * uplink_tap.c - the network uplink over a Linux TAP interface.
 *
 * IFF_VNET_HDR puts a virtio_net_hdr in front of every frame both ways, and
 * TUNSETOFFLOAD lets the kernel hand us (and take from us) partial
 * checksums and TCP segments of up to 64 KiB, so GSO and checksum offload
 * pass between guests and dom0's stack without anyone segmenting or
 * summing.  The header translation is vnet_hdr.c, shared with the
 * kshim-net uplink.
 *
 * The TAP's own thread does the I/O.  A write into a TAP runs dom0's
 * receive path (TCP included) in the writer's context, and a read copies
 * the frame out; done on the event loop's thread they made blanketd one
 * CPU's worth of work while dom0's other CPUs idled.  Here the loop thread
 * only queues: frames out go to the thread through a single-producer ring
 * (one writev each, from the guests' mapped pages: no copy in dom0), and
 * come back as completions (tx_done); frames in are read by the thread
 * into a bounded pool of buffers and handed over the same way (rx), the
 * pool's free buffers going back to it (rx_release).  Each side wakes the
 * other with an eventfd only when it finds the other's queue empty, so a
 * busy pass costs one wake-up however many frames it moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "log.h"
#include "netif.h"
#include "uplink.h"
#include "vnet_hdr.h"

#define TAP_POOL 256u
#define TAP_BUF (sizeof(struct virtio_net_hdr) + 65536u + 64u)
#define TAP_RX_BUDGET 64u
#define TAP_QUEUE 1024u          /* a power of two, above TAP_POOL */

/* A single-producer single-consumer queue of pointers between the loop
 * thread and the TAP thread. */
struct tap_q {
	_Atomic unsigned head;   /* the consumer's */
	_Atomic unsigned tail;   /* the producer's */
	void *slot[TAP_QUEUE];
};

/* Push p; -1 if full.  *was_empty: the consumer may be asleep. */
static int q_push(struct tap_q *q, void *p, bool *was_empty)
{
	unsigned t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	unsigned h = atomic_load_explicit(&q->head, memory_order_acquire);

	if (t - h == TAP_QUEUE)
		return -1;
	q->slot[t % TAP_QUEUE] = p;
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	*was_empty = t == h;
	return 0;
}

static void *q_pop(struct tap_q *q)
{
	unsigned h = atomic_load_explicit(&q->head, memory_order_relaxed);
	void *p;

	if (h == atomic_load_explicit(&q->tail, memory_order_acquire))
		return NULL;
	p = q->slot[h % TAP_QUEUE];
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return p;
}

/* A frame out: header and iovecs live until its completion. */
struct tap_tx {
	void *cookie;
	size_t len;
	int res;
	unsigned n;
	struct virtio_net_hdr h;
	struct iovec v[1 + NET_UPLINK_MAX_FRAGS];
};

struct tap_buf {
	struct net_uplink_buf nb;
	uint8_t raw[TAP_BUF];
};

struct tap {
	struct net_uplink u;
	struct ev_loop *loop;
	ev_io done_w;               /* on done_efd */
	int fd;
	int wake_efd;               /* loop -> thread */
	int done_efd;               /* thread -> loop */
	pthread_t thread;
	_Atomic bool stop;
	/* loop -> thread */
	struct tap_q txq;           /* struct tap_tx */
	struct tap_q freeq;         /* struct tap_buf for reading into */
	/* thread -> loop */
	struct tap_q doneq;         /* struct tap_tx, res set */
	struct tap_q rxq;           /* struct tap_buf, filled */
	_Atomic uint64_t rx_errors; /* counted by the thread */
	_Atomic uint64_t rx_pool_empty;
	struct tap_buf *spare;      /* the thread's: a buffer a failed read left */
	unsigned nbufs;
	unsigned tx_inflight;
};

static void kick(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("tap: eventfd: %s", strerror(errno));
}

static void drain(int efd)
{
	uint64_t v;

	while (read(efd, &v, sizeof(v)) > 0)
		;
}

/* --- the TAP thread ------------------------------------------------------------- */

static bool post(struct tap_q *q, void *p)
{
	bool was_empty;

	/* doneq and rxq hold at most every frame and buffer there is. */
	if (q_push(q, p, &was_empty))
		abort();
	return was_empty;
}

static bool thread_tx(struct tap *t)
{
	struct tap_tx *x;
	bool wake = false;

	while ((x = q_pop(&t->txq))) {
		ssize_t w = writev(t->fd, x->v, (int)x->n + 1);

		x->res = w < 0 ? -errno : 0;
		wake |= post(&t->doneq, x);
	}
	return wake;
}

/* Read frames while buffers last; *starved when none was left. */
static bool thread_rx(struct tap *t, bool *starved)
{
	bool wake = false;

	*starved = false;
	for (unsigned k = 0; k < TAP_RX_BUDGET; k++) {
		struct tap_buf *tb = t->spare ? t->spare : q_pop(&t->freeq);
		struct virtio_net_hdr h;
		ssize_t n;

		t->spare = NULL;
		if (!tb) {
			/* Every buffer is with a guest: rx_release wakes us. */
			atomic_fetch_add(&t->rx_pool_empty, 1);
			*starved = true;
			break;
		}
		n = read(t->fd, tb->raw, sizeof(tb->raw));
		if (n >= 0 && n < (ssize_t)(sizeof(h) + NETIF_ETH_HLEN))
			atomic_fetch_add(&t->rx_errors, 1);
		if (n < (ssize_t)(sizeof(h) + NETIF_ETH_HLEN)) {
			t->spare = tb;
			if (n < 0)
				break;
			continue;
		}
		memcpy(&h, tb->raw, sizeof(h));
		if (vnet_meta_from_hdr(&h, &tb->nb.meta)) {
			atomic_fetch_add(&t->rx_errors, 1);
			t->spare = tb;
			continue;
		}
		tb->nb.len = (size_t)n - sizeof(h);
		tb->nb.nr_frags = 0;   /* one piece: data[0 .. len) */
		wake |= post(&t->rxq, tb);
	}
	return wake;
}

static void *tap_thread(void *arg)
{
	struct tap *t = arg;
	bool starved = false;

	while (!atomic_load(&t->stop)) {
		struct pollfd p[2] = {
			{ .fd = t->wake_efd, .events = POLLIN },
			{ .fd = t->fd, .events = POLLIN },
		};
		bool wake;

		/* Sleep only with nothing queued (a push into an empty queue
		 * is followed by a kick, so none is missed). */
		if (poll(p, starved ? 1 : 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			drain(t->wake_efd);
		wake = thread_tx(t);
		wake |= thread_rx(t, &starved);
		if (wake)
			kick(t->done_efd);
	}
	return NULL;
}

/* --- the loop thread ------------------------------------------------------------ */

static void complete_tx(struct tap *t, struct tap_tx *x)
{
	t->tx_inflight--;
	t->u.stats.tx_inflight--;
	if (x->res < 0) {
		t->u.stats.tx_errors++;
	} else {
		t->u.stats.tx_pkts++;
		t->u.stats.tx_bytes += x->len;
	}
	t->u.tx_done(&t->u, x->cookie, x->res);
	free(x);
}

static void tap_rx_release(struct net_uplink *u, struct net_uplink_buf *b)
{
	struct tap *t = (struct tap *)u;
	bool was_empty;

	if (q_push(&t->freeq, b, &was_empty))
		abort();
	/* The thread stops reading when it runs out of buffers. */
	if (was_empty)
		kick(t->wake_efd);
}

static void on_done(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tap *t = (struct tap *)((char *)w - offsetof(struct tap, done_w));
	struct tap_tx *x;
	struct tap_buf *tb;

	(void)loop, (void)revents;
	drain(t->done_efd);
	while ((x = q_pop(&t->doneq)))
		complete_tx(t, x);
	while ((tb = q_pop(&t->rxq))) {
		t->u.stats.rx_pkts++;
		t->u.stats.rx_bytes += tb->nb.len;
		if (t->u.rx)
			t->u.rx(&t->u, &tb->nb);
		else
			tap_rx_release(&t->u, &tb->nb);
	}
	t->u.stats.rx_errors = atomic_load(&t->rx_errors);
	t->u.stats.rx_pool_empty = atomic_load(&t->rx_pool_empty);
}

static int tap_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
			const struct net_meta *m, void *cookie)
{
	struct tap *t = (struct tap *)u;
	struct tap_tx *x;
	bool was_empty;

	if (n > NET_UPLINK_MAX_FRAGS)
		return -EINVAL;
	x = malloc(sizeof(*x));
	if (!x) {
		u->stats.tx_errors++;
		return -ENOMEM;
	}
	x->cookie = cookie;
	x->n = n;
	x->len = 0;
	vnet_hdr_from_meta(m, &x->h);
	x->v[0] = (struct iovec){ .iov_base = &x->h, .iov_len = sizeof(x->h) };
	for (unsigned i = 0; i < n; i++) {
		x->v[1 + i] = iov[i];
		x->len += iov[i].iov_len;
	}
	if (q_push(&t->txq, x, &was_empty)) {
		/* A full queue: the thread is TAP_QUEUE frames behind. */
		free(x);
		u->stats.tx_errors++;
		return -EBUSY;
	}
	if (was_empty)
		kick(t->wake_efd);
	t->tx_inflight++;
	u->stats.tx_inflight++;
	return 0;
}

static void tap_free(struct tap *t)
{
	struct tap_buf *tb;

	while ((tb = q_pop(&t->freeq)))
		free(tb);
	while ((tb = q_pop(&t->rxq)))
		free(tb);
	free(t->spare);
	if (t->wake_efd >= 0)
		close(t->wake_efd);
	if (t->done_efd >= 0)
		close(t->done_efd);
	close(t->fd);
	free(t);
}

static void tap_close(struct net_uplink *u)
{
	struct tap *t = (struct tap *)u;
	struct tap_tx *x;

	ev_io_stop(t->loop, &t->done_w);
	atomic_store(&t->stop, true);
	kick(t->wake_efd);
	pthread_join(t->thread, NULL);
	/* Frames the thread wrote, then those it never took: each gets its
	 * tx_done (they hold the guests' pages). */
	while ((x = q_pop(&t->doneq)))
		complete_tx(t, x);
	while ((x = q_pop(&t->txq))) {
		x->res = -ECANCELED;
		complete_tx(t, x);
	}
	/* Buffers still with guests were released through rx_release first. */
	tap_free(t);
}

static const struct net_uplink_ops tap_ops = {
	.tx_async = tap_tx_async,
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

/* The pool, all of it handed to the thread for reading into. */
static int fill_pool(struct tap *t)
{
	for (; t->nbufs < TAP_POOL; t->nbufs++) {
		struct tap_buf *tb = calloc(1, sizeof(*tb));
		bool was_empty;

		if (!tb)
			return -1;
		tb->nb.data = tb->raw + sizeof(struct virtio_net_hdr);
		q_push(&t->freeq, tb, &was_empty);
	}
	return 0;
}

struct net_uplink *uplink_tap_open(struct ev_loop *loop, const char *ifname, char *err,
				   size_t errlen)
{
	struct ifreq ifr = { 0 };
	int hdrsz = sizeof(struct virtio_net_hdr);
	struct tap *t;
	int fd, rc;

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
	t->fd = fd;
	t->wake_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->wake_efd < 0 || t->done_efd < 0 || fill_pool(t)) {
		snprintf(err, errlen, "tap %s: %s", ifr.ifr_name, strerror(errno));
		tap_free(t);
		return NULL;
	}
	rc = pthread_create(&t->thread, NULL, tap_thread, t);
	if (rc) {
		snprintf(err, errlen, "tap %s: thread: %s", ifr.ifr_name, strerror(rc));
		tap_free(t);
		return NULL;
	}
	ev_io_init(&t->done_w, on_done, t->done_efd, EV_READ);
	ev_io_start(loop, &t->done_w);
	return &t->u;
fail:
	close(fd);
	return NULL;
}
