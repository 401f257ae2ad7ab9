/*
 * vif_harness.c - the shared fixture of the vif tests (vif_harness.h).
 *
 * The real vif.c, vif_ring.c, vif_rx.c, switch.c and uring.c run on a
 * libev loop; fake_xen.c plays the hypervisor (grants over a memfd, grant
 * copy validated like Xen's, event channels, xenstore with watches).  The
 * test plays the toolstack (backend/frontend nodes as libxl writes them),
 * netfront (rings, buffers, packets, with xen/io/ring.h's macros) and, as a
 * port of the switch, the outside world (an uplink that records what it
 * gets and injects frames from dom0 memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "uring.h"
#include "vif_harness.h"

const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t OUT_MAC[6] = { 0x02, 0, 0, 0, 0, 0x99 };

/* --- the fixture ---------------------------------------------------------------- */

struct vif_test T;

bool run_until(bool (*cond)(const void *), const void *arg)
{
	return test_run_until(&T.tl, cond, arg, TIMEOUT_MS);
}

void run_for(int ms)
{
	test_run_for(&T.tl, ms);
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

int setup(void **state)
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
	test_loop_start(&T.tl, T.loop, T.xen, vif_xs_event, vif_evtchn_event, TIMEOUT_MS);
	assert_int_equal(vif_init(T.loop, T.xen, &T.cfg), 0);
	T.rec = calloc(1, sizeof(*T.rec));
	T.port.ops = &port_ops;
	snprintf(T.port.name, sizeof(T.port.name), "test");
	sw_port_add(vif_switch(), &T.port);
	T.next_remote = 10;
	return 0;
}

int teardown(void **state)
{
	struct fake_gnt_stats gs;
	unsigned bound, bad;

	(void)state;
	sw_port_del(vif_switch(), &T.port);
	vif_shutdown();
	gs = fake_gnt_stats();
	bound = fake_evtchn_bound();
	bad = fake_evtchn_bad_calls();
	test_loop_stop(&T.tl);
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

/* --- netfront ----------------------------------------------------------------------- */

unsigned page_alloc(void)
{
	assert_true(T.next_page < FAKE_GUEST_PAGES);
	return T.next_page++;
}

void fe_init(struct vfe *f, uint32_t domid, uint32_t devid)
{
	memset(f, 0, sizeof(*f));
	f->domid = domid;
	f->devid = devid;
	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	snprintf(f->fe, sizeof(f->fe), "/local/domain/%u/device/vif/%u", domid, devid);
	memcpy(f->mac, (uint8_t[]){ 0x00, 0x16, 0x3e, 0, (uint8_t)domid, (uint8_t)devid }, 6);
	f->nq = 1;
}

void toolstack_add(const struct vfe *f)
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
void fe_connect(struct vfe *f)
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
	xs_writef(t, f->fe, "feature-gso-tcpv4", "%u", f->no_gso ? 0u : 1u);
	xs_writef(t, f->fe, "feature-gso-tcpv6", "%u", f->no_gso ? 0u : 1u);
	xs_writef(t, f->fe, "feature-ipv6-csum-offload", "1");
	xs_writef(t, f->fe, "request-multicast-control", "%u", f->mcast_ctrl ? 1u : 0u);
	xs_writef(t, f->fe, "state", "4");
	assert_true(bl_xs_end(T.xen, t, false));
}

void fe_find_ports(struct vfe *f)
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

void connect_vif(struct vfe *f)
{
	toolstack_add(f);
	wait_state(f->be, XenbusStateInitWait);
	fe_connect(f);
	wait_state(f->be, XenbusStateConnected);
	fe_find_ports(f);
}

struct vif *find_vif(const struct vfe *f)
{
	for (struct vif *v = vif_list(); v; v = vif_next(v))
		if (v->xb.domid == f->domid && v->xb.devid == f->devid)
			return v;
	return NULL;
}

struct vif *vif_up(struct vfe *f, uint32_t domid)
{
	fe_init(f, domid, 0);
	connect_vif(f);
	return find_vif(f);
}

/* One TX request as netfront writes it. */
void tx_req(struct vfe *f, unsigned qi, grant_ref_t gref, uint16_t off, uint16_t flags,
	    uint16_t size, uint16_t *id)
{
	struct vq *q = &f->q[qi];
	struct netif_tx_request *r = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);

	*id = q->next_id++;
	*r = (struct netif_tx_request){ .gref = gref, .offset = off, .flags = flags,
					.id = *id, .size = size };
}

void tx_extra(struct vfe *f, unsigned qi, const struct netif_extra_info *x)
{
	struct vq *q = &f->q[qi];

	memcpy(RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++), x, sizeof(*x));
}

void tx_push(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		fake_evtchn_kick((evtchn_port_t)q->ltx);
}

/* A frame dst <- src of len bytes filled with seed's pattern, in guest
 * pages of its own, split over nslots slots (at offset 100 in each). */
void frame_fill(uint8_t *p, unsigned len, const uint8_t *dst, const uint8_t *src,
		uint8_t seed)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = 0x88;
	p[13] = 0xb5; /* local experimental ethertype */
}

unsigned tx_frame(struct vfe *f, unsigned qi, const uint8_t *dst, const uint8_t *src,
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

unsigned tx_unconsumed(struct vfe *f, unsigned qi)
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

unsigned rx_unconsumed(struct vfe *f, unsigned qi)
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

void tx_wait(struct vfe *f, unsigned qi, unsigned n)
{
	struct rc c = { f, qi, n, false };

	run_until(have_rsp, &c);
	assert_int_equal(tx_unconsumed(f, qi), n);
}

struct netif_tx_response tx_pop(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];

	return *RING_GET_RESPONSE(&q->tx, q->tx.rsp_cons++);
}

/* n TX responses, all with status st. */
void tx_expect(struct vfe *f, unsigned qi, unsigned n, int16_t st)
{
	tx_wait(f, qi, n);
	for (unsigned i = 0; i < n; i++) {
		struct netif_tx_response r = tx_pop(f, qi);

		if (r.status != NETIF_RSP_NULL)
			assert_int_equal(r.status, st);
	}
}

/* Post n RX buffers (fresh writable pages); their pages in pages[]. */
void rx_post(struct vfe *f, unsigned qi, unsigned n, unsigned *pages)
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

void rx_wait(struct vfe *f, unsigned qi, unsigned n)
{
	struct rc c = { f, qi, n, true };

	run_until(have_rsp, &c);
	assert_int_equal(rx_unconsumed(f, qi), n);
}

struct netif_rx_response rx_pop(struct vfe *f, unsigned qi)
{
	struct vq *q = &f->q[qi];

	return *RING_GET_RESPONSE(&q->rx, q->rx.rsp_cons++);
}

/* f sends a broadcast from its MAC so that the switch learns where it is;
 * its slot is answered. */
void announce(struct vfe *f)
{
	tx_frame(f, 0, BCAST, f->mac, 60, 1, 1, NULL);
	tx_push(f, 0);
	tx_expect(f, 0, 1, NETIF_RSP_OKAY);
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

void inject(const uint8_t *dst, unsigned len, uint8_t seed, const struct net_meta *m,
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
void gone_frame(struct sw_buf *b, const uint8_t *dst, const uint8_t *src, unsigned len)
{
	memset(b, 0, sizeof(*b));
	b->refs = 1;
	b->release = (void (*)(struct sw_buf *))abort;
	b->len = len;
	b->nr_frags = 1;
	b->frag[0] = (struct sw_frag){ .domid = DOM_A, .gref = 4000, .len = len };
	memcpy(b->hdr, dst, 6);
	memcpy(b->hdr + 6, src, 6);
	b->hdr_len = SW_HDR_MAX;
}

void inject_ip(const uint8_t *dst, uint8_t src)
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

void reconnect(struct vfe *f)
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

/* --- an asynchronous uplink (kshim-net's contract) ------------------------------------ */

struct vif_au AU;

int au_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
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

void au_rx_release(struct net_uplink *u, struct net_uplink_buf *b)
{
	(void)u;
	assert_ptr_equal(b, &AU.rb);
	AU.rx_released++;
}

void au_complete_all(void)
{
	while (AU.nheld)
		AU.u.tx_done(&AU.u, AU.held[--AU.nheld], 0);
}

void au_close(struct net_uplink *u)
{
	(void)u;
	AU.closed++;
	au_complete_all();
}

int au_mem_register(struct net_uplink *u, void *addr, size_t len)
{
	(void)u, (void)addr, (void)len;
	AU.regs++;
	return 0;
}

void au_mem_unregister(struct net_uplink *u, void *addr, size_t len)
{
	(void)u, (void)addr, (void)len;
	AU.regs--;
}

static const struct net_uplink_ops au_ops = {
	.tx_async = au_tx_async, .rx_release = au_rx_release, .close = au_close,
};

void au_attach(void)
{
	memset(&AU, 0, sizeof(AU));
	AU.u.ops = &au_ops;
	AU.u.kind = "fake";
	snprintf(AU.u.name, sizeof(AU.u.name), "async");
	sw_uplink_attach(vif_switch(), &AU.u);
}

void au_attach_ops(const struct net_uplink_ops *ops)
{
	au_attach();
	AU.u.ops = ops;
}
