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

static struct vif *vifs;
static char be_root[64];
static unsigned max_queues;
static ev_timer age_timer;
static struct uring_pass_hook pass_hook;

static struct bl_xen *xen;
static const struct bl_config *cfg;

/* --- xenstore ------------------------------------------------------------------ */

/* A frontend feature flag: "1" on, anything else (or absent) off. */
static bool fe_flag(const struct vif *v, const char *node)
{
	bool ok = true;

	return xs_read_ulong(xen, v->fe_path, node, 0, &ok) == 1 && ok;
}

static void publish_state(struct vif *v, enum xenbus_state s)
{
	struct xs_kv kv[1];
	unsigned n = 0;

	xs_kv_set(kv, &n, "state", s);
	if (xs_publish(xen, v->be_path, kv, n) || s == XenbusStateClosed) {
		log_info("vif %u/%u: %s -> %s", v->domid, v->devid, xb_state_name(v->state),
			 xb_state_name(s));
		v->state = s;
	}
}

/* --- device lifecycle ------------------------------------------------------------ */

static struct vif *find(uint32_t domid, uint32_t devid)
{
	for (struct vif *v = vifs; v; v = v->next)
		if (v->domid == domid && v->devid == devid)
			return v;
	return NULL;
}

static void fail(struct vif *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct vif *v, const char *fmt, ...)
{
	char path[256], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("vif %u/%u: %s", v->domid, v->devid, msg);
	free(v->error);
	v->error = strdup(msg);
	snprintf(path, sizeof(path), "%s/hotplug-error", v->be_path);
	bl_xs_write(xen, 0, path, msg);
}

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
	xs_kv_set(kv, &n, "state", XenbusStateInitWait);
	if (xs_publish(xen, v->be_path, kv, n)) {
		log_info("vif %u/%u: %s -> InitWait", v->domid, v->devid, xb_state_name(v->state));
		v->state = XenbusStateInitWait;
	}
}

/* netback's xen_net_read_rate: "bytes,usec"; absent or bad: unlimited. */
static void read_rate(struct vif *v)
{
	char *s = xs_readf(xen, "%s/rate", v->be_path);
	unsigned long long b, u;
	int used = -1;

	v->rate_bytes = UINT64_MAX;
	v->rate_usec = 0;
	if (s && sscanf(s, "%llu,%llu%n", &b, &u, &used) == 2 && !s[used] && u && b) {
		v->rate_bytes = b;
		v->rate_usec = u;
	} else if (s) {
		log_warn("vif %u/%u: ignoring rate '%s' (expected bytes,usec)", v->domid, v->devid, s);
	}
	free(s);
	for (unsigned i = 0; i < v->nr_queues; i++)
		v->queues[i].remaining_credit = v->rate_bytes;
}

static bool is_online(uint32_t domid, uint32_t devid)
{
	char *online = xs_readf(xen, "%s/%u/%u/online", be_root, domid, devid);
	bool on = online && !strcmp(online, "1");

	free(online);
	return on;
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
		publish_state(v, XenbusStateClosing);
		return;
	}
	for (unsigned i = 0; i < v->nr_queues; i++)
		vif_queue_resume(&v->queues[i]);
	if (v->ctrl_sring)
		vif_ctrl_resume(v);
	log_info("vif %u/%u: resumed after a restart", v->domid, v->devid);
	serve(v);
}

static void watch_fe(struct vif *v, bool on)
{
	/* The frontend's state, and its multicast-control wish, which a
	 * frontend may change while connected (dynamic multicast control). */
	static const char *const nodes[] = { "state", "request-multicast-control" };
	char path[256];

	for (unsigned i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", v->fe_path, nodes[i]);
		if (on)
			v->fe_watched = bl_xs_watch(xen, path, v->token);
		else
			bl_xs_unwatch(xen, path, v->token);
	}
}

static void probe(uint32_t domid, uint32_t devid)
{
	enum xenbus_state st;
	struct vif *v;
	char *state, *fe_id, *mac, path[256];

	snprintf(path, sizeof(path), "%s/%u/%u/state", be_root, domid, devid);
	state = bl_xs_read(xen, 0, path);
	if (!state)
		return;
	st = xb_state_parse(state);
	free(state);
	if (st >= XenbusStateClosing && !is_online(domid, devid)) {
		if (st == XenbusStateClosing) {
			struct xs_kv kv[1];
			unsigned n = 0;

			snprintf(path, sizeof(path), "%s/%u/%u", be_root, domid, devid);
			xs_kv_set(kv, &n, "state", XenbusStateClosed);
			xs_publish(xen, path, kv, n);
		}
		return;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return;
	v->domid = domid;
	v->devid = devid;
	v->state = st;
	snprintf(v->be_path, sizeof(v->be_path), "%s/%u/%u", be_root, domid, devid);
	snprintf(v->token, sizeof(v->token), "vfe:%u:%u", domid, devid);
	v->fe_path = xs_readf(xen, "%s/frontend", v->be_path);
	fe_id = xs_readf(xen, "%s/frontend-id", v->be_path);
	v->fe_domid = fe_id ? (uint32_t)strtoul(fe_id, NULL, 10) : domid;
	free(fe_id);
	v->port.ops = &vif_port_ops;
	snprintf(v->port.name, sizeof(v->port.name), "vif%u.%u", domid, devid);
	v->next = vifs;
	vifs = v;
	if (!v->fe_path) {
		v->broken = true;
		fail(v, "no frontend node");
		return;
	}
	mac = xs_readf(xen, "%s/mac", v->be_path);
	if (!sw_mac_parse(mac, v->mac)) {
		/* Without it the source check would drop everything. */
		v->broken = true;
		fail(v, "no valid mac node ('%s'): the xl vif line needs mac=", mac ? mac : "");
	} else {
		memcpy(v->port.mac, v->mac, SW_ETH_ALEN);
		v->port.check_src = !cfg->vif.allow_mac_spoof;
	}
	free(mac);
	if (v->state == XenbusStateConnected && !v->broken)
		resume(v);
	else if (v->state < XenbusStateInitWait)
		advertise(v);
	watch_fe(v, true);
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
	free(v->fe_path);
	free(v->error);
	free(v);
}

static void destroy(struct vif *v)
{
	for (struct vif **l = &vifs; *l; l = &(*l)->next)
		if (*l == v) {
			*l = v->next;
			break;
		}
	if (v->fe_watched)
		watch_fe(v, false);
	log_info("vif %u/%u: removed", v->domid, v->devid);
	release(v);
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
		fail(v, "queue %u: missing or bad tx-ring-ref/rx-ring-ref", q);
		return -1;
	}
	/* Split channels when both are given, as netback (connect_data_rings). */
	if (evt_tx <= UINT32_MAX && evt_rx <= UINT32_MAX) {
		v->split = true;
	} else if (evt <= UINT32_MAX) {
		evt_tx = evt_rx = evt;
	} else {
		fail(v, "queue %u: no event-channel (or event-channel-tx/-rx)", q);
		return -1;
	}
	if (vif_queue_open(&v->queues[q], v, q, (grant_ref_t)tx, (grant_ref_t)rx,
			   (evtchn_port_t)evt_tx, (evtchn_port_t)evt_rx)) {
		fail(v, "queue %u: cannot map the rings or bind the event channels", q);
		return -1;
	}
	return 0;
}

static int connect_ctrl(struct vif *v)
{
	unsigned long ref, evt;
	bool ok = true;

	ref = xs_read_ulong(xen, v->fe_path, "ctrl-ring-ref", ULONG_MAX, &ok);
	if (ref == ULONG_MAX && ok)
		return 0; /* optional */
	evt = xs_read_ulong(xen, v->fe_path, "event-channel-ctrl", ULONG_MAX, &ok);
	if (!ok || ref > UINT32_MAX || evt > UINT32_MAX) {
		fail(v, "missing or bad ctrl-ring-ref/event-channel-ctrl");
		return -1;
	}
	if (vif_ctrl_open(v, (grant_ref_t)ref, (evtchn_port_t)evt)) {
		fail(v, "cannot map the control ring or bind its event channel");
		return -1;
	}
	return 0;
}

static void read_mcast(struct vif *v)
{
	bool on = fe_flag(v, "request-multicast-control");

	if (on != v->port.mcast_filter)
		log_info("vif %u/%u: multicast control %s", v->domid, v->devid, on ? "on" : "off");
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
		fail(v, "frontend does not request rx-copy (flipping is not supported)");
		return -1;
	}
	if (!fe_flag(v, "feature-rx-notify")) {
		fail(v, "frontend lacks feature-rx-notify, which is mandatory");
		return -1;
	}
	v->sg = fe_flag(v, "feature-sg");
	v->gso4 = v->sg && fe_flag(v, "feature-gso-tcpv4");
	v->gso6 = v->sg && fe_flag(v, "feature-gso-tcpv6");
	v->csum = !fe_flag(v, "feature-no-csum-offload");
	v->ipv6_csum = fe_flag(v, "feature-ipv6-csum-offload");
	v->port.gso4 = v->gso4 && v->csum;
	v->port.gso6 = v->gso6 && v->ipv6_csum;
	headroom = xs_read_ulong(xen, v->fe_path, "xdp-headroom", 0, &ok);
	/* netback clamps at XEN_NETIF_MAX_XDP_HEADROOM; we keep at least half
	 * a page for data so every slot carries something. */
	v->xdp_headroom = (uint16_t)(ok ? (headroom > NETIF_PAGE_SIZE / 2 ? NETIF_PAGE_SIZE / 2 : headroom) : 0);
	ok = true;
	nq = xs_read_ulong(xen, v->fe_path, "multi-queue-num-queues", 1, &ok);
	if (!ok || nq == 0 || nq > max_queues) {
		fail(v, "frontend asked for %lu queues (at most %u)", nq, max_queues);
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
			snprintf(dir, sizeof(dir), "%s", v->fe_path);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", v->fe_path, q);
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
	log_info("vif %u/%u: connected: %lu queue(s), %s event channels%s%s%s%s", v->domid,
		 v->devid, nq, v->split ? "split" : "shared", v->sg ? ", sg" : "",
		 v->gso4 || v->gso6 ? ", gso" : "", v->ctrl_sring ? ", ctrl ring" : "",
		 v->rate_usec ? ", rate limited" : "");
	return 0;
}

static void update(struct vif *v)
{
	char *s = xs_readf(xen, "%s/state", v->be_path), *online = NULL, *fe = NULL;
	struct xb_input in = { .be = v->state };
	struct xb_step step;

	in.be_gone = !s;
	free(s);
	if (!in.be_gone) {
		online = xs_readf(xen, "%s/online", v->be_path);
		fe = v->fe_path ? xs_readf(xen, "%s/state", v->fe_path) : NULL;
	}
	in.online = online && !strcmp(online, "1");
	in.fe = xb_state_parse(fe);
	free(online);
	free(fe);
	step = xb_backend_step(in);
	if (step.disconnect && (v->nr_queues || v->ctrl_sring))
		close_queues(v);
	if (step.connect && (v->broken || connect_queues(v) < 0))
		step.next = XenbusStateClosing;
	if (step.next != v->state)
		publish_state(v, step.next);
	if (step.connect && v->nr_queues)
		serve(v);
	else if (v->connected && !step.remove)
		read_mcast(v);
	if (step.remove)
		destroy(v);
}

void vif_fatal(struct vif *v, const char *why)
{
	char path[256];

	if (v->disabled)
		return;
	/* As netback: the vif stops (no more TX, RX dropped), its state stays;
	 * unlike netback it serves again once the frontend reconnects. */
	log_err("vif %u/%u: frontend broke the protocol (%s): disabled until it reconnects",
		v->domid, v->devid, why);
	v->disabled = true;
	snprintf(path, sizeof(path), "%s/blanket-error", v->be_path);
	bl_xs_write(xen, 0, path, why);
	for (unsigned i = 0; i < v->nr_queues; i++)
		vif_rx_purge(&v->queues[i]);
}

/* --- watches and events ---------------------------------------------------------- */

/* A device the scan found: probe it unless we have it. */
static void found(uint32_t domid, uint32_t devid)
{
	if (!find(domid, devid))
		probe(domid, devid);
}

void vif_xs_event(const char *path, const char *token)
{
	uint32_t domid, devid;
	const char *rest;
	struct vif *v;

	if (!strncmp(token, "vfe:", 4)) {
		unsigned d, i;

		if (sscanf(token, "vfe:%u:%u", &d, &i) == 2 && (v = find(d, i)))
			update(v);
		return;
	}
	if (strcmp(token, "vif"))
		return;
	switch (xs_backend_where(path, be_root, &domid, &devid, &rest)) {
	case XS_ROOT:
		xs_scan_devices(xen, be_root, found);
		return;
	case XS_DOMAIN:
		/* A whole domain's directory changed (removed): look at its devices. */
		for (v = vifs; v;) {
			struct vif *next = v->next;

			if (v->domid == domid)
				update(v);
			v = next;
		}
		return;
	case XS_DEVICE:
		break;
	default:
		return;
	}
	v = find(domid, devid);
	if (!v) {
		probe(domid, devid);
		return;
	}
	if (!strcmp(rest, "/rate")) {
		read_rate(v);
		return;
	}
	/* Our own feature writes fire this watch too; only these matter. */
	if (rest[0] == '\0' || !strcmp(rest, "/state") || !strcmp(rest, "/online"))
		update(v);
}

void vif_evtchn_event(evtchn_port_t port)
{
	for (struct vif *v = vifs; v; v = v->next) {
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
}

static bool on_pass(struct uring_pass_hook *h, unsigned round)
{
	(void)h, (void)round;
	sw_set_now(vif_ctx.sw, ev_now(vif_ctx.loop));
	return vif_flush_all();
}

int vif_init(struct ev_loop *l, struct bl_xen *x, const struct bl_config *c)
{
	char *self;
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
	self = bl_xs_read(x, 0, "domid");
	snprintf(be_root, sizeof(be_root), "/local/domain/%s/backend/vif", self ? self : "0");
	free(self);
	pass_hook.run = on_pass;
	uring_pass_hook_add(&pass_hook);
	ev_timer_init(&age_timer, on_age, 1., 1.);
	ev_timer_start(l, &age_timer);
	if (!bl_xs_watch(x, be_root, "vif"))
		return -1;
	return 0;
}

struct vif *vif_list(void)
{
	return vifs;
}

struct sw *vif_switch(void)
{
	return vif_ctx.sw;
}

void vif_shutdown(void)
{
	/* Devices stay in xenstore for a restarted blanketd; our mappings go. */
	while (vifs) {
		struct vif *v = vifs;

		vifs = v->next;
		release(v);
	}
	if (vif_ctx.loop)
		ev_timer_stop(vif_ctx.loop, &age_timer);
	uring_pass_hook_del(&pass_hook);
	sw_uplink_detach(vif_ctx.sw);
	sw_destroy(vif_ctx.sw);
	vif_ctx.sw = NULL;
}
