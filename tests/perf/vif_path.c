/*
 * vif_path.c - blanketd's vif data path driven without Xen, for counting
 * its instructions per frame (tests/perf/instr.sh runs it under callgrind).
 *
 * On the test bed every CPU cycle is emulated, and the bed's figures move
 * by 20-30% from run to run; an instruction count does not move at all, so
 * it shows a change of a few percent in the userspace cost of a frame that
 * no throughput run could.  It counts only the userspace part: the
 * syscalls and the hypervisor's copies are what fake_xen.c stands in for.
 *
 * The real vif, switch and uplink port code on the vif test harness
 * (tests/unit/vif_harness.c): PASSES passes of 50 frames of 64 bytes,
 *   rx   from the uplink into a guest's posted buffers (dom0 -> guest),
 *   tx   from a guest's TX ring to the uplink, which takes them as copies
 *        as the TAP does (guest -> dom0),
 *   g2g  from one guest's TX ring into another's RX buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vif_harness.h"

#define BURST 50u
#define NCOPY 64u   /* the uplink's copy buffers, as the TAP's */

static uint8_t copy_bufs[NCOPY][NET_UPLINK_COPY_PAGES * 4096u];
static unsigned copy_free[NCOPY], ncopy_free;
static void *done_cookie[2 * BURST];
static unsigned done_copy[2 * BURST], ndone;

/* The copy buffer p is in, or NCOPY (a frame from the header copy). */
static unsigned copy_index(const void *p)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)copy_bufs;

	return a >= base && a < base + sizeof(copy_bufs) ?
	       (unsigned)((a - base) / sizeof(copy_bufs[0])) : NCOPY;
}

/* The uplink's side: copy buffers for guests' frames (the TAP's
 * tx_buffer), frames completed after each pass as the TAP's writes are. */
static void *up_buffer(struct net_uplink *u, size_t len, const struct net_meta *m)
{
	(void)u, (void)len, (void)m;
	return ncopy_free ? copy_bufs[copy_free[--ncopy_free]] : NULL;
}

static void up_buffer_put(struct net_uplink *u, void *b)
{
	(void)u;
	copy_free[ncopy_free++] = copy_index(b);
}

static int up_tx(struct net_uplink *u, const struct iovec *iov, unsigned n,
		 const struct net_meta *m, void *cookie)
{
	(void)u, (void)n, (void)m;
	if (ndone == 2 * BURST)
		abort();
	done_copy[ndone] = copy_index(iov[0].iov_base);
	done_cookie[ndone++] = cookie;
	return 0;
}

static void up_complete(void)
{
	for (unsigned i = 0; i < ndone; i++) {
		if (done_copy[i] < NCOPY)
			copy_free[ncopy_free++] = done_copy[i];
		AU.u.tx_done(&AU.u, done_cookie[i], 0);
	}
	ndone = 0;
}

static void up_rx_release(struct net_uplink *u, struct net_uplink_buf *b)
{
	(void)u, (void)b;
}

/* The same BURST buffers posted again (their grants stay). */
static void rx_repost(struct vfe *f, const unsigned *pages)
{
	struct vq *q = &f->q[0];
	int notify;

	for (unsigned i = 0; i < BURST; i++) {
		struct netif_rx_request *r = RING_GET_REQUEST(&q->rx, q->rx.req_prod_pvt);

		r->id = (uint16_t)(q->rx.req_prod_pvt & 0xffff);
		r->gref = GREF(pages[i]);
		q->rx.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
	if (notify)
		fake_evtchn_kick((evtchn_port_t)q->lrx);
}

static void rx_collect(struct vfe *f, const unsigned *pages)
{
	rx_wait(f, 0, BURST);
	for (unsigned i = 0; i < BURST; i++)
		if (rx_pop(f, 0).status != 64)
			abort();
	rx_repost(f, pages);
}

/* BURST TX pages of f holding 64-byte frames to dst. */
static void tx_pages(struct vfe *f, const uint8_t *dst, unsigned *pages)
{
	for (unsigned i = 0; i < BURST; i++) {
		pages[i] = page_alloc();
		fake_gnt_grant(f->domid, GREF(pages[i]), pages[i], false);
		frame_fill((uint8_t *)fake_guest_page(pages[i]) + 100, 64, dst, f->mac, (uint8_t)i);
	}
}

static void tx_burst(struct vfe *f, const unsigned *pages)
{
	uint16_t id;

	for (unsigned i = 0; i < BURST; i++)
		tx_req(f, 0, GREF(pages[i]), 100, 0, 64, &id);
	tx_push(f, 0);
}

static void tx_collect(struct vfe *f)
{
	tx_wait(f, 0, BURST);
	for (unsigned i = 0; i < BURST; i++)
		if (tx_pop(f, 0).status != NETIF_RSP_OKAY)
			abort();
}

int main(int argc, char **argv)
{
	static const struct net_uplink_ops ops = {
		.tx_async = up_tx, .rx_release = up_rx_release, .close = au_close,
		.tx_buffer = up_buffer, .tx_buffer_put = up_buffer_put,
	};
	static uint8_t data[BURST][64];
	const char *mode = argc > 1 ? argv[1] : "";
	bool rx = !strcmp(mode, "rx"), tx = !strcmp(mode, "tx");
	unsigned passes = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
	unsigned rx_pg[BURST], tx_pg[BURST];
	struct net_uplink_buf rb[BURST];
	void *state = "rx-backlog = 256\n";
	struct vfe a, b;

	if (!rx && !tx && strcmp(mode, "g2g")) {
		fprintf(stderr, "usage: vif_path rx|tx|g2g [PASSES]\n");
		return 2;
	}
	for (unsigned i = 0; i < NCOPY; i++)
		copy_free[ncopy_free++] = NCOPY - 1 - i;
	setup(&state);
	au_attach_ops(&ops);
	/* Both guests announce themselves, and a frame from dom0's MAC comes
	 * in: every destination is known, as on a running host. */
	vif_up(&a, DOM_A);
	announce(&a);
	vif_up(&b, DOM_B);
	announce(&b);
	up_complete();
	/* a's buffers: b's announcement (waiting in a's backlog), then dom0's */
	rx_post(&a, 0, 2, NULL);
	rx_post(&b, 0, 1, NULL);
	frame_fill(data[0], 64, BCAST, OUT_MAC, 0);
	rb[0] = (struct net_uplink_buf){ .data = data[0], .len = 64 };
	AU.u.rx(&AU.u, &rb[0]);
	rx_wait(&a, 0, 2);
	rx_pop(&a, 0);
	rx_pop(&a, 0);
	rx_wait(&b, 0, 1);
	rx_pop(&b, 0);
	rx_post(&a, 0, BURST, rx_pg);
	if (rx)
		for (unsigned i = 0; i < BURST; i++)
			frame_fill(data[i], 64, a.mac, OUT_MAC, (uint8_t)i);
	tx_pages(&b, tx ? OUT_MAC : a.mac, tx_pg);
	for (unsigned p = 0; p < passes; p++) {
		if (rx) {
			for (unsigned i = 0; i < BURST; i++) {
				rb[i] = (struct net_uplink_buf){ .data = data[i], .len = 64,
								 .meta = { .data_validated = true } };
				AU.u.rx(&AU.u, &rb[i]);
			}
			rx_collect(&a, rx_pg);
		} else {
			tx_burst(&b, tx_pg);
			tx_collect(&b);
			if (tx)
				up_complete();
			else
				rx_collect(&a, rx_pg);
		}
	}
	printf("%s: %u frames\n", mode, passes * BURST);
	teardown(&state);
	return 0;
}
