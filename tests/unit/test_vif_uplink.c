/*
 * test_vif_uplink.c - the vif backend's way in and out of dom0, without
 * Xen: frames to and from an uplink port, guest to guest in one grant
 * copy, the asynchronous uplink contract (kshim-net's): one grant map
 * call per pass for the frames of every guest, small frames from the
 * header copy, TX answered only when the uplink is done; the virtio-net
 * header translation; frames an uplink takes as copies; which
 * destinations take coalesced frames.  The fixture is vif_harness.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "vif_harness.h"
#include "vnet_hdr.h"

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

/* A frame in memory granted to ourselves (the TAP's and kshim-net's receive
 * buffers): the copies name it by grant, each end inside one page, though
 * the frame starts 10 bytes into its first page as the TAP's do. */
static void test_rx_from_self_pages(void **state)
{
	struct vfe f;
	uint8_t want[9000];
	unsigned pages[4];
	struct netif_rx_response r[2];
	struct bl_self_pages mem;
	struct fake_gnt_stats before;
	const size_t hdr = 10, len = 6000;

	(void)state;
	fake_self_grants(true);
	assert_int_equal(bl_self_pages_alloc(T.xen, 17, &mem), 0);
	assert_non_null(mem.refs);
	au_attach();
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	rx_post(&f, 0, 4, pages);
	run_for(5);
	frame_fill(want, len, f.mac, OUT_MAC, 11);
	memcpy(mem.addr + hdr, want, len);
	before = fake_gnt_stats();
	AU.rb = (struct net_uplink_buf){ .data = mem.addr + hdr, .len = len, .self = &mem };
	AU.u.rx(&AU.u, &AU.rb);
	rx_wait(&f, 0, 2);
	r[0] = rx_pop(&f, 0);
	r[1] = rx_pop(&f, 0);
	assert_int_equal(r[0].status, 4096);
	assert_int_equal(r[1].status, len - 4096);
	assert_memory_equal(fake_guest_page(pages[0]), want, 4096);
	assert_memory_equal(fake_guest_page(pages[1]), want + 4096, len - 4096);
	/* grant to grant only, none failed: three segments, as the source's
	 * pages cut the first destination page in two */
	assert_int_equal(fake_gnt_stats().copy_errors - before.copy_errors, 0);
	assert_int_equal(fake_gnt_stats().copy_segs - before.copy_segs, 3);
	assert_int_equal(fake_gnt_stats().copy_foreign_both - before.copy_foreign_both, 3);
	assert_int_equal(AU.rx_released, 1);
	fake_self_grants(false);
	bl_self_pages_free(T.xen, &mem);
}

/* Frames from the uplink that wait for a guest's buffers stay in the
 * uplink's buffers while it can spare them (rx_hold_max); only the rest
 * are copied out (bounced) and handed back.  All arrive, in order. */
static unsigned hold_released;

static void hold_rx_release(struct net_uplink *u, struct net_uplink_buf *b)
{
	(void)u, (void)b;
	hold_released++;
}

static void test_rx_waits_in_uplink_buffers(void **state)
{
	static const struct net_uplink_ops ops = {
		.tx_async = au_tx_async, .rx_release = hold_rx_release, .close = au_close,
	};
	static uint8_t data[12][200];
	struct net_uplink_buf rb[12];
	unsigned pages[12];
	struct vfe f;
	struct vif *v;

	(void)state;
	hold_released = 0;
	au_attach_ops(&ops);
	AU.u.rx_hold_max = 8;
	v = vif_up(&f, DOM_A);
	for (unsigned i = 0; i < 12; i++) {
		frame_fill(data[i], sizeof(data[i]), f.mac, OUT_MAC, (uint8_t)i);
		rb[i] = (struct net_uplink_buf){ .data = data[i], .len = sizeof(data[i]) };
		AU.u.rx(&AU.u, &rb[i]);
	}
	run_for(10);
	assert_int_equal(v->queues[0].bl_len, 12);
	assert_int_equal(v->queues[0].stats.rx_bounced, 4);
	assert_int_equal(hold_released, 4);
	assert_int_equal(AU.u.rx_out, 8);
	rx_post(&f, 0, 12, pages);
	rx_wait(&f, 0, 12);
	assert_int_equal(hold_released, 12);
	assert_int_equal(AU.u.rx_out, 0);
	assert_int_equal(v->queues[0].stats.rx_bounced, 4);
	for (unsigned i = 0; i < 12; i++) {
		struct netif_rx_response r = rx_pop(&f, 0);

		assert_int_equal(r.status, sizeof(data[i]));
		assert_int_equal(((uint8_t *)fake_guest_page(pages[i]))[14], (uint8_t)(i + 14 * 7));
	}
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
	announce(&b);
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
	assert_int_equal(v->queues[0].st->tx_inflight, 1);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding + 1);
	au_complete_all();
	tx_expect(&f, 0, 2, NETIF_RSP_OKAY);
	assert_int_equal(v->queues[0].st->tx_inflight, 0);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
	/* A queue closing takes its frames back from the uplink: answered at
	 * once; the mapping (which the device may still read) goes at the
	 * uplink's tx_done. */
	tx_frame(&f, 0, OUT_MAC, f.mac, 300, 1, 2, NULL);
	tx_push(&f, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 1);
	reconnect(&f);
	assert_int_equal(v->queues[0].st->tx_inflight, 0);
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
	assert_int_equal(find_vif(&a)->queues[0].st->tx_inflight, 2);
	au_complete_all();
	tx_expect(&a, 0, 3, NETIF_RSP_OKAY);
	tx_expect(&b, 0, 3, NETIF_RSP_OKAY);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);

	/* A frame naming a grant that is gone, in the same pass as a good one. */
	gone_frame(&bad, OUT_MAC, a.mac, 300);
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
 * slot is answered at once; one that needs registering gets it mapped
 * with the pass's other frames, unless it copies frames that small itself
 * (kshim-net: tx_copy_max). */
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
	au_attach_ops(&reg_ops);
	before = fake_gnt_stats();
	tx_frame(&f, 0, OUT_MAC, f.mac, 60, 1, 2, want);
	tx_push(&f, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.regs, 1);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
	assert_int_equal(tx_unconsumed(&f, 0), 0);
	assert_int_equal(find_vif(&f)->queues[0].st->tx_inflight, 1);
	au_complete_all();
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(AU.regs, 0);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
	/* Registration, but the uplink copies frames that small itself
	 * (tx_copy_max, kshim-net): from the header copy again, answered at
	 * once, nothing mapped or registered; one byte over, mapped. */
	sw_uplink_detach(vif_switch());
	au_attach_ops(&reg_ops);
	AU.u.tx_copy_max = 60;
	before = fake_gnt_stats();
	tx_frame(&f, 0, OUT_MAC, f.mac, 60, 1, 3, want);
	tx_push(&f, 0);
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.last_len, 60);
	assert_memory_equal(AU.last, want, 60);
	assert_int_equal(AU.regs, 0);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 0);
	au_complete_all();
	tx_frame(&f, 0, OUT_MAC, f.mac, 61, 1, 4, want);
	tx_push(&f, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.regs, 1);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
	au_complete_all();
	tx_expect(&f, 0, 1, NETIF_RSP_OKAY);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
}

/* An uplink that maps the guests' pages itself (tx_map: kshim-net's
 * KSHIM_IOC_MAP_GRANTS): the owner neither maps nor registers, the
 * frame's iovecs name the uplink's pages, and the sender is answered only
 * after tx_unmap; a tx_map that fails leaves the mapping to the owner. */
static struct {
	uint8_t *base;
	unsigned pages, maps, unmaps;
	bool refuse;
} TM;

static void *tm_map(struct net_uplink *u, unsigned n, const uint32_t *domids,
		    const uint32_t *refs)
{
	(void)u;
	if (TM.refuse) {
		errno = EACCES;
		return NULL;
	}
	TM.base = aligned_alloc(4096, (size_t)n * 4096);
	assert_non_null(TM.base);
	for (unsigned i = 0; i < n; i++) {
		const void *p = fake_gnt_page(domids[i], refs[i]);

		assert_non_null(p);
		memcpy(TM.base + (size_t)i * 4096, p, 4096);
	}
	TM.pages = n;
	TM.maps++;
	return TM.base;
}

static void tm_unmap(struct net_uplink *u, void *addr, unsigned n)
{
	(void)u;
	assert_ptr_equal(addr, TM.base);
	assert_int_equal(n, TM.pages);
	free(addr);
	TM.unmaps++;
}

static void test_uplink_tx_map(void **state)
{
	static const struct net_uplink_ops tm_ops = {
		.tx_async = au_tx_async, .rx_release = au_rx_release, .close = au_close,
		.mem_register = au_mem_register, .mem_unregister = au_mem_unregister,
		.tx_map = tm_map, .tx_unmap = tm_unmap,
	};
	struct fake_gnt_stats before;
	uint8_t want[3000];
	struct vfe f;

	(void)state;
	memset(&TM, 0, sizeof(TM));
	au_attach_ops(&tm_ops);
	fe_init(&f, DOM_A, 0);
	connect_vif(&f);
	before = fake_gnt_stats();
	tx_frame(&f, 0, OUT_MAC, f.mac, 3000, 2, 5, want);
	tx_push(&f, 0);
	run_for(30);
	assert_int_equal(TM.maps, 1);
	assert_int_equal(TM.pages, 2);
	assert_int_equal(AU.u.stats.tx_uplink_maps, 1);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.last_len, 3000);
	assert_memory_equal(AU.last, want, 3000);
	assert_int_equal(AU.regs, 0);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 0);
	assert_int_equal(tx_unconsumed(&f, 0), 0);
	assert_int_equal(find_vif(&f)->queues[0].st->tx_inflight, 1);
	au_complete_all();
	assert_int_equal(TM.unmaps, 1);
	tx_expect(&f, 0, 2, NETIF_RSP_OKAY);
	/* Refused: the owner's own map and registration, as without tx_map. */
	TM.refuse = true;
	tx_frame(&f, 0, OUT_MAC, f.mac, 3000, 2, 6, want);
	tx_push(&f, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 1);
	assert_memory_equal(AU.last, want, 3000);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
	assert_int_equal(AU.regs, 1);
	au_complete_all();
	tx_expect(&f, 0, 2, NETIF_RSP_OKAY);
	assert_int_equal(AU.regs, 0);
	assert_int_equal(TM.unmaps, 1);
	assert_int_equal(AU.u.stats.tx_uplink_maps, 1);
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

/* Copy buffers of the fake uplink: two, for frames of 1000 bytes or more. */
static uint8_t copy_buf[2][4096 * NET_UPLINK_COPY_PAGES] __attribute__((aligned(4096)));
static bool copy_used[2];
static unsigned copy_puts;

static void *cb_tx_buffer(struct net_uplink *u, size_t len, const struct net_meta *m)
{
	(void)u, (void)m;
	for (unsigned i = 0; i < 2; i++)
		if (len >= 1000 && len <= sizeof(copy_buf[i]) && !copy_used[i]) {
			copy_used[i] = true;
			return copy_buf[i];
		}
	return NULL;
}

static void cb_tx_buffer_put(struct net_uplink *u, void *buf)
{
	(void)u;
	copy_used[(uint8_t (*)[sizeof(copy_buf[0])])buf - copy_buf] = false;
	copy_puts++;
}

/* An uplink that would rather take frames as copies of its own (kshim-net for a NIC without
 * TSO) gets them by ONE grant copy call for the pass, nothing mapped, and the senders' slots are
 * answered at once; the first frame it does not want, and every one after it (order is kept),
 * goes mapped as before; a grant revoked after the sender's check costs only its frame. */
static void test_uplink_copy_buffers(void **state)
{
	static const struct net_uplink_ops copy_ops = {
		.tx_async = au_tx_async, .rx_release = au_rx_release, .close = au_close,
		.tx_buffer = cb_tx_buffer, .tx_buffer_put = cb_tx_buffer_put,
	};
	struct vfe a;
	struct fake_gnt_stats before;
	uint8_t want[3000];
	struct sw_buf bad;
	unsigned errors;

	(void)state;
	au_attach_ops(&copy_ops);
	memset(copy_used, 0, sizeof(copy_used));
	copy_puts = 0;
	fe_init(&a, DOM_A, 0);
	connect_vif(&a);
	before = fake_gnt_stats();
	tx_frame(&a, 0, OUT_MAC, a.mac, 3000, 2, 1, want);
	tx_push(&a, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 1);
	assert_int_equal(AU.last_len, 3000);
	assert_memory_equal(AU.last, want, 3000);
	/* each slot's bytes in a page of its own, at the slot's offset: one segment each */
	assert_memory_equal(copy_buf[0] + 100, want, 1500);
	assert_memory_equal(copy_buf[0] + 4096 + 100, want + 1500, 1500);
	/* the TX header copy, then the uplink's copy; answered before the device is done */
	assert_int_equal(fake_gnt_stats().copy_calls - before.copy_calls, 2);
	assert_int_equal(fake_gnt_stats().copy_segs - before.copy_segs, 2 + 2);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 0);
	tx_expect(&a, 0, 2, NETIF_RSP_OKAY);
	assert_int_equal(AU.u.stats.copies, 3000);
	assert_int_equal(fake_gnt_stats().outstanding, before.outstanding);
	au_complete_all();
	copy_used[0] = false;           /* the device is done with it */

	/* A 1500-byte frame (copied), a 300-byte one (not wanted: mapped), then a 2000-byte one
	 * (mapped too, after the refused one) */
	before = fake_gnt_stats();
	tx_frame(&a, 0, OUT_MAC, a.mac, 1500, 1, 2, NULL);
	tx_frame(&a, 0, OUT_MAC, a.mac, 300, 1, 3, NULL);
	tx_frame(&a, 0, OUT_MAC, a.mac, 2000, 2, 4, want);
	tx_push(&a, 0);
	run_for(30);
	assert_int_equal(AU.nheld, 3);
	assert_int_equal(AU.last_len, 2000);
	assert_memory_equal(AU.last, want, 2000);
	assert_true(copy_used[0] && !copy_used[1]);
	assert_int_equal(fake_gnt_stats().map_calls - before.map_calls, 1);
	assert_int_equal(fake_gnt_stats().pages_mapped - before.pages_mapped, 3);
	tx_expect(&a, 0, 1, NETIF_RSP_OKAY);      /* the copied one only */
	assert_int_equal(find_vif(&a)->queues[0].st->tx_inflight, 2);
	au_complete_all();
	tx_expect(&a, 0, 3, NETIF_RSP_OKAY);
	copy_used[0] = false;

	/* A frame naming a grant that is gone: its buffer goes back, the frame is dropped. */
	gone_frame(&bad, OUT_MAC, a.mac, 1200);
	errors = (unsigned)AU.u.stats.tx_errors;
	sw_input(vif_switch(), &T.port, &bad);
	run_for(30);
	assert_int_equal(bad.refs, 1);
	assert_int_equal(AU.u.stats.tx_errors - errors, 1);
	assert_int_equal(copy_puts, 1);
	assert_false(copy_used[0] || copy_used[1]);
	assert_int_equal(AU.nheld, 0);
}

/* An uplink that coalesces received TCP segments (kshim-net, sw_gro.h) asks first whether the
 * destination takes GSO frames: only a known guest that negotiated GSO and the checksum offload
 * for that IP version does; not a multicast, an unknown MAC, or a guest without GSO. */
static void test_uplink_rx_gso_ok(void **state)
{
	static const uint8_t mcast[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const uint8_t unknown[6] = { 0x00, 0x16, 0x3e, 0x55, 0x55, 0x55 };
	struct vfe a, b;

	(void)state;
	au_attach();
	fe_init(&a, DOM_A, 0);
	fe_init(&b, DOM_B, 0);
	b.no_gso = true;
	connect_vif(&a);
	connect_vif(&b);
	rx_post(&a, 0, 4, NULL);
	rx_post(&b, 0, 4, NULL);
	run_for(5);
	assert_non_null(AU.u.rx_gso_ok);
	/* not learned yet */
	assert_false(AU.u.rx_gso_ok(&AU.u, a.mac, false));
	announce(&a);
	announce(&b);
	run_for(5);
	assert_true(AU.u.rx_gso_ok(&AU.u, a.mac, false));
	assert_true(AU.u.rx_gso_ok(&AU.u, a.mac, true));
	assert_false(AU.u.rx_gso_ok(&AU.u, b.mac, false));
	assert_false(AU.u.rx_gso_ok(&AU.u, b.mac, true));
	assert_false(AU.u.rx_gso_ok(&AU.u, unknown, false));
	assert_false(AU.u.rx_gso_ok(&AU.u, mcast, false));
	assert_false(AU.u.rx_gso_ok(&AU.u, BCAST, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_tx_to_uplink),
		T_(test_rx_from_uplink),
		T_(test_rx_from_self_pages),
		T_(test_rx_waits_in_uplink_buffers),
		T_(test_guest_to_guest_one_copy),
		T_(test_tap_header_translation),
		T_(test_async_uplink_tx),
		T_(test_uplink_batch_map),
		T_(test_uplink_small_frame),
		T_(test_uplink_tx_map),
		T_(test_async_uplink_rx_frags),
		T_(test_uplink_copy_buffers),
		T_(test_uplink_rx_gso_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
