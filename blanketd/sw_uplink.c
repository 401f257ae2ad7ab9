/*
 * sw_uplink.c - the network uplink (uplink.h) as a port of the switch.
 *
 * Out: a frame for the uplink is written straight from where its
 * fragments are mapped (a guest's granted pages), behind a virtio_net_hdr
 * that carries its GSO and partial-checksum state; the checksum offsets
 * come from the switch's private copy of the headers.  An uplink that
 * sends later (tx_async: the L0 NIC DMAs from the pages) keeps a reference
 * on the frame until its tx_done, so the sender's pages stay mapped and
 * its TX slots unanswered until the device has read them.  In: each frame
 * the uplink read enters the switch as a buffer in dom0 memory (one
 * fragment, or one per page-sized device buffer), handed back to the
 * uplink's pool when the last guest copied it.
 */
#include <stddef.h>
#include <stdlib.h>

#include "log.h"
#include "vif.h"

/* A frame the uplink holds (tx_async).  b is NULL once the sender took
 * its frame back (sw_uplink_forget): tx_done then only frees this. */
struct up_tx {
	struct sw_buf *b;
	struct up_tx *prev, *next;
};

static struct {
	struct sw_port port;
	struct net_uplink *u;
	struct sw *sw;
	struct up_tx *held;          /* frames in the uplink's hands */
} up;

struct up_buf {
	struct sw_buf b;
	struct net_uplink_buf *ub;
};

static void up_tx_done(struct net_uplink *u, void *cookie, int res)
{
	struct up_tx *t = cookie;

	(void)u, (void)res;
	if (t->prev)
		t->prev->next = t->next;
	else
		up.held = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->b)
		sw_buf_put(t->b);
	free(t);
}

static void tx_async(struct sw_buf *b, const struct iovec *iov, const struct net_meta *m)
{
	struct up_tx *t = malloc(sizeof(*t));

	if (!t) {
		up.u->stats.tx_errors++;
		return;
	}
	t->b = b;
	t->prev = NULL;
	t->next = up.held;
	if (up.held)
		up.held->prev = t;
	up.held = t;
	sw_buf_get(b);
	if (up.u->ops->tx_async(up.u, iov, b->nr_frags, m, t) < 0) {
		t->b = NULL;
		up_tx_done(up.u, t, -1);
		sw_buf_put(b);
	}
}

static void up_deliver(struct sw_port *p, struct sw_buf *b)
{
	struct iovec iov[SW_MAX_FRAGS];
	struct net_meta m = b->meta;
	struct sw_l34 l;

	(void)p;
	for (unsigned i = 0; i < b->nr_frags; i++) {
		if (!b->frag[i].addr)
			return;
		iov[i].iov_base = (void *)b->frag[i].addr;
		iov[i].iov_len = b->frag[i].len;
	}
	if (m.csum_blank || m.gso_type != XEN_NETIF_GSO_TYPE_NONE) {
		sw_parse(b->hdr, b->hdr_len, &l);
		/* netback drops what it cannot set a partial checksum up for. */
		if (sw_csum_offsets(&l, &m.csum_start, &m.csum_offset)) {
			up.u->stats.tx_errors++;
			return;
		}
		m.hdr_len = (uint16_t)(l.l4_off + l.l4_hdr_len);
	}
	if (up.u->ops->tx_async)
		tx_async(b, iov, &m);
	else
		up.u->ops->tx(up.u, iov, b->nr_frags, &m);
}

static const struct sw_port_ops up_ops = { .deliver = up_deliver };

static void up_release(struct sw_buf *b)
{
	struct up_buf *x = b->owner;

	up.u->ops->rx_release(up.u, x->ub);
	free(x);
}

static void up_rx(struct net_uplink *u, struct net_uplink_buf *ub)
{
	struct up_buf *x = malloc(sizeof(*x));

	if (!x || ub->nr_frags > SW_MAX_FRAGS) {
		free(x);
		u->stats.rx_errors++;
		u->ops->rx_release(u, ub);
		return;
	}
	x->ub = ub;
	x->b.refs = 1;
	x->b.release = up_release;
	x->b.owner = x;
	x->b.len = (uint32_t)ub->len;
	x->b.nr_frags = ub->nr_frags ? ub->nr_frags : 1;
	if (!ub->nr_frags)
		x->b.frag[0] = (struct sw_frag){ .addr = ub->data, .domid = SW_LOCAL,
						 .len = (uint32_t)ub->len };
	for (unsigned i = 0; i < ub->nr_frags; i++)
		x->b.frag[i] = (struct sw_frag){ .addr = ub->frag[i].iov_base, .domid = SW_LOCAL,
						 .len = (uint32_t)ub->frag[i].iov_len };
	x->b.meta = ub->meta;
	sw_buf_take_hdr(&x->b);
	sw_input(up.sw, &up.port, &x->b);
	sw_buf_put(&x->b);
}

int sw_uplink_attach(struct sw *s, struct net_uplink *u)
{
	up.u = u;
	up.sw = s;
	up.port.ops = &up_ops;
	snprintf(up.port.name, sizeof(up.port.name), "%.9s:%.13s", u->kind, u->name);
	u->rx = up_rx;
	u->tx_done = up_tx_done;
	sw_port_add(s, &up.port);
	return 0;
}

void sw_uplink_forget(bool (*mine)(struct sw_buf *b, void *arg), void *arg)
{
	for (struct up_tx *t = up.held; t; t = t->next)
		if (t->b && mine(t->b, arg)) {
			struct sw_buf *b = t->b;

			t->b = NULL;
			sw_buf_put(b);
		}
}

void sw_uplink_detach(struct sw *s)
{
	if (!up.u || up.sw != s)
		return;
	sw_port_del(s, &up.port);
	/* Closing calls tx_done for what the uplink still holds. */
	up.u->ops->close(up.u);
	while (up.held)
		up_tx_done(NULL, up.held, -1);
	up.u = NULL;
	up.sw = NULL;
}

struct sw_port *sw_uplink_port(void)
{
	return up.u ? &up.port : NULL;
}

struct net_uplink *sw_uplink(void)
{
	return up.u;
}
