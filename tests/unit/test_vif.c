/*
 * test_vif.c - blanketd's network backend, end to end, without Xen.
 *
 * The real vif.c, vif_ring.c, vif_rx.c, switch.c and uring.c run on a
 * libev loop; fake_xen.c plays the hypervisor (grants over a memfd, grant
 * copy validated like Xen's, event channels, xenstore with watches).  The
 * test plays the toolstack (backend/frontend nodes as libxl writes them),
 * netfront (rings, buffers, packets, with xen/io/ring.h's macros) and, as a
 * port of the switch, the outside world (an uplink that records what it
 * gets and injects frames from dom0 memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_xen.h"
#include "log.h"
#include "vnet_hdr.h"
#include "uring.h"
#include "vif.h"

#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#define DOM_A 5u
#define DOM_B 6u
#define TIMEOUT_MS 3000
#define GREF(page) (0x20000u + (page))
#define PAGE FAKE_PAGE_SIZE

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t OUT_MAC[6] = { 0x02, 0, 0, 0, 0, 0x99 };  /* behind the test port */

/* --- the fixture ---------------------------------------------------------------- */

struct rec {                 /* a frame the test port received */
	unsigned len;
	uint8_t data[70000];
	struct net_meta meta;
};

static struct {
	struct bl_xen *xen;
	struct ev_loop *loop;
	struct bl_config cfg;
	ev_io xs_w, evtchn_w;
	ev_timer tick;
	unsigned next_page;
	evtchn_port_t next_remote;
	/* the outside world */
	struct sw_port port;
	unsigned got;
	struct rec *rec;         /* the last frame */
	unsigned injected, released;
} T;

static void on_xenstore(struct ev_loop *loop, ev_io *w, int revents)
{
	char **vec;

	(void)loop, (void)w, (void)revents;
	while ((vec = bl_xs_next_watch(T.xen))) {
		vif_xs_event(vec[0], vec[1]);
		free(vec);
	}
}

static void on_evtchn(struct ev_loop *loop, ev_io *w, int revents)
{
	evtchn_port_t ports[64];
	int n;

	(void)loop, (void)w, (void)revents;
	while ((n = bl_evtchn_pending(T.xen, ports, 64)) > 0) {
		for (int i = 0; i < n; i++)
			vif_evtchn_event(ports[i]);
		bl_evtchn_unmask(T.xen, ports, (unsigned)n);
		if (n < 64)
			break;
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool run_until(bool (*cond)(const void *), const void *arg)
{
	double end = now() + TIMEOUT_MS / 1000.0;

	while (!cond(arg)) {
		if (now() > end)
			return false;
		ev_run(T.loop, EVRUN_ONCE);
	}
	return true;
}

static void run_for(int ms)
{
	double end = now() + ms / 1000.0;

	while (now() < end)
		ev_run(T.loop, EVRUN_ONCE);
}

/* The test port: records a copy of every frame (from where the switch
 * says its bytes are: a guest's grants or dom0 memory). */
static void port_deliver(struct sw_port *p, struct sw_buf *b)
{
	unsigned n = 0;

	(void)p;
	T.got++;
	for (unsigned i = 0; i < b->nr_frags; i++) {
		const struct sw_frag *f = &b->frag[i];
		const uint8_t *src = f->addr;

		if (f->domid != SW_LOCAL) {
			assert_null(f->addr);   /* nothing mapped for the switch */
			src = fake_gnt_page(f->domid, f->gref);
			assert_non_null(src);
			src += f->offset;
		}
		assert_true(n + b->frag[i].len <= sizeof(T.rec->data));
		memcpy(T.rec->data + n, src, b->frag[i].len);
		n += b->frag[i].len;
	}
	assert_int_equal(n, b->len);
	T.rec->len = n;
	T.rec->meta = b->meta;
}

static const struct sw_port_ops port_ops = { .deliver = port_deliver };

static int setup(void **state)
{
	const char *extra = *state ? *state : "";
	char conf[512], err[256];
	const char *what;

	memset(&T, 0, sizeof(T));
	log_level = getenv("TEST_VIF_DEBUG") ? BL_LOG_DEBUG : BL_LOG_ERR;
	snprintf(conf, sizeof(conf), "[vif]\nmax-queues = 4\nrx-backlog = 32\n%s", extra);
	assert_int_equal(bl_config_parse(&T.cfg, conf, err, sizeof(err)), 0);
	T.xen = bl_xen_open(&what);
	assert_non_null(T.xen);
	T.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(T.loop);
	assert_int_equal(uring_init(T.loop, 64), 0);
	ev_io_init(&T.xs_w, on_xenstore, bl_xs_fd(T.xen), EV_READ);
	ev_io_start(T.loop, &T.xs_w);
	ev_io_init(&T.evtchn_w, on_evtchn, bl_evtchn_fd(T.xen), EV_READ);
	ev_io_start(T.loop, &T.evtchn_w);
	ev_timer_init(&T.tick, on_tick, 0.001, 0.001);
	ev_timer_start(T.loop, &T.tick);
	assert_int_equal(vif_init(T.loop, T.xen, &T.cfg), 0);
	T.rec = calloc(1, sizeof(*T.rec));
	T.port.ops = &port_ops;
	snprintf(T.port.name, sizeof(T.port.name), "test");
	sw_port_add(vif_switch(), &T.port);
	T.next_remote = 10;
	return 0;
}

static int teardown(void **state)
{
	struct fake_gnt_stats gs;
	unsigned bound, bad;

	(void)state;
	sw_port_del(vif_switch(), &T.port);
	vif_shutdown();
	gs = fake_gnt_stats();
	bound = fake_evtchn_bound();
	bad = fake_evtchn_bad_calls();
	ev_io_stop(T.loop, &T.xs_w);
	ev_io_stop(T.loop, &T.evtchn_w);
	ev_timer_stop(T.loop, &T.tick);
	uring_exit(T.loop);
	ev_loop_destroy(T.loop);
	bl_xen_close(T.xen);
	bl_config_free(&T.cfg);
	free(T.rec);
	assert_int_equal(gs.outstanding, 0);
	assert_int_equal(gs.bad_unmaps, 0);
	assert_int_equal(bound, 0);
	assert_int_equal(bad, 0);
	/* Every injected frame was let go (delivered, bounced or dropped). */
	assert_int_equal(T.injected, T.released);
	return 0;
}

/* --- xenstore ------------------------------------------------------------------- */

static void xs_writef(bl_xs_txn t, const char *dir, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void xs_writef(bl_xs_txn t, const char *dir, const char *node, const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	assert_true(bl_xs_write(T.xen, t, path, val));
}

static const char *xs_get(const char *dir, const char *node)
{
	static char val[256];
	char path[256], *v;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	v = bl_xs_read(T.xen, 0, path);
	if (!v)
		return NULL;
	snprintf(val, sizeof(val), "%s", v);
	free(v);
	return val;
}

static int xs_state(const char *dir)
{
	const char *s = xs_get(dir, "state");

	return s ? atoi(s) : -1;
}

struct state_cond {
	const char *dir;
	int state;
};

static bool state_is(const void *arg)
{
	const struct state_cond *c = arg;

	return xs_state(c->dir) == c->state;
}

static void wait_state(const char *dir, int s)
{
	struct state_cond c = { dir, s };

	run_until(state_is, &c);
	assert_int_equal(xs_state(dir), s);
}

/* --- netfront ----------------------------------------------------------------------- */

struct vq {
	unsigned tx_page, rx_page;
	evtchn_port_t rtx, rrx;
	int ltx, lrx;
	struct netif_tx_front_ring tx;
	struct netif_rx_front_ring rx;
	uint16_t next_id;
};

struct vfe {
	uint32_t domid, devid;
	char be[128], fe[128];
	uint8_t mac[6];
	unsigned nq;
	bool split, no_rx_copy, mcast_ctrl, ctrl;
	struct vq q[4];
	unsigned ctrl_page;
	evtchn_port_t rctrl;
	int lctrl;
	struct xen_netif_ctrl_front_ring cr;
};

static unsigned page_alloc(void)
{
	assert_true(T.next_page < FAKE_GUEST_PAGES);
	return T.next_page++;
}

static void fe_init(struct vfe *f, uint32_t domid, uint32_t devid)
{
	memset(f, 0, sizeof(*f));
	f->domid = domid;
	f->devid = devid;
	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	snprintf(f->fe, sizeof(f->fe), "/local/domain/%u/device/vif/%u", domid, devid);
	memcpy(f->mac, (uint8_t[]){ 0x00, 0x16, 0x3e, 0, (uint8_t)domid, (uint8_t)devid }, 6);
	f->nq = 1;
}

static void toolstack_add(const struct vfe *f)
{
	bl_xs_txn t = bl_xs_begin(T.xen);
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", f->mac[0], f->mac[1],
		 f->mac[2], f->mac[3], f->mac[4], f->mac[5]);
	assert_true(t != 0);
	xs_writef(t, f->be, "frontend", "%s", f->fe);
	xs_writef(t, f->be, "frontend-id", "%u", f->domid);
	xs_writef(t, f->be, "online", "1");
	xs_writef(t, f->be, "state", "1");
	xs_writef(t, f->be, "script", "/etc/xen/scripts/blanket");
	xs_writef(t, f->be, "mac", "%s", mac);
	xs_writef(t, f->be, "bridge", "xenbr0");
	xs_writef(t, f->be, "handle", "%u", f->devid);
	xs_writef(t, f->be, "type", "vif");
	xs_writef(t, f->fe, "backend", "%s", f->be);
	xs_writef(t, f->fe, "backend-id", "0");
	xs_writef(t, f->fe, "state", "1");
	xs_writef(t, f->fe, "handle", "%u", f->devid);
	xs_writef(t, f->fe, "mac", "%s", mac);
	assert_true(bl_xs_end(T.xen, t, false));
}

/* netfront's talk_to_netback(), then Connected. */
static void fe_connect(struct vfe *f)
{
	bl_xs_txn t = bl_xs_begin(T.xen);
	char dir[160];

	assert_true(t != 0);
	for (unsigned i = 0; i < f->nq; i++) {
		struct vq *q = &f->q[i];

		q->tx_page = page_alloc();
		q->rx_page = page_alloc();
		fake_gnt_grant(f->domid, GREF(q->tx_page), q->tx_page, true);
		fake_gnt_grant(f->domid, GREF(q->rx_page), q->rx_page, true);
		memset(fake_guest_page(q->tx_page), 0, PAGE);
		memset(fake_guest_page(q->rx_page), 0, PAGE);
		SHARED_RING_INIT((struct netif_tx_sring *)fake_guest_page(q->tx_page));
		FRONT_RING_INIT(&q->tx, (struct netif_tx_sring *)fake_guest_page(q->tx_page), PAGE);
		SHARED_RING_INIT((struct netif_rx_sring *)fake_guest_page(q->rx_page));
		FRONT_RING_INIT(&q->rx, (struct netif_rx_sring *)fake_guest_page(q->rx_page), PAGE);
		q->rtx = T.next_remote++;
		q->rrx = f->split ? T.next_remote++ : q->rtx;
		q->ltx = q->lrx = -1;
		if (f->nq == 1)
			snprintf(dir, sizeof(dir), "%s", f->fe);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", f->fe, i);
		xs_writef(t, dir, "tx-ring-ref", "%u", GREF(q->tx_page));
		xs_writef(t, dir, "rx-ring-ref", "%u", GREF(q->rx_page));
		if (f->split) {
			xs_writef(t, dir, "event-channel-tx", "%u", q->rtx);
			xs_writef(t, dir, "event-channel-rx", "%u", q->rrx);
		} else {
			xs_writef(t, dir, "event-channel", "%u", q->rtx);
		}
	}
	if (f->nq > 1)
		xs_writef(t, f->fe, "multi-queue-num-queues", "%u", f->nq);
	if (f->ctrl) {
		f->ctrl_page = page_alloc();
		fake_gnt_grant(f->domid, GREF(f->ctrl_page), f->ctrl_page, true);
		memset(fake_guest_page(f->ctrl_page), 0, PAGE);
		SHARED_RING_INIT((struct xen_netif_ctrl_sring *)fake_guest_page(f->ctrl_page));
		FRONT_RING_INIT(&f->cr, (struct xen_netif_ctrl_sring *)fake_guest_page(f->ctrl_page), PAGE);
		f->rctrl = T.next_remote++;
		xs_writef(t, f->fe, "ctrl-ring-ref", "%u", GREF(f->ctrl_page));
		xs_writef(t, f->fe, "event-channel-ctrl", "%u", f->rctrl);
	}
	xs_writef(t, f->fe, "request-rx-copy", "%u", f->no_rx_copy ? 0u : 1u);
	xs_writef(t, f->fe, "feature-rx-notify", "1");
	xs_writef(t, f->fe, "feature-sg", "1");
	xs_writef(t, f->fe, "feature-gso-tcpv4", "1");
	xs_writef(t, f->fe, "feature-gso-tcpv6", "1");
	xs_writef(t, f->fe, "feature-ipv6-csum-offload", "1");
	xs_writef(t, f->fe, "request-multicast-control", "%u", f->mcast_ctrl ? 1u : 0u);
	xs_writef(t, f->fe, "state", "4");
	assert_true(bl_xs_end(T.xen, t, false));
}

static void fe_find_ports(struct vfe *f)
{
	for (unsigned i = 0; i < f->nq; i++) {
		f->q[i].ltx = fake_evtchn_local_port(f->domid, f->q[i].rtx);
		f->q[i].lrx = fake_evtchn_local_port(f->domid, f->q[i].rrx);
		assert_true(f->q[i].ltx > 0 && f->q[i].lrx > 0);
	}
	if (f->ctrl) {
		f->lctrl = fake_evtchn_local_port(f->domid, f->rctrl);
		assert_true(f->lctrl > 0);
	}
}

static void connect_vif(struct vfe *f)
{
	toolstack_add(f);
	wait_state(f->be, XenbusStateInitWait);
	fe_connect(f);
	wait_state(f->be, XenbusStateConnected);
	fe_find_ports(f);
}

static struct vif *find_vif(const struct vfe *f)
{
	for (struct vif *v = vif_list(); v; v = v->next)
		if (v->domid == f->domid && v->devid == f->devid)
			return v;
	return NULL;
}

/* One TX request as netfront writes it. */
static void tx_req(struct vfe *f, unsigned qi, grant_ref_t gref, uint16_t off, uint16_t flags,
		   uint16_t size, uint16_t *id)
{
	struct vq *q = &f->q[qi];
	struct netif_tx_request *r = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);

	*id = q->next_id++;
	*r = (struct netif_tx_request){ .gref = gref, .offset = off, .flags = flags,
					.id = *id, .size = size };
}

static void tx_extra(struct vfe *f, unsigned qi, const struct netif_extra_info *x)
{
	struct vq *q = &f->q[qi];

	memcpy(RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++), x, sizeof(*x));
}

static void tx_push(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		fake_evtchn_kick((evtchn_port_t)q->ltx);
}

/* A frame dst <- src of len bytes filled with seed's pattern, in guest
 * pages of its own, split over nslots slots (at offset 100 in each). */
static void frame_fill(uint8_t *p, unsigned len, const uint8_t *dst, const uint8_t *src,
		       uint8_t seed)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = 0x88;
	p[13] = 0xb5; /* local experimental ethertype */
}

static unsigned tx_frame(struct vfe *f, unsigned qi, const uint8_t *dst, const uint8_t *src,
			 unsigned len, unsigned nslots, uint8_t seed, uint8_t *copy)
{
	uint8_t buf[70000];
	unsigned per = (len + nslots - 1) / nslots, done = 0;
	uint16_t id;

	frame_fill(buf, len, dst, src, seed);
	if (copy)
		memcpy(copy, buf, len);
	for (unsigned s = 0; s < nslots; s++) {
		unsigned pg = page_alloc(), n = len - done < per ? len - done : per;

		fake_gnt_grant(f->domid, GREF(pg), pg, false);
		memcpy((uint8_t *)fake_guest_page(pg) + 100, buf + done, n);
		tx_req(f, qi, GREF(pg), 100,
		       (uint16_t)(s + 1 < nslots ? NETTXF_more_data : 0),
		       (uint16_t)(s == 0 ? len : n), &id);
		done += n;
	}
	return nslots;
}

static unsigned tx_unconsumed(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];
	RING_IDX prod = q->tx.sring->rsp_prod;

	rmb();
	return prod - q->tx.rsp_cons;
}

struct rc {
	struct vfe *f;
	unsigned qi, n;
	bool rx;
};

static unsigned rx_unconsumed(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];
	RING_IDX prod = q->rx.sring->rsp_prod;

	rmb();
	return prod - q->rx.rsp_cons;
}

static bool have_rsp(const void *arg)
{
	const struct rc *c = arg;

	return (c->rx ? rx_unconsumed(c->f, c->qi) : tx_unconsumed(c->f, c->qi)) >= c->n;
}

static void tx_wait(struct vfe *f, unsigned qi, unsigned n)
{
	struct rc c = { f, qi, n, false };

	run_until(have_rsp, &c);
	assert_int_equal(tx_unconsumed(f, qi), n);
}

static struct netif_tx_response tx_pop(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];

	return *RING_GET_RESPONSE(&q->tx, q->tx.rsp_cons++);
}

/* n TX responses, all with status st. */
static void tx_expect(struct vfe *f, unsigned qi, unsigned n, int16_t st)
{
	tx_wait(f, qi, n);
	for (unsigned i = 0; i < n; i++) {
		struct netif_tx_response r = tx_pop(f, qi);

		if (r.status != NETIF_RSP_NULL)
			assert_int_equal(r.status, st);
	}
}

/* Post n RX buffers (fresh writable pages); their pages in pages[]. */
static void rx_post(struct vfe *f, unsigned qi, unsigned n, unsigned *pages)
{
	struct vq *q = &f->q[qi];
	int notify;

	for (unsigned i = 0; i < n; i++) {
		unsigned pg = page_alloc();
		struct netif_rx_request *r = RING_GET_REQUEST(&q->rx, q->rx.req_prod_pvt);

		fake_gnt_grant(f->domid, GREF(pg), pg, true);
		memset(fake_guest_page(pg), 0xee, PAGE);
		r->id = (uint16_t)(q->rx.req_prod_pvt & 0xffff);
		r->gref = GREF(pg);
		q->rx.req_prod_pvt++;
		if (pages)
			pages[i] = pg;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
	if (notify)
		fake_evtchn_kick((evtchn_port_t)q->lrx);
}

static void rx_wait(struct vfe *f, unsigned qi, unsigned n)
{
	struct rc c = { f, qi, n, true };

	run_until(have_rsp, &c);
	assert_int_equal(rx_unconsumed(f, qi), n);
}

static struct netif_rx_response rx_pop(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];

	return *RING_GET_RESPONSE(&q->rx, q->rx.rsp_cons++);
}

/* --- frames from outside (dom0 memory) ------------------------------------------------ */

struct inj {
	struct sw_buf b;
	uint8_t data[];
};

static void inj_release(struct sw_buf *b)
{
	T.released++;
	free(b->owner);
}

static void inject(const uint8_t *dst, unsigned len, uint8_t seed, const struct net_meta *m,
		   uint8_t *copy)
{
	struct inj *x = calloc(1, sizeof(*x) + len);

	frame_fill(x->data, len, dst, OUT_MAC, seed);
	if (copy)
		memcpy(copy, x->data, len);
	x->b.refs = 1;
	x->b.release = inj_release;
	x->b.owner = x;
	x->b.len = len;
	x->b.nr_frags = 1;
	x->b.frag[0] = (struct sw_frag){ .addr = x->data, .domid = SW_LOCAL, .len = len };
	if (m)
		x->b.meta = *m;
	sw_buf_take_hdr(&x->b);
	T.injected++;
	sw_input(vif_switch(), &T.port, &x->b);
	sw_buf_put(&x->b);
}

/* --- tests ------------------------------------------------------------------------------ */

/* An IPv4/UDP frame from 10.0.0.src to 10.0.0.1. */
static void inject_ip(const uint8_t *dst, uint8_t src)
{
	struct inj *x = calloc(1, sizeof(*x) + 100);
	uint8_t *p = x->data;

	memcpy(p, dst, 6);
	memcpy(p + 6, OUT_MAC, 6);
	p[12] = 0x08;
	p[14] = 0x45;
	p[14 + 9] = 17;
	memcpy(p + 14 + 12, (uint8_t[]){ 10, 0, 0, src, 10, 0, 0, 1 }, 8);
	x->b.refs = 1;
	x->b.release = inj_release;
	x->b.owner = x;
	x->b.len = 100;
	x->b.nr_frags = 1;
	x->b.frag[0] = (struct sw_frag){ .addr = p, .domid = SW_LOCAL, .len = 100 };
	sw_buf_take_hdr(&x->b);
	T.injected++;
	sw_input(vif_switch(), &T.port, &x->b);
	sw_buf_put(&x->b);
}

static void test_handshake(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	fe_init(&f, DOM_A, 0);
	toolstack_add(&f);
	wait_state(f.be, XenbusStateInitWait);
	/* netback's feature set. */
	assert_string_equal(xs_get(f.be, "feature-sg"), "1");
	assert_string_equal(xs_get(f.be, "feature-gso-tcpv4"), "1");
	assert_string_equal(xs_get(f.be, "feature-gso-tcpv6"), "1");
	assert_string_equal(xs_get(f.be, "feature-ipv6-csum-offload"), "1");
	assert_string_equal(xs_get(f.be, "feature-rx-copy"), "1");
	assert_string_equal(xs_get(f.be, "feature-rx-flip"), "0");
	assert_string_equal(xs_get(f.be, "feature-multicast-control"), "1");
	assert_string_equal(xs_get(f.be, "feature-dynamic-multicast-control"), "1");
	assert_string_equal(xs_get(f.be, "feature-split-event-channels"), "1");
	assert_string_equal(xs_get(f.be, "feature-ctrl-ring"), "1");
	assert_string_equal(xs_get(f.be, "multi-queue-max-queues"), "4");
	fe_connect(&f);
	wait_state(f.be, XenbusStateConnected);
	fe_find_ports(&f);
	v = find_vif(&f);
	assert_non_null(v);
	assert_true(v->connected && v->sg && v->gso4 && v->gso6 && v->csum && v->ipv6_csum);
	assert_int_equal(v->nr_queues, 1);
	assert_ptr_equal(v->port.sw, vif_switch());
	assert_int_equal(fake_evtchn_bound(), 1);
	/* Teardown as xl does it: online=0, Closing; the frontend closes. */
	xs_writef(0, f.be, "online", "0");
	xs_writef(0, f.be, "state", "5");
	xs_writef(0, f.fe, "state", "5");
	run_for(20);
	xs_writef(0, f.fe, "state", "6");
	wait_state(f.be, XenbusStateClosed);
	assert_null(find_vif(&f));
	assert_int_equal(fake_evtchn_bound(), 0);
	assert_int_equal(fake_gnt_stats().outstanding, 0);
}

static void test_refuses_without_rx_copy(void **state)
{
	struct vfe f;

	(void)state;
	fe_init(&f, DOM_A, 0);
	f.no_rx_copy = true;
	toolstack_add(&f);
	wait_state(f.be, XenbusStateInitWait);
	fe_connect(&f);
	wait_state(f.be, XenbusStateClosing);
	assert_non_null(strstr(xs_get(f.be, "hotplug-error"), "rx-copy"));
	assert_int_equal(fake_evtchn_bound(), 0);
}

static void test_tx_to_uplink(void **state)
{
	struct vfe f;
	uint8_t want[9000];
	struct fake_gnt_stats before;

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	before = fake_gnt_stats();
	/* 3 slots, to a MAC nobody knows: flooded to the test port. */
	tx_frame(&f, 0, OUT_MAC, f.mac, 5000, 3, 1, want);
	tx_push(&f, 0);
	tx_expect(&f, 0, 3, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 1);
	assert_int_equal(T.rec->len, 5000);
	assert_memory_equal(T.rec->data, want, 5000);
	/* Nothing mapped for the switch: one copy call took the header and
	 * probed the other slots' grants, a segment per slot. */
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 0);
	assert_int_equal(fake_gnt_stats().copy_calls - before.copy_calls, 1);
	assert_int_equal(fake_gnt_stats().copy_segs - before.copy_segs, 3);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
	assert_int_equal(find_vif(&f)->queues[0].stats.tx_pkts, 1);
	/* Checksum and GSO state reach the uplink. */
	{
		struct netif_extra_info gso = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
		unsigned pg = page_alloc();
		uint16_t id;

		gso.u.gso.size = 1448;
		gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
		fake_gnt_grant(f.domid, GREF(pg), pg, false);
		frame_fill(fake_guest_page(pg), 200, OUT_MAC, f.mac, 3);
		tx_req(&f, 0, GREF(pg), 0, NETTXF_csum_blank | NETTXF_extra_info, 200, &id);
		tx_extra(&f, 0, &gso);
		tx_push(&f, 0);
		tx_expect(&f, 0, 2, NETIF_RSP_OKAY);
		assert_int_equal(T.got, 2);
		assert_true(T.rec->meta.csum_blank);
		assert_int_equal(T.rec->meta.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
		assert_int_equal(T.rec->meta.gso_size, 1448);
	}
}

static void test_rx_from_uplink(void **state)
{
	struct vfe f;
	uint8_t want[9000];
	unsigned pages[8];
	struct netif_rx_response r[4];
	struct fake_gnt_stats before;
	struct net_meta m = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV6, .gso_size = 1400,
			      .csum_blank = true };

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	rx_post(&f, 0, 8, pages);
	run_for(5);
	before = fake_gnt_stats();
	/* 6000 bytes: two data slots around a GSO extra. */
	inject(f.mac, 6000, 9, &m, want);
	rx_wait(&f, 0, 3);
	for (int i = 0; i < 3; i++)
		r[i] = rx_pop(&f, 0);
	assert_int_equal(r[0].status, 4096);
	assert_int_equal(r[0].flags, NETRXF_more_data | NETRXF_csum_blank | NETRXF_data_validated |
					     NETRXF_extra_info);
	{
		const struct netif_extra_info *x = (const void *)&r[1];

		assert_int_equal(x->type, XEN_NETIF_EXTRA_TYPE_GSO);
		assert_int_equal(x->flags, 0);
		assert_int_equal(x->u.gso.type, XEN_NETIF_GSO_TYPE_TCPV6);
		assert_int_equal(x->u.gso.size, 1400);
	}
	assert_int_equal(r[2].status, 6000 - 4096);
	assert_int_equal(r[2].flags, 0);
	assert_memory_equal(fake_guest_page(pages[0]), want, 4096);
	assert_memory_equal(fake_guest_page(pages[2]), want + 4096, 6000 - 4096);
	/* One copy call for the pass, two segments. */
	assert_int_equal(fake_gnt_stats().copy_calls - before.copy_calls, 1);
	assert_int_equal(fake_gnt_stats().copy_segs - before.copy_segs, 2);
	assert_int_equal(T.released, T.injected);
	/* A plain small frame: one slot, data_validated passes through. */
	m = (struct net_meta){ .data_validated = true };
	inject(BCAST, 60, 4, &m, want);
	rx_wait(&f, 0, 1);
	r[0] = rx_pop(&f, 0);
	assert_int_equal(r[0].status, 60);
	assert_int_equal(r[0].flags, NETRXF_data_validated);
	assert_memory_equal(fake_guest_page(pages[3]), want, 60);
}

static void test_guest_to_guest_one_copy(void **state)
{
	struct vfe a, b;
	uint8_t want[3000];
	unsigned pages[4];
	struct fake_gnt_stats before;
	struct netif_rx_response r;

	(void)state;
	fe_init(&a, DOM_A, 0);
	fe_init(&b, DOM_B, 0);
	connect_vif(&a);
	connect_vif(&b);
	rx_post(&b, 0, 4, pages);
	rx_post(&a, 0, 4, NULL);
	run_for(5);
	/* b speaks first so the switch learns where it is. */
	tx_frame(&b, 0, BCAST, b.mac, 60, 1, 1, NULL);
	tx_push(&b, 0);
	tx_expect(&b, 0, 1, NETIF_RSP_OKAY);
	rx_wait(&a, 0, 1);
	rx_pop(&a, 0);
	before = fake_gnt_stats();
	T.got = 0;
	tx_frame(&a, 0, b.mac, a.mac, 3000, 2, 7, want);
	tx_push(&a, 0);
	rx_wait(&b, 0, 1);
	tx_expect(&a, 0, 2, NETIF_RSP_OKAY);
	r = rx_pop(&b, 0);
	assert_int_equal(r.status, 3000);
	assert_memory_equal(fake_guest_page(pages[0]), want, 3000);
	/* Known unicast: not flooded to the uplink; the header copy into
	 * dom0 (128 bytes, and a probe of the second slot), then one copy
	 * call, grant to grant, for the two source slots; nothing mapped. */
	assert_int_equal(T.got, 0);
	assert_int_equal(fake_gnt_stats().copy_calls - before.copy_calls, 2);
	assert_int_equal(fake_gnt_stats().copy_foreign_both - before.copy_foreign_both, 2);
	assert_int_equal(fake_gnt_stats().copy_bytes - before.copy_bytes, 128 + 1 + 3000);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 0);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
}

static void test_multiqueue_split(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	fe_init(&f, DOM_A, 0);
	f.nq = 2;
	f.split = true;
	connect_vif(&f);
	v = find_vif(&f);
	assert_int_equal(v->nr_queues, 2);
	assert_true(v->split);
	assert_int_equal(fake_evtchn_bound(), 4);
	for (unsigned qi = 0; qi < 2; qi++) {
		tx_frame(&f, qi, OUT_MAC, f.mac, 100, 1, (uint8_t)qi, NULL);
		tx_push(&f, qi);
		tx_expect(&f, qi, 1, NETIF_RSP_OKAY);
		assert_int_equal(v->queues[qi].stats.tx_pkts, 1);
	}
	/* Frames for it land on some queue, each with buffers posted. */
	rx_post(&f, 0, 4, NULL);
	rx_post(&f, 1, 4, NULL);
	run_for(5);
	/* Different IPv4 flows spread over the queues; one flow stays on one. */
	for (int i = 0; i < 8; i++)
		inject_ip(f.mac, (uint8_t)i);
	run_for(20);
	assert_int_equal(rx_unconsumed(&f, 0) + rx_unconsumed(&f, 1), 8);
	assert_true(rx_unconsumed(&f, 0) > 0 && rx_unconsumed(&f, 1) > 0);
	/* Too many queues asked: refused. */
	{
		struct vfe g;

		fe_init(&g, DOM_B, 0);
		g.nq = 4;
		toolstack_add(&g);
		wait_state(g.be, XenbusStateInitWait);
		xs_writef(0, g.fe, "multi-queue-num-queues", "9");
		xs_writef(0, g.fe, "request-rx-copy", "1");
		xs_writef(0, g.fe, "feature-rx-notify", "1");
		xs_writef(0, g.fe, "state", "4");
		wait_state(g.be, XenbusStateClosing);
	}
}

static void test_tx_slot_limits(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	v = find_vif(&f);
	/* 19 slots (first + 18): accepted. */
	tx_frame(&f, 0, OUT_MAC, f.mac, 19 * 100, 19, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 19, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 1);
	/* 20 slots: error responses on every slot, then service goes on. */
	tx_frame(&f, 0, OUT_MAC, f.mac, 20 * 100, 20, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 20, NETIF_RSP_ERROR);
	assert_int_equal(v->queues[0].stats.drops[VIF_DROP_TX_ERROR], 1);
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 2);
	assert_false(v->disabled);
}

static void reconnect(struct vfe *f)
{
	xs_writef(0, f->fe, "state", "5");
	wait_state(f->be, XenbusStateClosing);
	xs_writef(0, f->fe, "state", "6");
	wait_state(f->be, XenbusStateClosed);
	xs_writef(0, f->fe, "state", "1");
	wait_state(f->be, XenbusStateInitWait);
	fe_connect(f);
	wait_state(f->be, XenbusStateConnected);
	fe_find_ports(f);
}

static void test_fatal_then_reconnect(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	v = find_vif(&f);
	/* 22 slots: malicious; the vif stops. */
	tx_frame(&f, 0, OUT_MAC, f.mac, 22 * 100, 22, 1, NULL);
	tx_push(&f, 0);
	run_for(20);
	assert_true(v->disabled);
	assert_int_equal(tx_unconsumed(&f, 0), 0);
	assert_non_null(xs_get(f.be, "blanket-error"));
	/* Nothing more is served: TX not answered, RX dropped. */
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 1, NULL);
	tx_push(&f, 0);
	rx_post(&f, 0, 2, NULL);
	inject(f.mac, 100, 1, NULL, NULL);
	run_for(20);
	assert_int_equal(tx_unconsumed(&f, 0), 0);
	assert_int_equal(rx_unconsumed(&f, 0), 0);
	assert_int_equal(T.got, 0);
	/* The frontend reconnects: served again. */
	reconnect(&f);
	v = find_vif(&f);
	assert_false(v->disabled);
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 1);
}

static void test_bad_grants(void **state)
{
	struct vfe f;
	struct vif *v;
	unsigned pg;
	uint16_t id;
	struct netif_rx_response r;

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	v = find_vif(&f);
	/* Header slot with a ref never granted. */
	tx_req(&f, 0, 0xdead, 0, 0, 100, &id);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_ERROR);
	/* A good first slot, a bad fragment. */
	pg = page_alloc();
	fake_gnt_grant(f.domid, GREF(pg), pg, false);
	frame_fill(fake_guest_page(pg), 100, OUT_MAC, f.mac, 1);
	tx_req(&f, 0, GREF(pg), 0, NETTXF_more_data, 200, &id);
	tx_req(&f, 0, 0xbeef, 0, 0, 100, &id);
	tx_push(&f, 0);
	tx_expect(&f, 0, 2, NETIF_RSP_ERROR);
	assert_int_equal(v->queues[0].stats.drops[VIF_DROP_TX_MAP], 2);
	assert_int_equal(T.got, 0);
	/* Another domain's grant is not this frontend's. */
	fake_gnt_grant(DOM_B, GREF(pg + 1000), pg, false);
	tx_req(&f, 0, GREF(pg + 1000), 0, 0, 100, &id);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_ERROR);
	/* An RX buffer with a bad ref: the grant-table error as status. */
	{
		struct vq *q = &f.q[0];
		struct netif_rx_request *rq = RING_GET_REQUEST(&q->rx, q->rx.req_prod_pvt);
		int notify;

		rq->id = 77;
		rq->gref = 0xbad;
		q->rx.req_prod_pvt++;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
		fake_evtchn_kick((evtchn_port_t)q->lrx);
		(void)notify;
	}
	inject(f.mac, 100, 1, NULL, NULL);
	rx_wait(&f, 0, 1);
	r = rx_pop(&f, 0);
	assert_int_equal(r.id, 77);
	assert_int_equal(r.status, GNTST_bad_gntref);
	assert_int_equal(v->queues[0].stats.drops[VIF_DROP_RX_COPY], 1);
	/* A read-only RX buffer: Xen's general error. */
	rx_post(&f, 0, 1, &pg);
	fake_gnt_grant(f.domid, GREF(pg), pg, false);
	inject(f.mac, 100, 1, NULL, NULL);
	rx_wait(&f, 0, 1);
	assert_int_equal(rx_pop(&f, 0).status, GNTST_general_error);
	assert_false(v->disabled);
}

static void test_producer_past_ring(void **state)
{
	struct vfe f, g;

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	f.q[0].tx.sring->req_prod = f.q[0].tx.sring->rsp_prod + 300;
	fake_evtchn_kick((evtchn_port_t)f.q[0].ltx);
	run_for(20);
	assert_true(find_vif(&f)->disabled);
	assert_int_equal(tx_unconsumed(&f, 0), 0);
	/* RX: a buffer producer more than a ring ahead. */
	fe_init(&g, DOM_B, 0);
	connect_vif(&g);
	g.q[0].rx.sring->req_prod = 1000;
	inject(g.mac, 60, 1, NULL, NULL);
	run_for(20);
	assert_true(find_vif(&g)->disabled);
	assert_int_equal(rx_unconsumed(&g, 0), 0);
}

static void ctrl_req(struct vfe *f, uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2)
{
	struct xen_netif_ctrl_request *r = RING_GET_REQUEST(&f->cr, f->cr.req_prod_pvt);
	int notify;

	*r = (struct xen_netif_ctrl_request){ .id = (uint16_t)f->cr.req_prod_pvt, .type = type,
					      .data = { d0, d1, d2 } };
	f->cr.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->cr, notify);
	if (notify)
		fake_evtchn_kick((evtchn_port_t)f->lctrl);
}

static bool ctrl_has(const void *arg)
{
	struct vfe *f = (struct vfe *)arg;

	return f->cr.sring->rsp_prod != f->cr.rsp_cons;
}

static struct xen_netif_ctrl_response ctrl_rsp(struct vfe *f)
{
	run_until(ctrl_has, f);
	assert_true(ctrl_has(f));
	return *RING_GET_RESPONSE(&f->cr, f->cr.rsp_cons++);
}

static void test_ctrl_ring(void **state)
{
	struct vfe f;
	struct vif *v;
	unsigned pg;

	(void)state;
	fe_init(&f, DOM_A, 0);
	f.nq = 2;
	f.ctrl = true;
	connect_vif(&f);
	v = find_vif(&f);
	assert_non_null(v->ctrl_sring);
	ctrl_req(&f, 99, 0, 0, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	ctrl_req(&f, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 7, 0, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	ctrl_req(&f, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_SUCCESS);
	/* A key from a bad grant: INVALID_PARAMETER, key unchanged. */
	ctrl_req(&f, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0xbad, 40, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	pg = page_alloc();
	fake_gnt_grant(f.domid, GREF(pg), pg, false);
	memset(fake_guest_page(pg), 0x6d, 40);
	ctrl_req(&f, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, GREF(pg), 40, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(v->hash.key[39], 0x6d);
	/* A mapping naming queue 5 of 2: refused whole. */
	ctrl_req(&f, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 4, 0, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_SUCCESS);
	memcpy(fake_guest_page(pg), (uint32_t[]){ 1, 1, 5, 0 }, 16);
	ctrl_req(&f, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, GREF(pg), 4, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(v->hash.mapping[0], 0);
	/* Hashing on: frames carry a HASH extra. */
	ctrl_req(&f, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, XEN_NETIF_CTRL_HASH_TYPE_IPV4, 0, 0);
	assert_int_equal(ctrl_rsp(&f).status, XEN_NETIF_CTRL_STATUS_SUCCESS);
	rx_post(&f, 0, 4, NULL);
	rx_post(&f, 1, 4, NULL);
	run_for(5);
	inject(f.mac, 100, 1, NULL, NULL);
	run_for(20);
	/* No IPv4 header in the test pattern: no hash, no extra. */
	assert_int_equal(rx_unconsumed(&f, 0) + rx_unconsumed(&f, 1), 1);
	/* Producer past the control ring: the vif stops. */
	f.cr.sring->req_prod += 500;
	fake_evtchn_kick((evtchn_port_t)f.lctrl);
	run_for(20);
	assert_true(v->disabled);
}

static void test_no_rx_buffers_bounded(void **state)
{
	struct vfe f, a;
	struct vif *v;
	unsigned pages[40];

	(void)state;
	fe_init(&f, DOM_B, 0);
	fe_init(&a, DOM_A, 0);
	connect_vif(&f);
	connect_vif(&a);
	v = find_vif(&f);
	/* 40 frames, no buffers: 32 wait (rx-backlog), 8 dropped. */
	for (int i = 0; i < 40; i++)
		inject(f.mac, 100, (uint8_t)i, NULL, NULL);
	run_for(10);
	assert_int_equal(v->queues[0].bl_len, 32);
	assert_int_equal(v->queues[0].stats.drops[VIF_DROP_RX_BACKLOG], 8);
	/* Waiting frames do not hold anyone's memory: all injected released. */
	assert_int_equal(T.released, T.injected);
	assert_int_equal(v->queues[0].stats.rx_bounced, 32);
	/* A guest sending to it is not held up either: its slots are
	 * answered although the frame waits (or is dropped). */
	tx_frame(&a, 0, f.mac, a.mac, 100, 1, 1, NULL);
	tx_push(&a, 0);
	tx_expect(&a, 0, 1, NETIF_RSP_OKAY);
	/* Buffers arrive: the backlog drains, oldest first. */
	rx_post(&f, 0, 40, pages);
	rx_wait(&f, 0, 32);
	assert_int_equal(v->queues[0].bl_len, 0);
	assert_int_equal(((uint8_t *)fake_guest_page(pages[0]))[14], (uint8_t)(0 + 14 * 7));
}

/* A guest's frame for a guest without buffers waits in dom0 memory: its
 * bytes grant-copied there (one call for the queue's frames), the sender
 * answered at once; a frame whose grant is gone by then is dropped when
 * its turn comes, not delivered as garbage. */
static void test_guest_frame_waits_in_dom0(void **state)
{
	struct vfe a, b;
	struct vif *vb;
	struct sw_buf bad;
	struct fake_gnt_stats before;
	unsigned pages[4];
	uint8_t want[3000];
	struct netif_rx_response r;

	(void)state;
	fe_init(&a, DOM_A, 0);
	fe_init(&b, DOM_B, 0);
	connect_vif(&a);
	connect_vif(&b);
	vb = find_vif(&b);
	rx_post(&a, 0, 4, NULL);
	run_for(5);
	/* b speaks first so the switch learns where it is. */
	tx_frame(&b, 0, BCAST, b.mac, 60, 1, 1, NULL);
	tx_push(&b, 0);
	tx_expect(&b, 0, 1, NETIF_RSP_OKAY);
	before = fake_gnt_stats();
	tx_frame(&a, 0, b.mac, a.mac, 3000, 2, 9, want);
	tx_push(&a, 0);
	tx_expect(&a, 0, 2, NETIF_RSP_OKAY);
	assert_int_equal(vb->queues[0].bl_len, 1);
	assert_int_equal(vb->queues[0].stats.rx_bounced, 1);
	/* The header copy, then the bounce's copy of both slots. */
	assert_int_equal(fake_gnt_stats().copy_calls - before.copy_calls, 2);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 0);
	/* A frame naming a grant that is gone. */
	memset(&bad, 0, sizeof(bad));
	bad.refs = 1;
	bad.release = (void (*)(struct sw_buf *))abort;
	bad.len = 500;
	bad.nr_frags = 1;
	bad.frag[0] = (struct sw_frag){ .domid = DOM_A, .gref = 4000, .len = 500 };
	memcpy(bad.hdr, b.mac, 6);
	memcpy(bad.hdr + 6, OUT_MAC, 6);
	bad.hdr_len = SW_HDR_MAX;
	sw_input(vif_switch(), &T.port, &bad);
	run_for(10);
	assert_int_equal(bad.refs, 1);          /* let go: the copy is dom0's */
	assert_int_equal(vb->queues[0].bl_len, 2);
	/* Buffers: a's frame arrives whole; the other is dropped. */
	rx_post(&b, 0, 4, pages);
	rx_wait(&b, 0, 1);
	r = rx_pop(&b, 0);
	assert_int_equal(r.status, 3000);
	assert_memory_equal(fake_guest_page(pages[0]), want, 3000);
	run_for(10);
	assert_int_equal(vb->queues[0].bl_len, 0);
	assert_int_equal(vb->queues[0].stats.drops[VIF_DROP_RX_SIZE], 1);
	assert_int_equal(rx_unconsumed(&b, 0), 0);   /* nothing else reached b */
}

static void test_mac_spoof(void **state)
{
	struct vfe f;
	struct vif *v;
	const uint8_t other[6] = { 0x00, 0x16, 0x3e, 0x77, 0x77, 0x77 };

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	v = find_vif(&f);
	tx_frame(&f, 0, OUT_MAC, other, 100, 1, 1, NULL);
	tx_push(&f, 0);
	/* Answered OKAY (netback would not know), not forwarded, counted. */
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 0);
	assert_int_equal(v->queues[0].stats.drops[VIF_DROP_SPOOF], 1);
	assert_null(sw_fdb_lookup(vif_switch(), other));
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 1);
}

static void test_mac_spoof_allowed(void **state)
{
	struct vfe f;
	const uint8_t other[6] = { 0x00, 0x16, 0x3e, 0x77, 0x77, 0x77 };

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	tx_frame(&f, 0, OUT_MAC, other, 100, 1, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 1);
}

static void test_multicast_control(void **state)
{
	struct vfe f;
	struct vif *v;
	const uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct netif_extra_info x = { .type = XEN_NETIF_EXTRA_TYPE_MCAST_ADD };
	unsigned pg;
	uint16_t id;

	(void)state;
	fe_init(&f, DOM_A, 0);
	f.mcast_ctrl = true;
	connect_vif(&f);
	v = find_vif(&f);
	assert_true(v->port.mcast_filter);
	rx_post(&f, 0, 8, NULL);
	run_for(5);
	inject(mc, 60, 1, NULL, NULL);
	run_for(10);
	assert_int_equal(rx_unconsumed(&f, 0), 0);
	/* netfront subscribes through a TX request with an MCAST_ADD extra. */
	memcpy(x.u.mcast.addr, mc, 6);
	pg = page_alloc();
	fake_gnt_grant(f.domid, GREF(pg), pg, false);
	tx_req(&f, 0, GREF(pg), 0, NETTXF_extra_info, 0, &id);
	tx_extra(&f, 0, &x);
	tx_push(&f, 0);
	tx_expect(&f, 0, 2, NETIF_RSP_OKAY);
	assert_int_equal(v->port.nr_mcast, 1);
	inject(mc, 60, 1, NULL, NULL);
	rx_wait(&f, 0, 1);
	/* Dynamic: the frontend turns control off, everything comes in. */
	xs_writef(0, f.fe, "request-multicast-control", "0");
	run_for(10);
	assert_false(v->port.mcast_filter);
	inject((uint8_t[]){ 0x01, 0x00, 0x5e, 0, 0, 9 }, 60, 1, NULL, NULL);
	rx_wait(&f, 0, 2);
}

static void test_daemon_restart(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	/* Stop: our mappings go, xenstore stays. */
	sw_port_del(vif_switch(), &T.port);
	vif_shutdown();
	fake_xs_drop_watches();
	assert_int_equal(fake_gnt_stats().outstanding, 0);
	assert_int_equal(xs_state(f.be), XenbusStateConnected);
	/* Start again: the Connected device is taken over where it was. */
	assert_int_equal(vif_init(T.loop, T.xen, &T.cfg), 0);
	sw_port_add(vif_switch(), &T.port);
	run_for(10);
	v = find_vif(&f);
	assert_non_null(v);
	assert_true(v->connected);
	fe_find_ports(&f);
	T.got = 0;
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 2, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 1);
}

static void test_rate_limit(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	fe_init(&f, DOM_A, 0);
	toolstack_add(&f);
	/* 60000 bytes per 200 ms; a window's credit may build up to 128 KiB. */
	xs_writef(0, f.be, "rate", "60000,200000");
	wait_state(f.be, XenbusStateInitWait);
	fe_connect(&f);
	wait_state(f.be, XenbusStateConnected);
	fe_find_ports(&f);
	v = find_vif(&f);
	assert_int_equal(v->rate_bytes, 60000);
	assert_int_equal(v->rate_usec, 200000);
	/* 3 x 60000 bytes: two windows' credit take two, the third waits for
	 * the next window. */
	for (int i = 0; i < 3; i++) {
		tx_frame(&f, 0, OUT_MAC, f.mac, 60000, 16, 1, NULL);
		tx_push(&f, 0);
	}
	run_for(20);
	assert_int_equal(T.got, 2);
	assert_true(v->queues[0].stats.credit_waits >= 1);
	assert_int_equal(tx_unconsumed(&f, 0), 32);
	tx_expect(&f, 0, 48, NETIF_RSP_OKAY);
	assert_int_equal(T.got, 3);
}

/* --- an asynchronous uplink (kshim-net's contract) ------------------------------------ */

static struct {
	struct net_uplink u;
	void *held[8];
	unsigned nheld, closed;
	uint8_t last[9000];         /* the last frame, read through its iovecs */
	int regs;                   /* registrations held (mem_register) */
	size_t last_len;
	struct net_uplink_buf rb;
	struct iovec rfrag[3];
	uint8_t rdata[3][4096];
	unsigned rx_released;
} AU;

static int au_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
		       const struct net_meta *m, void *cookie)
{
	(void)u, (void)m;
	AU.last_len = 0;
	for (unsigned i = 0; i < n; i++) {
		assert_true(AU.last_len + iov[i].iov_len <= sizeof(AU.last));
		memcpy(AU.last + AU.last_len, iov[i].iov_base, iov[i].iov_len);
		AU.last_len += iov[i].iov_len;
	}
	assert_true(AU.nheld < 8);
	AU.held[AU.nheld++] = cookie;
	return 0;
}

static void au_rx_release(struct net_uplink *u, struct net_uplink_buf *b)
{
	(void)u;
	assert_ptr_equal(b, &AU.rb);
	AU.rx_released++;
}

static void au_complete_all(void)
{
	while (AU.nheld)
		AU.u.tx_done(&AU.u, AU.held[--AU.nheld], 0);
}

static void au_close(struct net_uplink *u)
{
	(void)u;
	AU.closed++;
	au_complete_all();
}

static int au_mem_register(struct net_uplink *u, void *addr, size_t len)
{
	(void)u, (void)addr, (void)len;
	AU.regs++;
	return 0;
}

static void au_mem_unregister(struct net_uplink *u, void *addr, size_t len)
{
	(void)u, (void)addr, (void)len;
	AU.regs--;
}

static const struct net_uplink_ops au_ops = {
	.tx_async = au_tx_async, .rx_release = au_rx_release, .close = au_close,
};

static void au_attach(void)
{
	memset(&AU, 0, sizeof(AU));
	AU.u.ops = &au_ops;
	AU.u.kind = "fake";
	snprintf(AU.u.name, sizeof(AU.u.name), "async");
	sw_uplink_attach(vif_switch(), &AU.u);
}

/* The guest's TX slots are answered, and its pages unmapped, only once
 * the uplink is done with the frame (the L0 NIC has read it). */
static void test_async_uplink_tx(void **state)
{
	struct vfe f;
	struct fake_gnt_stats before;
	struct vif *v;
	uint8_t want[3000];

	(void)state;
	au_attach();
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	before = fake_gnt_stats();
	tx_frame(&f, 0, OUT_MAC, f.mac, 3000, 2, 1, want);
	tx_push(&f, 0);
	run_for(30);
	v = find_vif(&f);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.last_len, 3000);
	assert_memory_equal(AU.last, want, 3000);
	assert_int_equal(T.got, 1);               /* the flood reached the test port too */
	assert_int_equal(tx_unconsumed(&f, 0), 0);
	assert_int_equal(v->queues[0].tx_inflight, 1);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding + 1);
	au_complete_all();
	tx_expect(&f, 0, 2, NETIF_RSP_OKAY);
	assert_int_equal(v->queues[0].tx_inflight, 0);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
	/* A queue closing takes its frames back from the uplink: answered at
	 * once; the mapping (which the device may still read) goes at the
	 * uplink's tx_done. */
	tx_frame(&f, 0, OUT_MAC, f.mac, 300, 1, 2, NULL);
	tx_push(&f, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 1);
	reconnect(&f);
	assert_int_equal(v->queues[0].tx_inflight, 0);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding + 1);
	au_complete_all();
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
	/* teardown: detaching closes the uplink */
}

/* The frames of a pass, from two guests, reach the uplink through ONE
 * grant map call; a grant revoked after the sender's check costs only its
 * own frame (the batch is then mapped frame by frame). */
static void test_uplink_batch_map(void **state)
{
	struct vfe a, b;
	struct fake_gnt_stats before;
	struct sw_buf bad;
	uint8_t want[2000];
	unsigned errors;

	(void)state;
	au_attach();
	fe_init(&a, DOM_A, 0);
	fe_init(&b, DOM_B, 0);
	connect_vif(&a);
	connect_vif(&b);
	before = fake_gnt_stats();
	tx_frame(&a, 0, OUT_MAC, a.mac, 1500, 1, 1, NULL);
	tx_frame(&a, 0, OUT_MAC, a.mac, 3000, 2, 2, NULL);
	tx_frame(&b, 0, OUT_MAC, b.mac, 200, 1, 3, NULL);
	tx_frame(&b, 0, OUT_MAC, b.mac, 2000, 2, 4, want);
	tx_push(&a, 0);
	tx_push(&b, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 4);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
	assert_int_equal(fake_gnt_stats().pages_mapped - before.pages_mapped, 6);
	assert_int_equal(AU.u.stats.tx_maps, 1);
	assert_int_equal(AU.u.stats.tx_map_pages, 6);
	assert_int_equal(AU.last_len, 2000);
	assert_memory_equal(AU.last, want, 2000);
	/* Nothing answered until the device is done with the whole batch. */
	assert_int_equal(find_vif(&a)->queues[0].tx_inflight, 2);
	au_complete_all();
	tx_expect(&a, 0, 3, NETIF_RSP_OKAY);
	tx_expect(&b, 0, 3, NETIF_RSP_OKAY);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);

	/* A frame naming a grant that is gone, in the same pass as a good one. */
	memset(&bad, 0, sizeof(bad));
	bad.refs = 1;
	bad.release = (void (*)(struct sw_buf *))abort;
	bad.len = 300;
	bad.nr_frags = 1;
	bad.frag[0] = (struct sw_frag){ .domid = DOM_A, .gref = 4000, .len = 300 };
	memcpy(bad.hdr, OUT_MAC, 6);
	memcpy(bad.hdr + 6, a.mac, 6);
	bad.hdr_len = SW_HDR_MAX;
	errors = (unsigned)AU.u.stats.tx_errors;
	before = fake_gnt_stats();
	tx_frame(&b, 0, OUT_MAC, b.mac, 2000, 2, 5, want);
	tx_push(&b, 0);
	sw_input(vif_switch(), &T.port, &bad);
	/* Flooded: the uplink waits for the pass's map, two guests' backlogs
	 * hold it until their end-of-pass copy (which fails on the bad grant). */
	assert_int_equal(bad.refs, 4);
	run_for(30);
	assert_int_equal(bad.refs, 1);
	assert_int_equal(AU.u.stats.tx_errors - errors, 1);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.last_len, 2000);
	assert_memory_equal(AU.last, want, 2000);
	/* The batch's call, then the good frame's own. */
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 2);
	au_complete_all();
	tx_expect(&b, 0, 2, NETIF_RSP_OKAY);
}

/* A frame no longer than the header copy (a TCP ACK) reaches an uplink
 * that needs no registration unmapped, from a copy of that copy, and its
 * slot is answered at once; one that needs registering (kshim) gets it
 * mapped with the pass's other frames. */
static void test_uplink_small_frame(void **state)
{
	static const struct net_uplink_ops reg_ops = {
		.tx_async = au_tx_async, .rx_release = au_rx_release, .close = au_close,
		.mem_register = au_mem_register, .mem_unregister = au_mem_unregister,
	};
	struct vfe f;
	struct fake_gnt_stats before;
	uint8_t want[SW_HDR_MAX];

	(void)state;
	au_attach();
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	before = fake_gnt_stats();
	tx_frame(&f, 0, OUT_MAC, f.mac, SW_HDR_MAX, 1, 1, want);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(AU.nheld, 1);          /* the uplink still has it... */
	assert_int_equal(AU.last_len, SW_HDR_MAX);
	assert_memory_equal(AU.last, want, SW_HDR_MAX);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 0);
	assert_int_equal(AU.u.stats.copies, SW_HDR_MAX);
	au_complete_all();                      /* ...in memory of its own */
	/* With registration: mapped, registered once, answered when done. */
	sw_uplink_detach(vif_switch());
	au_attach();
	AU.u.ops = &reg_ops;
	before = fake_gnt_stats();
	tx_frame(&f, 0, OUT_MAC, f.mac, 60, 1, 2, want);
	tx_push(&f, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.regs, 1);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
	assert_int_equal(tx_unconsumed(&f, 0), 0);
	assert_int_equal(find_vif(&f)->queues[0].tx_inflight, 1);
	au_complete_all();
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(AU.regs, 0);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
}

/* A frame in several device buffers reaches the guest whole, in one copy
 * call, and the buffers go back to the uplink afterwards. */
static void test_async_uplink_rx_frags(void **state)
{
	struct vfe f;
	unsigned pages[4];
	struct netif_rx_response r[2];
	uint8_t want[6000];
	size_t sz[3] = { 4084, 1900, 16 };
	unsigned n = 0;

	(void)state;
	au_attach();
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	rx_post(&f, 0, 4, pages);
	run_for(5);
	frame_fill(want, 6000, f.mac, OUT_MAC, 7);
	for (unsigned i = 0; i < 3; i++) {
		memcpy(AU.rdata[i], want + n, sz[i]);
		AU.rfrag[i] = (struct iovec){ .iov_base = AU.rdata[i], .iov_len = sz[i] };
		n += (unsigned)sz[i];
	}
	AU.rb = (struct net_uplink_buf){ .len = n, .nr_frags = 3, .frag = AU.rfrag };
	AU.u.rx(&AU.u, &AU.rb);
	rx_wait(&f, 0, 2);
	r[0] = rx_pop(&f, 0);
	r[1] = rx_pop(&f, 0);
	assert_int_equal(r[0].status, 4096);
	assert_int_equal(r[1].status, 6000 - 4096);
	assert_memory_equal(fake_guest_page(pages[0]), want, 4096);
	assert_memory_equal(fake_guest_page(pages[1]), want + 4096, 6000 - 4096);
	assert_int_equal(AU.rx_released, 1);
}

static void test_tap_header_translation(void **state)
{
	struct virtio_net_hdr h;
	struct net_meta m = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV6, .gso_size = 1440,
			      .csum_blank = true, .csum_start = 54, .csum_offset = 16, .hdr_len = 74 };
	struct net_meta back;

	(void)state;
	vnet_hdr_from_meta(&m, &h);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(h.gso_size, 1440);
	assert_int_equal(h.csum_start, 54);
	assert_int_equal(h.csum_offset, 16);
	assert_int_equal(h.hdr_len, 74);
	assert_int_equal(vnet_meta_from_hdr(&h, &back), 0);
	assert_true(back.csum_blank);
	assert_int_equal(back.gso_type, XEN_NETIF_GSO_TYPE_TCPV6);
	assert_int_equal(back.gso_size, 1440);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(vnet_meta_from_hdr(&h, &back), 0);
	assert_int_equal(back.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(vnet_meta_from_hdr(&h, &back), -1);
	m = (struct net_meta){ .data_validated = true };
	vnet_hdr_from_meta(&m, &h);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

static void test_stats_render(void **state)
{
	struct vfe f;
	char *out = NULL;
	size_t len = 0;
	FILE *m;

	(void)state;
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	m = open_memstream(&out, &len);
	vif_render(m, true, false);
	fclose(m);
	assert_non_null(strstr(out, "\"name\":\"vif5.0\""));
	assert_non_null(strstr(out, "\"tx_packets\":1"));
	assert_non_null(strstr(out, "\"state\":\"Connected\""));
	free(out);
	m = open_memstream(&out, &len);
	vif_render(m, false, false);
	vif_render_fdb(m, false);
	fclose(m);
	assert_non_null(strstr(out, "vif 5/0"));
	assert_non_null(strstr(out, "00:16:3e:00:05:00  vif5.0"));
	free(out);
}

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TC(f, conf) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)conf)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_handshake),
		T_(test_refuses_without_rx_copy),
		T_(test_tx_to_uplink),
		T_(test_rx_from_uplink),
		T_(test_guest_to_guest_one_copy),
		T_(test_multiqueue_split),
		T_(test_tx_slot_limits),
		T_(test_fatal_then_reconnect),
		T_(test_bad_grants),
		T_(test_producer_past_ring),
		T_(test_ctrl_ring),
		T_(test_no_rx_buffers_bounded),
		T_(test_guest_frame_waits_in_dom0),
		T_(test_mac_spoof),
		TC(test_mac_spoof_allowed, "allow-mac-spoof = yes\n"),
		T_(test_multicast_control),
		T_(test_daemon_restart),
		T_(test_rate_limit),
		T_(test_tap_header_translation),
		T_(test_async_uplink_tx),
		T_(test_uplink_batch_map),
		T_(test_uplink_small_frame),
		T_(test_async_uplink_rx_frags),
		T_(test_stats_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
