/*
 * vbd.h - the virtual block device backend: one struct vbd per
 * backend/vbd/<domid>/<devid> node, with one struct vbd_ring per queue.
 *
 * vbd.c runs the xenbus side (discovery, features, handshake, teardown);
 * vbd_ring.c runs the data path (requests in, uplink I/O, responses out).
 */
#ifndef BLANKETD_VBD_H
#define BLANKETD_VBD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ev.h>

#include "blkif.h"
#include "config.h"
#include "pgrant.h"
#include "ring_watch.h"
#include "uplink.h"
#include "xbdev.h"
#include "xen.h"
#include "xenbus.h"

#define VBD_MAX_QUEUES 64u

enum vbd_stat_op { VBD_OP_READ, VBD_OP_WRITE, VBD_OP_BARRIER, VBD_OP_FLUSH, VBD_OP_DISCARD,
		   VBD_OP_INDIRECT, VBD_OP_INVALID, VBD_NR_OPS };

struct vbd_queue_stats {
	uint64_t reqs[VBD_NR_OPS];
	uint64_t bytes_read, bytes_written;
	uint64_t errors;              /* requests answered with an error */
	uint64_t transient_maps;      /* grant map calls outside the persistent cache */
	uint64_t events;              /* frontend notifications received */
	uint64_t notifies;            /* notifications sent to the frontend */
	uint64_t merged;              /* requests that rode on a neighbour's uplink operation */
	uint64_t stuck;               /* requests left unanswered for 10 s (logged once each) */
	uint64_t missed_events;       /* requests the watchdog found waiting unread */
};

/*
 * Everything a restarted blanketd needs to resume a ring: the indices and
 * the private copies of in-flight requests.  Plain data, no pointers: it
 * lives in a memfd (vbd_ring.c) so it can outlive the process.
 */
struct vbd_slot_state {
	uint8_t busy;
	struct blk_req req;
};

struct vbd_ring_state {
	uint32_t ring_size;
	RING_IDX req_cons, rsp_prod_pvt;
	uint32_t nr_inflight;
	struct vbd_slot_state slot[];
};

struct vbd_io;

struct vbd_ring {
	struct vbd *vbd;
	unsigned index;
	enum blkif_proto proto;
	void *sring;                  /* the shared pages */
	unsigned nr_pages, size;
	evtchn_port_t port;
	struct vbd_ring_state *st;
	size_t st_len;
	int st_fd;                    /* memfd holding *st */
	struct vbd_io *io;            /* [size]: runtime side of each slot */
	unsigned *free_slot, nr_free;
	struct pgrant_cache pg;
	struct vbd_io *pending;       /* read/write being merged with the ones after it */
	bool dirty;                   /* responses not yet pushed */
	bool dead;                    /* the frontend broke the protocol */
	struct ring_watch watch;      /* requests waiting unread (ring_watch.h) */
	struct vbd_ring *dirty_next;
	struct vbd_queue_stats stats;
};

struct vbd {
	struct xbdev xb;              /* first: identity, paths, published state */
	char *params;
	bool readonly;
	bool cdrom;                   /* device-type=cdrom: VDISK_CDROM in info */
	bool persistent;              /* negotiated with the frontend */
	bool connected;
	struct blk_limits lim;
	struct uplink *up;
	unsigned nr_rings;
	struct vbd_ring *rings;
};

/* vbd.c */
int vbd_init(struct ev_loop *loop, struct bl_xen *xen, const struct bl_config *cfg);
void vbd_xs_event(const char *path, const char *token);
void vbd_evtchn_event(evtchn_port_t port);
/* Stop taking requests; true once no I/O is in flight (then vbd_shutdown). */
bool vbd_quiesce(void);
void vbd_shutdown(void);
/* The devices, in no particular order: for (v = vbd_list(); v; v = vbd_next(v)) */
struct vbd *vbd_list(void);
static inline struct vbd *vbd_next(const struct vbd *v)
{
	return (struct vbd *)v->xb.next;	/* every device on the vbd class's list is a vbd */
}

/* vbd_stats.c: the device list (list_only) or all stats, as text or JSON. */
void vbd_render(FILE *f, bool json, bool list_only);
/* The daemon's own cost (loop passes, sleeps, CPU, io-wq workers). */
void vbd_render_daemon(FILE *f, bool json);
/* A ring's frontend broke the protocol: disconnect its device. */
void vbd_fatal(struct vbd *v, const char *why);
/* The last in-flight request of a disconnecting device completed. */
void vbd_drained(struct vbd *v);

/* vbd_ring.c */
struct vbd_ring_ctx {
	struct bl_xen *xen;
	const struct bl_config *cfg;
	uint32_t ticks;               /* seconds, counted by vbd.c's 1 s timer */
};
extern struct vbd_ring_ctx vbd_ring_ctx;

int vbd_ring_open(struct vbd_ring *r, struct vbd *v, unsigned index, enum blkif_proto proto,
		  const grant_ref_t *refs, unsigned nr_pages, evtchn_port_t remote_port);
/* Take over a ring a previous blanketd served: restart after its last response. */
void vbd_ring_resume(struct vbd_ring *r);
/* Serve whatever the frontend queued. */
void vbd_ring_kick(struct vbd_ring *r);
/* Stop taking requests; the ring can be closed once nothing is in flight. */
bool vbd_ring_busy(const struct vbd_ring *r);
void vbd_ring_close(struct vbd_ring *r);
/* Push responses of all rings with new ones and notify their frontends. */
void vbd_ring_flush_all(void);
/* Drop persistent grants nobody used lately where a cache is full. */
void vbd_ring_purge(struct vbd_ring *r);
/* Once a second: log (once each) requests unanswered for 10 s, and serve
 * requests that waited a whole tick unread (a lost notification). */
void vbd_ring_check_stuck(struct vbd_ring *r);

#endif
