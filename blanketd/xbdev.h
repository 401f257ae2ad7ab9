/*
 * xbdev.h - what a vbd and a vif have in common as xenbus backend devices:
 * their identity and xenstore paths, the state we published, finding them
 * under backend/<class> when the toolstack writes them (or when a restarted
 * blanketd takes them over), and the dispatch of their xenstore watches.
 *
 * A class (vbd.c, vif.c) keeps a struct xbdev_class; its device struct starts
 * with a struct xbdev.  What differs between classes (backing or MAC, the
 * features, connecting rings) stays in the class's callbacks.
 */
#ifndef BLANKETD_XBDEV_H
#define BLANKETD_XBDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen.h"
#include "xenbus.h"
#include "xs_util.h"

struct xbdev_class;

struct xbdev {
	struct xbdev *next;
	struct xbdev_class *cls;
	uint32_t domid, devid;        /* backend/<class>/<domid>/<devid> */
	uint32_t fe_domid;
	char be_path[96];
	char *fe_path;                /* NULL: the toolstack wrote no frontend node */
	char token[48];               /* the watch token of the frontend's nodes */
	bool fe_watched;
	enum xenbus_state state;      /* what we last published */
	char *error;                  /* why the device failed, if it did */
};

struct xbdev_class {
	const char *name;             /* "vbd", "vif": log prefix, xenstore directory, watch token */
	const char *fe_tag;           /* prefix of the frontend watches' tokens: "fe", "vfe" */
	const char *const *fe_nodes;  /* the frontend's nodes to watch, NULL-terminated */
	size_t size;                  /* of the class's device struct, which starts with struct xbdev */
	/* A new device, listed, its struct zeroed past the xbdev: set it up (fe_path may be NULL). */
	void (*probe)(struct xbdev *d);
	/* The toolstack's or the frontend's nodes changed: re-read them and act. */
	void (*update)(struct xbdev *d);
	/* Optional: another node of the backend directory changed (rest: "/node"); true if handled. */
	bool (*node_changed)(struct xbdev *d, const char *rest);
	/* set by xbdev_class_init */
	struct bl_xen *xen;
	char root[64];                /* /local/domain/<our domid>/backend/<name> */
	struct xbdev *devs;
};

/* Find our domid's backend directory and watch it (the first event scans it). */
int xbdev_class_init(struct xbdev_class *c, struct bl_xen *x);
/* A xenstore watch fired: ignored unless it is one of this class's. */
void xbdev_xs_event(struct xbdev_class *c, const char *path, const char *token);

struct xbdev *xbdev_find(const struct xbdev_class *c, uint32_t domid, uint32_t devid);
/* Write nodes[0..n) and state s in one transaction (nothing once the toolstack removed the
 * directory): a class's features go with its InitWait. */
#define XBDEV_MAX_NODES 24
void xbdev_publish(struct xbdev *d, const struct xs_kv *nodes, unsigned n, enum xenbus_state s);
static inline void xbdev_publish_state(struct xbdev *d, enum xenbus_state s)
{
	xbdev_publish(d, NULL, 0, s);
}
/* Log why the device cannot be served and tell the hotplug script (xl prints it). */
void xbdev_fail(struct xbdev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The frontend broke the protocol: log it with what the class does about it (action) and
 * leave why in the backend's blanket-error node for the admin. */
void xbdev_protocol_error(struct xbdev *d, const char *why, const char *action);
/* What the state machine (libblanket/xenbus.h) needs from xenstore now. */
struct xb_input xbdev_read_input(const struct xbdev *d);
/* Off the list, frontend unwatched; the class frees the device. */
void xbdev_remove(struct xbdev *d);
/* Off the list only (daemon exit: the devices stay in xenstore for the next blanketd). */
struct xbdev *xbdev_pop(struct xbdev_class *c);

#endif
