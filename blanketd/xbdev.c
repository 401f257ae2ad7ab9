/* xbdev.c - see xbdev.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xs_util.h"
#include "xbdev.h"

struct xbdev *xbdev_find(const struct xbdev_class *c, uint32_t domid, uint32_t devid)
{
	for (struct xbdev *d = c->devs; d; d = d->next)
		if (d->domid == domid && d->devid == devid)
			return d;
	return NULL;
}

void xbdev_publish(struct xbdev *d, const struct xs_kv *nodes, unsigned n, enum xenbus_state s)
{
	struct xs_kv kv[XBDEV_MAX_NODES + 1];

	if (n > XBDEV_MAX_NODES) {
		/* A class advertising more than this is a bug here: say so. */
		log_err("%s %u/%u: %u nodes to publish, only %u fit: raise XBDEV_MAX_NODES",
			d->cls->name, d->domid, d->devid, n, XBDEV_MAX_NODES);
		n = XBDEV_MAX_NODES;
	}
	if (n)
		memcpy(kv, nodes, n * sizeof(*kv));
	xs_kv_set(kv, &n, "state", s);
	if (xs_publish(d->cls->xen, d->be_path, kv, n) || s == XenbusStateClosed) {
		log_info("%s %u/%u: %s -> %s", d->cls->name, d->domid, d->devid,
			 xb_state_name(d->state), xb_state_name(s));
		d->state = s;
	} else if (errno != ENOENT) {
		/* The frontend would wait for this state forever: never quietly. */
		log_err("%s %u/%u: cannot publish %s -> %s: %s", d->cls->name, d->domid, d->devid,
			xb_state_name(d->state), xb_state_name(s), strerror(errno));
	}
}

void xbdev_fail(struct xbdev *d, const char *fmt, ...)
{
	char path[256], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s %u/%u: %s", d->cls->name, d->domid, d->devid, msg);
	free(d->error);
	d->error = strdup(msg);
	/* The hotplug script reports this to xl, which prints it. */
	snprintf(path, sizeof(path), "%s/hotplug-error", d->be_path);
	bl_xs_write(d->cls->xen, 0, path, msg);
}

void xbdev_protocol_error(struct xbdev *d, const char *why, const char *action)
{
	char path[256];

	log_err("%s %u/%u: frontend broke the protocol (%s): %s", d->cls->name, d->domid, d->devid,
		why, action);
	snprintf(path, sizeof(path), "%s/blanket-error", d->be_path);
	bl_xs_write(d->cls->xen, 0, path, why);
}

struct xb_input xbdev_read_input(const struct xbdev *d)
{
	struct bl_xen *x = d->cls->xen;
	char *s = xs_readf(x, "%s/state", d->be_path), *online = NULL, *fe = NULL;
	struct xb_input in = { .be = d->state };

	in.be_gone = !s;
	free(s);
	if (!in.be_gone) {
		online = xs_readf(x, "%s/online", d->be_path);
		fe = d->fe_path ? xs_readf(x, "%s/state", d->fe_path) : NULL;
	}
	in.online = online && !strcmp(online, "1");
	in.fe = xb_state_parse(fe);
	free(online);
	free(fe);
	return in;
}

static void watch_fe(struct xbdev *d, bool on)
{
	char path[256];

	for (const char *const *node = d->cls->fe_nodes; *node; node++) {
		snprintf(path, sizeof(path), "%s/%s", d->fe_path, *node);
		if (on) {
			d->fe_watched = bl_xs_watch(d->cls->xen, path, d->token);
			if (!d->fe_watched)
				log_err("%s %u/%u: cannot watch %s: %s", d->cls->name, d->domid,
					d->devid, path, strerror(errno));
		} else
			bl_xs_unwatch(d->cls->xen, path, d->token);
	}
}

static void unlink_dev(struct xbdev *d)
{
	for (struct xbdev **l = &d->cls->devs; *l; l = &(*l)->next)
		if (*l == d) {
			*l = d->next;
			return;
		}
}

void xbdev_remove(struct xbdev *d)
{
	unlink_dev(d);
	if (d->fe_watched)
		watch_fe(d, false);
	log_info("%s %u/%u: removed", d->cls->name, d->domid, d->devid);
}

struct xbdev *xbdev_pop(struct xbdev_class *c)
{
	struct xbdev *d = c->devs;

	if (d)
		c->devs = d->next;
	return d;
}

static void probe(struct xbdev_class *c, uint32_t domid, uint32_t devid)
{
	char *state, *fe_id, path[256];
	enum xenbus_state st;
	struct xbdev *d;

	snprintf(path, sizeof(path), "%s/%u/%u/state", c->root, domid, devid);
	state = bl_xs_read(c->xen, 0, path);
	if (!state)
		return; /* half-written or being removed */
	st = xb_state_parse(state);
	free(state);
	if (st >= XenbusStateClosing) {
		char *online = xs_readf(c->xen, "%s/%u/%u/online", c->root, domid, devid);
		bool on = online && !strcmp(online, "1");

		free(online);
		/* Being removed (or our own last write on a device we just dropped):
		 * nothing to serve.  A toolstack waiting for the ack of a removal that
		 * began before we started gets it. */
		if (!on) {
			if (st == XenbusStateClosing) {
				struct xs_kv kv[1];
				unsigned n = 0;

				snprintf(path, sizeof(path), "%s/%u/%u", c->root, domid, devid);
				xs_kv_set(kv, &n, "state", XenbusStateClosed);
				xs_publish(c->xen, path, kv, n);
			}
			return;
		}
	}
	d = calloc(1, c->size);
	if (!d)
		return;
	d->cls = c;
	d->domid = domid;
	d->devid = devid;
	d->state = st;
	snprintf(d->be_path, sizeof(d->be_path), "%s/%u/%u", c->root, domid, devid);
	snprintf(d->token, sizeof(d->token), "%s:%u:%u", c->fe_tag, domid, devid);
	d->fe_path = xs_readf(c->xen, "%s/frontend", d->be_path);
	fe_id = xs_readf(c->xen, "%s/frontend-id", d->be_path);
	d->fe_domid = fe_id ? (uint32_t)strtoul(fe_id, NULL, 10) : domid;
	free(fe_id);
	d->next = c->devs;
	c->devs = d;
	c->probe(d);
	if (d->fe_path)
		watch_fe(d, true);
}

/* Probe every device under root we do not have yet. */
static void scan(struct xbdev_class *c)
{
	char path[128], **doms, **devs;
	unsigned nd, nv;

	doms = bl_xs_directory(c->xen, 0, c->root, &nd);
	for (unsigned i = 0; doms && i < nd; i++) {
		uint32_t domid = (uint32_t)strtoul(doms[i], NULL, 10);

		snprintf(path, sizeof(path), "%s/%s", c->root, doms[i]);
		devs = bl_xs_directory(c->xen, 0, path, &nv);
		for (unsigned j = 0; devs && j < nv; j++) {
			uint32_t devid = (uint32_t)strtoul(devs[j], NULL, 10);

			if (!xbdev_find(c, domid, devid))
				probe(c, domid, devid);
		}
		free(devs);
	}
	free(doms);
}

void xbdev_xs_event(struct xbdev_class *c, const char *path, const char *token)
{
	size_t tag = strlen(c->fe_tag), n = strlen(c->root);
	unsigned domid, devid;
	struct xbdev *d;
	int used = 0;

	if (!strncmp(token, c->fe_tag, tag) && token[tag] == ':') {
		if (sscanf(token + tag, ":%u:%u", &domid, &devid) == 2 &&
		    (d = xbdev_find(c, domid, devid)))
			c->update(d);
		return;
	}
	if (strcmp(token, c->name) || strncmp(path, c->root, n))
		return;
	path += n;
	if (path[0] == '\0') {
		scan(c);
		return;
	}
	if (sscanf(path, "/%u%n", &domid, &used) == 1 && path[used] == '\0') {
		/* A whole domain's directory changed (removed): look at its devices. */
		for (d = c->devs; d;) {
			struct xbdev *next = d->next;

			if (d->domid == domid)
				c->update(d);
			d = next;
		}
		return;
	}
	if (sscanf(path, "/%u/%u%n", &domid, &devid, &used) != 2)
		return;
	path += used;
	d = xbdev_find(c, domid, devid);
	if (!d) {
		probe(c, domid, devid);
		return;
	}
	if (c->node_changed && c->node_changed(d, path))
		return;
	/* Our own feature writes fire this watch too; only these matter. */
	if (path[0] == '\0' || !strcmp(path, "/state") || !strcmp(path, "/online"))
		c->update(d);
}

int xbdev_class_init(struct xbdev_class *c, struct bl_xen *x)
{
	char *self = bl_xs_read(x, 0, "domid");

	c->xen = x;
	c->devs = NULL;
	snprintf(c->root, sizeof(c->root), "/local/domain/%s/backend/%s", self ? self : "0", c->name);
	free(self);
	/* The watch fires once at registration: that first event scans. */
	return bl_xs_watch(x, c->root, c->name) ? 0 : -1;
}
