/*
 * vif.c - the xenbus side of the network backend.
 *
 * Like vbd.c: the toolstack writes backend/vif/<domid>/<devid> and waits
 * (10 s) for InitWait; we publish netback's features and InitWait in one
 * transaction, then follow the frontend through libblanket/xenbus.c's state
 * machine.  On connect every queue's rings are mapped and its event
 * channels bound, and the vif becomes a port of the switch.  Devices found
 * Connected at start-up (a daemon restart) are taken over.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xs_util.h"
#include "uring.h"
#include "vif.h"

static unsigned max_queues;
static ev_timer age_timer;
static struct uring_pass_hook pass_hook;

static struct bl_xen *xen;
static const struct bl_config *cfg;

static void probe(struct xbdev *d);
static void update(struct xbdev *d);
static bool node_changed(struct xbdev *d, const char *rest);
/* The frontend's state, and its multicast-control wish, which a frontend may
 * change while connected (dynamic multicast control). */
static const char *const fe_nodes[] = { "state", "request-multicast-control", NULL };
static struct xbdev_class vif_class = {
	.name = "vif",
	.fe_tag = "vfe",
	.fe_nodes = fe_nodes,
	.size = sizeof(struct vif),
	.probe = probe,
	.update = update,
	.node_changed = node_changed,
};

static struct vif *vif_of(struct xbdev *d)
{
	return (struct vif *)d;	/* the xbdev is the vif's first member */
}

/* --- xenstore ------------------------------------------------------------------ */

/* A frontend feature flag: "1" on, anything else (or absent) off. */
static bool fe_flag(const struct vif *v, const char *node)
{
	bool ok = true;

	return xs_read_ulong(xen, v->xb.fe_path, node, 0, &ok) == 1 && ok;
}

/* --- device lifecycle ------------------------------------------------------------ */

/* netback's feature set (xenbus.c: netback_probe), and InitWait. */
static void advertise(struct vif *v)
{
	struct xs_kv kv[16];
	unsigned n = 0;

	xs_kv_set(kv, &n, "feature-sg", 1);
	xs_kv_set(kv, &n, "feature-gso-tcpv4", 1);
	xs_kv_set(kv, &n, "feature-gso-tcpv6", 1);
	xs_kv_set(kv, &n, "feature-ipv6-csum-offload", 1);
	xs_kv_set(kv, &n, "feature-rx-copy", 1);
	xs_kv_set(kv, &n, "feature-rx-flip", 0);
	xs_kv_set(kv, &n, "feature-multicast-control", 1);
	xs_kv_set(kv, &n, "feature-dynamic-multicast-control", 1);
	xs_kv_set(kv, &n, "feature-split-event-channels", 1);
	xs_kv_set(kv, &n, "multi-queue-max-queues", max_queues);
	xs_kv_set(kv, &n, "feature-ctrl-ring", 1);
	xs_kv_set(kv, &n, "feature-xdp-headroom", 1);
	xbdev_publish(&v->xb, kv, n, XenbusStateInitWait);
}

/* netback's xen_net_read_rate: "bytes,usec"; absent or bad: unlimited. */
static void read_rate(struct vif *v)
{
	char *s = xs_readf(xen, "%s/rate", v->xb.be_path);
	unsigned long long b, u;
	int used = -1;

	v->rate_bytes = UINT64_MAX;
	v->rate_usec = 0;
	if (s && sscanf(s, "%llu,%llu%n", &b, &u, &used) == 2 && !s[used] && u && b) {
		v->rate_bytes = b;
		v->rate_usec = u;
	} else if (s) {
		log_warn("vif %u/%u: ignoring rate '%s' (expected bytes,usec)", v->xb.domid, v->xb.devid, s);
	}
	free(s);
	for (unsigned i = 0; i < v->nr_queues; i++)
		v->queues[i].remaining_credit = v->rate_bytes;
}

static int connect_queues(struct vif *v);

static void serve(struct vif *v)
{
	v->connected = true;
	sw_port_add(vif_ctx.sw, &v->port);
	for (unsigned i = 0; i < v->nr_queues; i++)
		vif_tx_kick(&v->queues[i]);
	if (v->ctrl_sring)
		vif_ctrl_kick(v);
}

static void resume(struct vif *v)
{
	if (connect_queues(v) < 0) {
		xbdev_publish_state(&v->xb, XenbusStateClosing);
		return;
	}
	for (unsigned i = 0; i < v->nr_queues; i++)
		vif_queue_resume(&v->queues[i]);
	if (v->ctrl_sring)
		vif_ctrl_resume(v);
	log_info("vif %u/%u: resumed after a restart", v->xb.domid, v->xb.devid);
	serve(v);
}

/* A device the toolstack wrote, or one a previous blanketd served. */
static void probe(struct xbdev *d)
{
	struct vif *v = vif_of(d);
	char *mac;

	v->port.ops = &vif_port_ops;
	snprintf(v->port.name, sizeof(v->port.name), "vif%u.%u", d->domid, d->devid);
	if (!v->xb.fe_path) {
		v->broken = true;
		xbdev_fail(&v->xb, "no frontend node");
		return;
	}
	mac = xs_readf(xen, "%s/mac", v->xb.be_path);
	if (!sw_mac_parse(mac, v->mac)) {
		/* Without it the source check would drop everything. */
		v->broken = true;
		xbdev_fail(&v->xb, "no valid mac node ('%s'): the xl vif line needs mac=", mac ? mac : "");
	} else {
		memcpy(v->port.mac, v->mac, SW_ETH_ALEN);
		v->port.check_src = !cfg->vif.allow_mac_spoof;
	}
	free(mac);
	if (v->xb.state == XenbusStateConnected && !v->broken)
		resume(v);
	else if (v->xb.state < XenbusStateInitWait)
		advertise(v);
}

static void close_queues(struct vif *v)
{
	if (v->port.sw)
		sw_port_del(vif_ctx.sw, &v->port);
	for (unsigned i = 0; i < v->nr_queues; i++)
		vif_queue_close(&v->queues[i]);
	free(v->queues);
	v->queues = NULL;
	v->nr_queues = 0;
	vif_ctrl_close(v);
	v->connected = false;
}

static void release(struct vif *v)
{
	close_queues(v);
	free(v->xb.fe_path);
	free(v->xb.error);
	free(v);
}

/* Read one queue's ring refs and event channels from dir. */
static int connect_queue(struct vif *v, unsigned q, const char *dir)
{
	unsigned long tx, rx, evt, evt_tx, evt_rx;
	bool ok = true;

	tx = xs_read_ulong(xen, dir, "tx-ring-ref", ULONG_MAX, &ok);
	rx = xs_read_ulong(xen, dir, "rx-ring-ref", ULONG_MAX, &ok);
	evt = xs_read_ulong(xen, dir, "event-channel", ULONG_MAX, &ok);
	evt_tx = xs_read_ulong(xen, dir, "event-channel-tx", ULONG_MAX, &ok);
	evt_rx = xs_read_ulong(xen, dir, "event-channel-rx", ULONG_MAX, &ok);
	if (!ok || tx > UINT32_MAX || rx > UINT32_MAX) {
		xbdev_fail(&v->xb, "queue %u: missing or bad tx-ring-ref/rx-ring-ref", q);
		return -1;
	}
	/* Split channels when both are given, as netback (connect_data_rings). */
	if (evt_tx <= UINT32_MAX && evt_rx <= UINT32_MAX) {
		v->split = true;
	} else if (evt <= UINT32_MAX) {
		evt_tx = evt_rx = evt;
	} else {
		xbdev_fail(&v->xb, "queue %u: no event-channel (or event-channel-tx/-rx)", q);
		return -1;
	}
	if (vif_queue_open(&v->queues[q], v, q, (grant_ref_t)tx, (grant_ref_t)rx,
			   (evtchn_port_t)evt_tx, (evtchn_port_t)evt_rx)) {
		xbdev_fail(&v->xb, "queue %u: cannot map the rings or bind the event channels", q);
		return -1;
	}
	return 0;
}

static int connect_ctrl(struct vif *v)
{
	unsigned long ref, evt;
	bool ok = true;

	ref = xs_read_ulong(xen, v->xb.fe_path, "ctrl-ring-ref", ULONG_MAX, &ok);
	if (ref == ULONG_MAX && ok)
		return 0; /* optional */
	evt = xs_read_ulong(xen, v->xb.fe_path, "event-channel-ctrl", ULONG_MAX, &ok);
	if (!ok || ref > UINT32_MAX || evt > UINT32_MAX) {
		xbdev_fail(&v->xb, "missing or bad ctrl-ring-ref/event-channel-ctrl");
		return -1;
	}
	if (vif_ctrl_open(v, (grant_ref_t)ref, (evtchn_port_t)evt)) {
		xbdev_fail(&v->xb, "cannot map the control ring or bind its event channel");
		return -1;
	}
	return 0;
}

static void read_mcast(struct vif *v)
{
	bool on = fe_flag(v, "request-multicast-control");

	if (on != v->port.mcast_filter)
		log_info("vif %u/%u: multicast control %s", v->xb.domid, v->xb.devid, on ? "on" : "off");
	v->mcast_ctrl = v->port.mcast_filter = on;
	if (!on)
		v->port.nr_mcast = 0;
}

/* netback's connect(): flags, queues, control ring. */
static int connect_queues(struct vif *v)
{
	bool ok = true;
	unsigned long nq, headroom;
	char dir[256];

	/* netback refuses both (read_xenbus_vif_flags). */
	if (!fe_flag(v, "request-rx-copy")) {
		xbdev_fail(&v->xb, "frontend does not request rx-copy (flipping is not supported)");
		return -1;
	}
	if (!fe_flag(v, "feature-rx-notify")) {
		xbdev_fail(&v->xb, "frontend lacks feature-rx-notify, which is mandatory");
		return -1;
	}
	v->sg = fe_flag(v, "feature-sg");
	v->gso4 = v->sg && fe_flag(v, "feature-gso-tcpv4");
	v->gso6 = v->sg && fe_flag(v, "feature-gso-tcpv6");
	v->csum = !fe_flag(v, "feature-no-csum-offload");
	v->ipv6_csum = fe_flag(v, "feature-ipv6-csum-offload");
	v->port.gso4 = v->gso4 && v->csum;
	v->port.gso6 = v->gso6 && v->ipv6_csum;
	headroom = xs_read_ulong(xen, v->xb.fe_path, "xdp-headroom", 0, &ok);
	/* netback clamps at XEN_NETIF_MAX_XDP_HEADROOM; we keep at least half
	 * a page for data so every slot carries something. */
	v->xdp_headroom = (uint16_t)(ok ? (headroom > NETIF_PAGE_SIZE / 2 ? NETIF_PAGE_SIZE / 2 : headroom) : 0);
	ok = true;
	nq = xs_read_ulong(xen, v->xb.fe_path, "multi-queue-num-queues", 1, &ok);
	if (!ok || nq == 0 || nq > max_queues) {
		xbdev_fail(&v->xb, "frontend asked for %lu queues (at most %u)", nq, max_queues);
		return -1;
	}
	v->split = false;
	v->disabled = false;
	memset(&v->hash, 0, sizeof(v->hash));
	v->queues = calloc(nq, sizeof(*v->queues));
	if (!v->queues)
		return -1;
	for (unsigned q = 0; q < nq; q++) {
		if (nq == 1)
			snprintf(dir, sizeof(dir), "%s", v->xb.fe_path);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", v->xb.fe_path, q);
		if (connect_queue(v, q, dir)) {
			close_queues(v);
			return -1;
		}
		v->nr_queues = q + 1;
	}
	if (connect_ctrl(v)) {
		close_queues(v);
		return -1;
	}
	read_rate(v);
	read_mcast(v);
	log_info("vif %u/%u: connected: %lu queue(s), %s event channels%s%s%s%s", v->xb.domid,
		 v->xb.devid, nq, v->split ? "split" : "shared", v->sg ? ", sg" : "",
		 v->gso4 || v->gso6 ? ", gso" : "", v->ctrl_sring ? ", ctrl ring" : "",
		 v->rate_usec ? ", rate limited" : "");
	return 0;
}

static void update(struct xbdev *d)
{
	struct vif *v = vif_of(d);
	struct xb_step step = xb_backend_step(xbdev_read_input(d));

	if (step.disconnect && (v->nr_queues || v->ctrl_sring))
		close_queues(v);
	/* Queues already there: only publishing Connected failed last time. */
	if (step.connect && (v->broken || (!v->nr_queues && connect_queues(v) < 0)))
		step.next = XenbusStateClosing;
	if (step.next != v->xb.state)
		xbdev_publish_state(&v->xb, step.next);
	if (step.connect && v->nr_queues && !v->connected)
		serve(v);
	else if (v->connected && !step.remove)
		read_mcast(v);
	if (step.remove) {
		xbdev_remove(d);
		release(v);
	}
}

void vif_fatal(struct vif *v, const char *why)
{
	if (v->disabled)
		return;
	/* As netback: the vif stops (no more TX, RX dropped), its state stays;
	 * unlike netback it serves again once the frontend reconnects. */
	xbdev_protocol_error(&v->xb, why, "disabled until it reconnects");
	v->disabled = true;
	for (unsigned i = 0; i < v->nr_queues; i++)
		vif_rx_purge(&v->queues[i]);
}

/* --- watches and events ---------------------------------------------------------- */

/* The credit limit may change while the vif runs (netback watches the node too). */
static bool node_changed(struct xbdev *d, const char *rest)
{
	if (strcmp(rest, "/rate"))
		return false;
	read_rate(vif_of(d));
	return true;
}

void vif_xs_event(const char *path, const char *token)
{
	xbdev_xs_event(&vif_class, path, token);
}

void vif_evtchn_event(evtchn_port_t port)
{
	for (struct vif *v = vif_list(); v; v = vif_next(v)) {
		if (v->ctrl_sring && v->ctrl_port == port) {
			vif_ctrl_kick(v);
			return;
		}
		for (unsigned i = 0; i < v->nr_queues; i++) {
			struct vif_queue *q = &v->queues[i];

			if (q->tx_port != port && q->rx_port != port)
				continue;
			q->stats.events++;
			/* New RX buffers are looked at in the end-of-pass run. */
			if (q->rx_port == port && q->bl_len)
				vif_mark_dirty(q);
			if (q->tx_port == port)
				vif_tx_kick(q);
			return;
		}
	}
}

static void on_age(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w, (void)revents;
	sw_set_now(vif_ctx.sw, ev_now(l));
	sw_age(vif_ctx.sw);
	for (struct vif *v = vif_list(); v; v = vif_next(v))
		for (unsigned i = 0; i < v->nr_queues; i++)
			vif_queue_watchdog(&v->queues[i]);
}

static bool on_pass(struct uring_pass_hook *h, unsigned round)
{
	(void)h, (void)round;
	sw_set_now(vif_ctx.sw, ev_now(vif_ctx.loop));
	return vif_flush_all();
}

int vif_init(struct ev_loop *l, struct bl_xen *x, const struct bl_config *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	vif_ctx.loop = l;
	vif_ctx.xen = xen = x;
	vif_ctx.cfg = cfg = c;
	vif_ctx.sw = sw_create(c->vif.fdb_max, c->vif.fdb_ageing);
	if (!vif_ctx.sw)
		return -1;
	sw_set_now(vif_ctx.sw, ev_now(l));
	max_queues = c->vif.max_queues ? c->vif.max_queues : (unsigned)(cpus > 0 ? cpus : 1);
	if (max_queues > VIF_MAX_QUEUES)
		max_queues = VIF_MAX_QUEUES;
	pass_hook.run = on_pass;
	uring_pass_hook_add(&pass_hook);
	ev_timer_init(&age_timer, on_age, 1., 1.);
	ev_timer_start(l, &age_timer);
	return xbdev_class_init(&vif_class, x);
}

struct vif *vif_list(void)
{
	return vif_of(vif_class.devs);
}

struct sw *vif_switch(void)
{
	return vif_ctx.sw;
}

void vif_shutdown(void)
{
	/* Devices stay in xenstore for a restarted blanketd; our mappings go. */
	for (struct xbdev *d; (d = xbdev_pop(&vif_class));)
		release(vif_of(d));
	if (vif_ctx.loop)
		ev_timer_stop(vif_ctx.loop, &age_timer);
	uring_pass_hook_del(&pass_hook);
	sw_uplink_detach(vif_ctx.sw);
	sw_destroy(vif_ctx.sw);
	vif_ctx.sw = NULL;
}
