/*
 * xen.h - hypervisor access for blanketd: grants, event channels, xenstore.
 *
 * One small interface with two implementations: libblanket/xen.c over
 * libxengnttab/libxenevtchn/libxenstore, and tests/unit/fake_xen.c for unit
 * tests that run without Xen.  All three handles live in struct bl_xen so a
 * restarting daemon could get them back from systemd's fd store as one unit.
 */
#ifndef BLANKET_XEN_H
#define BLANKET_XEN_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>

struct bl_xen;

/* Open the gntdev, evtchn and xenstore handles.  NULL and errno on failure;
 * *what names the part that failed (for the one-line error). */
struct bl_xen *bl_xen_open(const char **what);
void bl_xen_close(struct bl_xen *x);

/* --- grants ------------------------------------------------------------ */

/* Raise gntdev's per-handle limit of mapped grants. */
int bl_gnt_set_max(struct bl_xen *x, uint32_t count);
/* Map count grants of domid contiguously; NULL if any of them is bad. */
void *bl_gnt_map(struct bl_xen *x, uint32_t domid, uint32_t count,
		 const grant_ref_t *refs, bool writable);
int bl_gnt_unmap(struct bl_xen *x, void *addr, uint32_t count);

/* --- event channels ------------------------------------------------------ */

int bl_evtchn_fd(struct bl_xen *x);
/* Bind to remote_port of domid; the local port, or -1. */
int bl_evtchn_bind(struct bl_xen *x, uint32_t domid, evtchn_port_t remote_port);
int bl_evtchn_unbind(struct bl_xen *x, evtchn_port_t port);
int bl_evtchn_notify(struct bl_xen *x, evtchn_port_t port);
/* Read up to max pending ports in one call (one syscall for the batch);
 * returns how many, 0 if none, -1 on error. */
int bl_evtchn_pending(struct bl_xen *x, evtchn_port_t *ports, unsigned max);
/* Unmask n ports in one call. */
int bl_evtchn_unmask(struct bl_xen *x, const evtchn_port_t *ports, unsigned n);

/* --- xenstore ------------------------------------------------------------ */

typedef uint32_t bl_xs_txn; /* 0: no transaction */

int bl_xs_fd(struct bl_xen *x);
/* Read a node as a NUL-terminated string (malloc'd); NULL if absent. */
char *bl_xs_read(struct bl_xen *x, bl_xs_txn t, const char *path);
bool bl_xs_write(struct bl_xen *x, bl_xs_txn t, const char *path, const char *val);
bool bl_xs_rm(struct bl_xen *x, bl_xs_txn t, const char *path);
/* Children of a node (one malloc'd block, free() it); NULL if absent. */
char **bl_xs_directory(struct bl_xen *x, bl_xs_txn t, const char *path, unsigned *num);
bool bl_xs_watch(struct bl_xen *x, const char *path, const char *token);
bool bl_xs_unwatch(struct bl_xen *x, const char *path, const char *token);
/* Next fired watch without blocking: vec[0] path, vec[1] token; free(vec).
 * NULL when none is queued. */
char **bl_xs_next_watch(struct bl_xen *x);
bl_xs_txn bl_xs_begin(struct bl_xen *x);
/* Commit (or abort); false with errno EAGAIN means "retry the transaction". */
bool bl_xs_end(struct bl_xen *x, bl_xs_txn t, bool abort);

#endif
