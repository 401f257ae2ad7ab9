/*
 * fake_xen_priv.h - the inside of the in-memory Xen, shared by its two
 * halves: fake_xen.c (open/close, guest memory, grants, event channels)
 * and fake_xs.c (xenstore).  Tests use fake_xen.h.
 */
#ifndef BLANKET_FAKE_XEN_PRIV_H
#define BLANKET_FAKE_XEN_PRIV_H

#include <stddef.h>

#include "fake_xen.h"

#define MAX_PORTS 1024u
#define SELF_PREFIX "/local/domain/0/"

struct grant {
	uint32_t domid;
	grant_ref_t gref;
	unsigned page;
	bool writable;
	uint8_t *self;       /* a page of ours granted to ourselves (bl_self_pages), or NULL */
};

struct mapping {
	void *addr;
	uint32_t count;
};

struct port {
	bool bound, masked, pending, queued;
	uint32_t domid;
	evtchn_port_t remote;
	unsigned notifies;
};

struct node {
	char *path, *value;
};

struct watch {
	char *path, *token;
};

struct event {
	char *path, *token;
};

struct tree {
	struct node *n;
	unsigned count, cap;
};

struct evq {
	struct event *e;
	unsigned count, cap;
};

struct bl_xen {
	/* guest memory */
	int memfd;
	unsigned char *guest;
	/* grants */
	struct grant *grants;
	unsigned nr_grants, cap_grants;
	struct mapping *maps;
	unsigned nr_maps, cap_maps;
	struct fake_gnt_stats gs;
	/* event channels; port 0 is never handed out, as in Xen */
	int evtchn_fd;
	struct port ports[MAX_PORTS];
	evtchn_port_t fifo[MAX_PORTS];
	unsigned fifo_head, fifo_len;
	unsigned bad_evtchn_calls;
	unsigned notify_calls;       /* bl_evtchn_notify_many calls */
	/* xenstore */
	int xs_fd;
	struct tree tree, snapshot;
	bl_xs_txn txn, next_txn;
	struct evq queue, txn_events;
	struct watch *watches;
	unsigned nr_watches, cap_watches;
	unsigned fail_commits;
};

/* The one fake (bl_xen_open() creates it). */
extern struct bl_xen *fx;

/* fake_xen.c */
void *xgrow(void *p, unsigned *cap, unsigned need, size_t elem);
void fd_signal(int fd);
void fd_clear(int fd);

/* fake_xs.c */
void tree_free(struct tree *t);
void evq_clear(struct evq *q);

#endif
