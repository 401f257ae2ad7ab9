/*
 * test_vif.c - blanketd's network backend, end to end, without Xen: the
 * xenbus handshake, multi-queue, hostile frontends (netback's rules),
 * the control ring, bounded backlogs, the switch's MAC and multicast
 * rules, restart, the rate limit, stats.  The fixture is vif_harness.c;
 * the uplink side is test_vif_uplink.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vif_harness.h"

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

/* Publishing Connected fails (xenstored busy beyond our retries): the next
 * frontend event publishes it, without a second set of rings or ports. */
static void test_publish_failure_does_not_reconnect(void **state)
{
	struct vfe f;
	uint64_t maps;

	(void)state;
	fe_init(&f, DOM_A, 0);
	toolstack_add(&f);
	wait_state(f.be, XenbusStateInitWait);
	fe_connect(&f);
	fake_xs_fail_commits(32);
	run_for(20);
	/* (netfront's several nodes may have fired a second event already) */
	maps = fake_gnt_stats().outstanding;
	assert_int_equal(fake_evtchn_bound(), 1);
	xs_writef(0, f.fe, "state", "4");
	wait_state(f.be, XenbusStateConnected);
	assert_int_equal(fake_gnt_stats().outstanding, maps);
	assert_int_equal(fake_evtchn_bound(), 1);
	assert_true(find_vif(&f)->connected);
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
	v = vif_up(&f, DOM_A);
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

static void test_fatal_then_reconnect(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	v = vif_up(&f, DOM_A);
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
	v = vif_up(&f, DOM_A);
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
	announce(&b);
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
	gone_frame(&bad, b.mac, OUT_MAC, 500);
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

/* One guest's frame to another: the sender's TX answer and the receiver's
 * RX packet are announced together, in one batch of notifications at the
 * end of the pass (notify.h). */
static void test_notify_batch(void **state)
{
	struct vfe a, b;
	unsigned calls, na, nb;

	(void)state;
	fe_init(&a, DOM_A, 0);
	fe_init(&b, DOM_B, 0);
	connect_vif(&a);
	connect_vif(&b);
	rx_post(&b, 0, 4, NULL);
	announce(&b);
	run_for(5);
	calls = fake_evtchn_notify_calls();
	na = fake_evtchn_notifies((evtchn_port_t)a.q[0].ltx);
	nb = fake_evtchn_notifies((evtchn_port_t)b.q[0].ltx);
	tx_frame(&a, 0, b.mac, a.mac, 100, 1, 3, NULL);
	tx_push(&a, 0);
	rx_wait(&b, 0, 1);
	tx_expect(&a, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(fake_evtchn_notifies((evtchn_port_t)a.q[0].ltx), na + 1);
	assert_int_equal(fake_evtchn_notifies((evtchn_port_t)b.q[0].ltx), nb + 1);
	assert_int_equal(fake_evtchn_notify_calls(), calls + 1);
}

static void test_mac_spoof(void **state)
{
	struct vfe f;
	struct vif *v;
	const uint8_t other[6] = { 0x00, 0x16, 0x3e, 0x77, 0x77, 0x77 };

	(void)state;
	v = vif_up(&f, DOM_A);
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

/* Each queue's indexes and unanswered TX packets live in one memfd-backed mapping (what a
 * restart would hand to systemd's fd store): a second mapping of the fd sees them move, and a
 * packet the uplink still holds is there with its slot's id until it is answered. */
static void test_queue_state_in_memfd(void **state)
{
	struct vfe f;
	struct vif_queue *q;
	const struct vif_queue_state *seen;
	struct stat sb;

	(void)state;
	au_attach();
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	q = &find_vif(&f)->queues[0];
	assert_non_null(q->st);
	assert_int_equal(fstat(q->st_fd, &sb), 0);
	assert_true((size_t)sb.st_size >= q->st_len);
	seen = mmap(NULL, q->st_len, PROT_READ, MAP_SHARED, q->st_fd, 0);
	assert_true(seen != MAP_FAILED);
	assert_int_equal(seen->tx_size, q->tx_size);
	assert_int_equal(seen->rx_size, q->rx_size);
	tx_frame(&f, 0, OUT_MAC, f.mac, 300, 2, 1, NULL);
	tx_push(&f, 0);
	run_for(10);
	/* read and held by the uplink: consumed, not answered */
	assert_int_equal(seen->tx_cons, 2);
	assert_int_equal(seen->tx_rsp_pvt, 0);
	assert_int_equal(seen->tx_inflight, 1);
	{
		unsigned held = 0;

		for (unsigned i = 0; i < seen->tx_size; i++)
			if (seen->tx_pkt[i].nr_slots == 2 && seen->tx_pkt[i].len == 300)
				held++;
		assert_int_equal(held, 1);
	}
	au_complete_all();
	tx_expect(&f, 0, 2, NETIF_RSP_OKAY);
	assert_int_equal(seen->tx_rsp_pvt, 2);
	assert_int_equal(seen->tx_inflight, 0);
	munmap((void *)seen, q->st_len);
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

/* A TX notification lost on the way (the guest pushes, we never hear of
 * it): the watchdog serves the requests within two ticks and counts them;
 * a ring served normally never trips it. */
static void test_tx_watchdog(void **state)
{
	struct vfe f;
	struct vif *v;

	(void)state;
	v = vif_up(&f, DOM_A);
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 1, NULL);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	run_for(2200);
	assert_int_equal(v->queues[0].stats.missed_events, 0);
	tx_frame(&f, 0, OUT_MAC, f.mac, 100, 1, 2, NULL);
	RING_PUSH_REQUESTS(&f.q[0].tx);   /* and no event */
	run_for(200);
	assert_int_equal(f.q[0].tx.sring->req_prod - v->queues[0].st->tx_cons, 1);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(v->queues[0].stats.missed_events, 1);
	assert_int_equal(T.got, 2);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_handshake),
		T_(test_publish_failure_does_not_reconnect),
		T_(test_refuses_without_rx_copy),
		T_(test_multiqueue_split),
		T_(test_tx_slot_limits),
		T_(test_fatal_then_reconnect),
		T_(test_bad_grants),
		T_(test_producer_past_ring),
		T_(test_ctrl_ring),
		T_(test_no_rx_buffers_bounded),
		T_(test_guest_frame_waits_in_dom0),
		T_(test_notify_batch),
		T_(test_mac_spoof),
		TC(test_mac_spoof_allowed, "allow-mac-spoof = yes\n"),
		T_(test_multicast_control),
		T_(test_queue_state_in_memfd),
		T_(test_daemon_restart),
		T_(test_rate_limit),
		T_(test_tx_watchdog),
		T_(test_stats_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
