/*
 * vbd.c - the xenbus side of the block backend.
 *
 * The toolstack (xl/libxl) writes backend/vbd/<domid>/<devid> in dom0's
 * xenstore and waits up to 10 s for state InitWait; we publish our features
 * and InitWait in one transaction, then follow the frontend's state through
 * libblanket/xenbus.c's state machine.  Devices found at start-up (a daemon
 * restart) are taken over the same way.
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
#include "vbd.h"

static struct ev_loop *loop;
static struct bl_xen *xen;
static const struct bl_config *cfg;
static unsigned max_queues;
static ev_timer tick_timer;

static void probe(struct xbdev *d);
static void update(struct xbdev *d);
static const char *const fe_nodes[] = { "state", NULL };
static struct xbdev_class vbd_class = {
	.name = "vbd",
	.fe_tag = "fe",
	.fe_nodes = fe_nodes,
	.size = sizeof(struct vbd),
	.probe = probe,
	.update = update,
};

static struct vbd *vbd_of(struct xbdev *d)
{
	return (struct vbd *)d;	/* the xbdev is the vbd's first member */
}

/* --- device lifecycle ------------------------------------------------------ */

static unsigned limits_info(const struct vbd *v)
{
	return (v->readonly ? VDISK_READONLY : 0) | (v->cdrom ? VDISK_CDROM : 0);
}

/* Features and InitWait in one transaction, as soon as the device appears. */
static void advertise(struct vbd *v)
{
	const struct bl_config *c = cfg;
	struct xs_kv kv[16];
	unsigned n = 0;

	xs_kv_set(kv, &n, "feature-flush-cache", 1);
	xs_kv_set(kv, &n, "feature-barrier", 1);
	xs_kv_set(kv, &n, "feature-persistent", c->vbd.persistent_grants);
	xs_kv_set(kv, &n, "feature-max-indirect-segments", c->vbd.max_indirect_segments);
	xs_kv_set(kv, &n, "max-ring-page-order", c->vbd.max_ring_page_order);
	xs_kv_set(kv, &n, "multi-queue-max-queues", max_queues);
	xs_kv_set(kv, &n, "feature-discard", v->lim.discard);
	if (v->lim.discard) {
		xs_kv_set(kv, &n, "discard-granularity", v->up->physical_sector_size);
		xs_kv_set(kv, &n, "discard-alignment", 0);
		xs_kv_set(kv, &n, "discard-secure", 0);
	}
	xs_kv_set(kv, &n, "sectors", v->lim.sectors);
	xs_kv_set(kv, &n, "info", limits_info(v));
	xs_kv_set(kv, &n, "sector-size", 512);
	xs_kv_set(kv, &n, "physical-sector-size", v->up->physical_sector_size);
	xbdev_publish(&v->xb, kv, n, XenbusStateInitWait);
}

static int open_backing(struct vbd *v)
{
	char *mode = xs_readf(xen, "%s/mode", v->xb.be_path);
	char *discard = xs_readf(xen, "%s/discard-enable", v->xb.be_path);
	char resolved[PATH_MAX], err[256];
	/* xl's no-discard writes discard-enable=0; blkback then offers none. */
	bool discard_enabled = !discard || strcmp(discard, "0");

	free(discard);
	v->params = xs_readf(xen, "%s/params", v->xb.be_path);
	char *type = xs_readf(xen, "%s/device-type", v->xb.be_path);

	v->readonly = !mode || !strchr(mode, 'w');
	v->cdrom = type && !strcmp(type, "cdrom");
	free(mode);
	free(type);
	if (!v->params || !v->params[0]) {
		xbdev_fail(&v->xb, "no params node: the xl disk line needs target=PATH");
		return -1;
	}
	if (!strncmp(v->params, "kshim:", 6)) {
		/* An L0 virtio-blk device named in blanket.conf's [kshim]: the
		 * toolstack names it, the configuration says which PCI device it
		 * is, so a guest's config cannot reach an unlisted device. */
		const char *name = v->params + 6, *pci = bl_config_kshim_pci(cfg, name);

		if (!pci) {
			xbdev_fail(&v->xb, "%s: no device '%s' in blanket.conf's [kshim]", v->params, name);
			return -1;
		}
		v->up = uplink_kshim_open(name, pci, v->readonly, err, sizeof(err));
		snprintf(resolved, sizeof(resolved), "%s (%s)", v->params, pci);
	} else {
		if (!realpath(v->params, resolved)) {
			xbdev_fail(&v->xb, "%s: %s", v->params, strerror(errno));
			return -1;
		}
		if (!bl_config_path_allowed(cfg, resolved)) {
			xbdev_fail(&v->xb, "%s is not under allowed-paths in blanket.conf", resolved);
			return -1;
		}
		v->up = uplink_file_open(resolved, v->readonly, cfg->vbd.direct_io, err, sizeof(err));
	}
	if (!v->up) {
		xbdev_fail(&v->xb, "%s", err);
		return -1;
	}
	v->lim = (struct blk_limits){
		.sectors = v->up->size >> BLK_SECTOR_SHIFT,
		.max_indirect_segments = cfg->vbd.max_indirect_segments,
		.readonly = v->readonly,
		.flush = true,
		.barrier = true,
		.discard = cfg->vbd.discard && discard_enabled && v->up->can_discard && !v->readonly,
	};
	log_info("vbd %u/%u: serving %s (%s%s, %s, %" PRIu64 " sectors) to domain %u",
		 v->xb.domid, v->xb.devid, resolved, v->up->kind, v->up->direct ? ", O_DIRECT" : "",
		 v->readonly ? "read-only" : "read-write", v->lim.sectors, v->xb.fe_domid);
	return 0;
}

static int connect_rings(struct vbd *v);

/*
 * The device was Connected before we started: blanketd restarted under a
 * running guest.  Attach to the rings again; requests the previous process
 * had not answered are served again (reads and writes are idempotent).
 */
static void resume(struct vbd *v)
{
	if (connect_rings(v) < 0) {
		xbdev_publish_state(&v->xb, XenbusStateClosing);
		return;
	}
	for (unsigned i = 0; i < v->nr_rings; i++)
		vbd_ring_resume(&v->rings[i]);
	v->connected = true;
	log_info("vbd %u/%u: resumed after a restart", v->xb.domid, v->xb.devid);
	for (unsigned i = 0; i < v->nr_rings; i++)
		vbd_ring_kick(&v->rings[i]);
}

/* A device the toolstack wrote, or one a previous blanketd served. */
static void probe(struct xbdev *d)
{
	struct vbd *v = vbd_of(d);

	if (!d->fe_path) {
		xbdev_fail(&v->xb, "no frontend node");
		return;
	}
	if (open_backing(v) == 0) {
		if (d->state == XenbusStateConnected)
			resume(v);
		else if (d->state < XenbusStateInitWait)
			advertise(v);
	} else if (d->state < XenbusStateInitWait) {
		/* Let libxl run the hotplug script, which reports hotplug-error. */
		xbdev_publish_state(&v->xb, XenbusStateInitWait);
	}
}

static void close_rings(struct vbd *v)
{
	for (unsigned i = 0; i < v->nr_rings; i++)
		vbd_ring_close(&v->rings[i]);
	free(v->rings);
	v->rings = NULL;
	v->nr_rings = 0;
}

/* Our own resources only: rings, grant mappings, the backing, memory. */
static void release(struct vbd *v)
{
	close_rings(v);
	if (v->up)
		v->up->ops->close(v->up);
	free(v->xb.fe_path);
	free(v->params);
	free(v->xb.error);
	free(v);
}

static int connect_rings(struct vbd *v)
{
	char *proto_s = xs_readf(xen, "%s/protocol", v->xb.fe_path), dir[256], node[32];
	int proto = blkif_proto_parse(proto_s);
	bool ok = true;
	unsigned long nq, order;

	free(proto_s);
	if (proto < 0) {
		xbdev_fail(&v->xb, "frontend protocol unknown");
		return -1;
	}
	v->persistent = cfg->vbd.persistent_grants &&
			xs_read_ulong(xen, v->xb.fe_path, "feature-persistent", 0, &ok) == 1;
	nq = xs_read_ulong(xen, v->xb.fe_path, "multi-queue-num-queues", 1, &ok);
	order = xs_read_ulong(xen, v->xb.fe_path, "ring-page-order", 0, &ok);
	if (!ok || nq == 0 || nq > max_queues || order > cfg->vbd.max_ring_page_order) {
		xbdev_fail(&v->xb, "frontend asked for %lu queues of order %lu (at most %u of order %u)", nq,
		     order, max_queues, cfg->vbd.max_ring_page_order);
		return -1;
	}
	v->rings = calloc(nq, sizeof(*v->rings));
	if (!v->rings)
		return -1;
	for (unsigned q = 0; q < nq; q++) {
		grant_ref_t refs[BLK_MAX_RING_PAGES];
		unsigned nr_pages = 1u << order;
		unsigned long port;

		if (nq == 1)
			snprintf(dir, sizeof(dir), "%s", v->xb.fe_path);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", v->xb.fe_path, q);
		for (unsigned i = 0; i < nr_pages; i++) {
			if (order == 0)
				snprintf(node, sizeof(node), "ring-ref");
			else
				snprintf(node, sizeof(node), "ring-ref%u", i);
			refs[i] = (grant_ref_t)xs_read_ulong(xen, dir, node, ULONG_MAX, &ok);
		}
		port = xs_read_ulong(xen, dir, "event-channel", ULONG_MAX, &ok);
		for (unsigned i = 0; i < nr_pages; i++)
			ok = ok && refs[i] != (grant_ref_t)ULONG_MAX;
		if (!ok || port > UINT32_MAX) {
			xbdev_fail(&v->xb, "queue %u: missing or bad ring-ref/event-channel", q);
			close_rings(v);
			return -1;
		}
		if (vbd_ring_open(&v->rings[q], v, q, (enum blkif_proto)proto, refs, nr_pages,
				  (evtchn_port_t)port)) {
			xbdev_fail(&v->xb, "queue %u: cannot map the ring or bind its event channel", q);
			close_rings(v);
			return -1;
		}
		/* Persistent grants get registered with an uplink that needs it. */
		pgrant_set_uplink(&v->rings[q].pg, v->up);
		v->nr_rings = q + 1;
	}
	log_info("vbd %u/%u: connected: %lu queue(s) of %u entries, %s grants, protocol %s",
		 v->xb.domid, v->xb.devid, nq, v->rings[0].size,
		 v->persistent ? "persistent" : "mapped per request",
		 proto == BLKIF_PROTO_X86_32 ? "x86_32" : proto == BLKIF_PROTO_X86_64 ? "x86_64" : "native");
	return 0;
}

static bool busy(const struct vbd *v)
{
	for (unsigned i = 0; i < v->nr_rings; i++)
		if (vbd_ring_busy(&v->rings[i]))
			return true;
	return false;
}

/* Re-read what the toolstack and the frontend say, and act on it. */
static void update(struct xbdev *d)
{
	struct vbd *v = vbd_of(d);
	struct xb_step step = xb_backend_step(xbdev_read_input(d));

	if (step.disconnect && v->nr_rings) {
		v->connected = false;
		/* Guest pages stay mapped until their I/O is done: vbd_drained()
		 * brings us back here. */
		if (busy(v))
			return;
		close_rings(v);
	}
	/* Rings already there: only publishing Connected failed last time. */
	if (step.connect && !v->up)
		step.next = XenbusStateClosing; /* the backing failed to open */
	else if (step.connect && !v->nr_rings && connect_rings(v) < 0)
		step.next = XenbusStateClosing;
	if (step.next != v->xb.state)
		xbdev_publish_state(&v->xb, step.next);
	if (step.connect && v->nr_rings) {
		v->connected = true;
		for (unsigned i = 0; i < v->nr_rings; i++)
			vbd_ring_kick(&v->rings[i]);
	}
	if (step.remove) {
		xbdev_remove(d);
		release(v);
	}
}

void vbd_drained(struct vbd *v)
{
	update(&v->xb);
}

void vbd_fatal(struct vbd *v, const char *why)
{
	xbdev_protocol_error(&v->xb, why, "disconnecting it");
	v->connected = false;
	/* Closing tells blkfront to close; it can connect again afterwards. */
	xbdev_publish_state(&v->xb, XenbusStateClosing);
}

/* --- watches and events ---------------------------------------------------- */

void vbd_xs_event(const char *path, const char *token)
{
	xbdev_xs_event(&vbd_class, path, token);
}

void vbd_evtchn_event(evtchn_port_t port)
{
	for (struct vbd *v = vbd_list(); v; v = vbd_next(v))
		for (unsigned i = 0; i < v->nr_rings; i++)
			if (v->rings[i].port == port) {
				v->rings[i].stats.events++;
				vbd_ring_kick(&v->rings[i]);
				return;
			}
}

/* Once a second: the persistent-grant caches, requests stuck in the backing, and
 * requests waiting unread (a lost notification). */
static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	vbd_ring_ctx.ticks++;
	for (struct vbd *v = vbd_list(); v; v = vbd_next(v))
		for (unsigned i = 0; i < v->nr_rings; i++) {
			vbd_ring_purge(&v->rings[i]);
			vbd_ring_check_stuck(&v->rings[i]);
		}
}

int vbd_init(struct ev_loop *l, struct bl_xen *x, const struct bl_config *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	loop = l;
	xen = x;
	cfg = c;
	vbd_ring_ctx.xen = x;
	vbd_ring_ctx.cfg = c;
	/* blkback's default: one queue per online dom0 CPU. */
	max_queues = c->vbd.max_queues ? c->vbd.max_queues : (unsigned)(cpus > 0 ? cpus : 1);
	if (max_queues > VBD_MAX_QUEUES)
		max_queues = VBD_MAX_QUEUES;
	/* Grants stay mapped (persistent) across many rings: lift gntdev's cap. */
	bl_gnt_set_max(x, 1u << 20);
	/* Take the configured L0 devices from their drivers now, so that a
	 * missing module or a wrong address shows at start, not at xl create. */
	for (unsigned i = 0; i < c->n_kshim; i++) {
		char err[256];

		if (uplink_kshim_bind(c->kshim[i].pci, err, sizeof(err)))
			log_err("kshim %s: %s", c->kshim[i].name, err);
		else
			log_info("kshim %s: %s bound to kshim", c->kshim[i].name, c->kshim[i].pci);
	}
	ev_timer_init(&tick_timer, on_tick, 1., 1.);
	ev_timer_start(loop, &tick_timer);
	return xbdev_class_init(&vbd_class, x);
}

struct vbd *vbd_list(void)
{
	return vbd_of(vbd_class.devs);
}

bool vbd_quiesce(void)
{
	bool idle = true;

	for (struct vbd *v = vbd_list(); v; v = vbd_next(v)) {
		v->connected = false;
		idle = idle && !busy(v);
	}
	return idle;
}

void vbd_shutdown(void)
{
	/* Leave the guests' devices as they are in xenstore: a restarted
	 * blanketd takes them over.  Only our own mappings go. */
	for (struct xbdev *d; (d = xbdev_pop(&vbd_class));)
		release(vbd_of(d));
	ev_timer_stop(loop, &tick_timer);
}
