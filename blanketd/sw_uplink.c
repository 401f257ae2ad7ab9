/*
 * sw_uplink.c - the network uplink (uplink.h) as a port of the switch.
 *
 * Out: a frame for the uplink is written straight from where its
 * fragments are mapped (a guest's granted pages), behind a virtio_net_hdr
 * that carries its GSO and partial-checksum state; the checksum offsets
 * come from the switch's private copy of the headers.  In: each frame the
 * uplink read enters the switch as a one-fragment buffer in dom0 memory,
 * handed back to the uplink's pool when the last guest copied it.
 */
#include <stddef.h>
#include <stdlib.h>

#include "log.h"
#include "vif.h"

static struct {
	struct sw_port port;
	struct net_uplink *u;
	struct sw *sw;
} up;

struct up_buf {
	struct sw_buf b;
	struct net_uplink_buf *ub;
};

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

	if (!x) {
		u->ops->rx_release(u, ub);
		return;
	}
	x->ub = ub;
	x->b.refs = 1;
	x->b.release = up_release;
	x->b.owner = x;
	x->b.len = (uint32_t)ub->len;
	x->b.nr_frags = 1;
	x->b.frag[0] = (struct sw_frag){ .addr = ub->data, .domid = SW_LOCAL, .len = (uint32_t)ub->len };
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
	snprintf(up.port.name, sizeof(up.port.name), "%s:%s", u->kind, u->name);
	u->rx = up_rx;
	sw_port_add(s, &up.port);
	return 0;
}

void sw_uplink_detach(struct sw *s)
{
	if (!up.u || up.sw != s)
		return;
	sw_port_del(s, &up.port);
	up.u->ops->close(up.u);
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
