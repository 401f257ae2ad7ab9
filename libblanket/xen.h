/*
 * xen.h - hypervisor access for blanketd: grants, event channels, xenstore.
 *
 * One small interface with two implementations: libblanket/xen.c over
 * libxengnttab/libxenevtchn/libxenstore (and libxencall), and
 * tests/unit/fake_xen.c for unit tests that run without Xen.  The handles
 * live in struct bl_xen so a restarting daemon could get them back from
 * systemd's fd store as one unit.
 */
#ifndef BLANKET_XEN_H
#define BLANKET_XEN_H

#include <stdbool.h>
#include <stddef.h>
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
/* The same for grants of several domains, domids[i] granting refs[i]:
 * one call maps a whole batch of frames from different guests. */
void *bl_gnt_map_refs(struct bl_xen *x, uint32_t count, const uint32_t *domids,
		      const grant_ref_t *refs, bool writable);
int bl_gnt_unmap(struct bl_xen *x, void *addr, uint32_t count);

/*
 * Grant copy: one end of a segment is a grant (domid, gref, offset), or
 * memory of this process (foreign false: virt).  Neither end may cross a
 * page: offset + len <= 4096 for a grant, and the caller keeps a local
 * end inside one page too (Xen copies page by page).  Many segments go in
 * one call (one trip through Xen); each comes back with its own status,
 * GNTST_okay or a GNTST_* error (a bad ref, a read-only grant written, a
 * segment crossing a page), which the caller must check one by one: the
 * call's return only says whether the batch reached the hypervisor.
 */
struct bl_copy_ptr {
	bool foreign;
	void *virt;          /* !foreign */
	uint32_t domid;      /* foreign */
	grant_ref_t gref;
	uint16_t offset;
};
struct bl_gnt_copy_seg {
	struct bl_copy_ptr src, dst;
	uint16_t len;
	int16_t status;      /* out: GNTST_* */
};
/* 0, or -1 with errno when a batch did not reach the hypervisor (its
 * segments then say GNTST_general_error). */
int bl_gnt_copy(struct bl_xen *x, struct bl_gnt_copy_seg *segs, unsigned n);

/*
 * Memory of ours that grant copies name by grant, not by address: pages
 * granted to ourselves through xen-gntalloc.  gntdev pins a local end of a
 * copy with get_user_pages for every segment; a grant end costs it nothing.
 * Without xen-gntalloc (or past its limit) the pages are plain memory and
 * bl_self_ptr names them by address.
 */
struct bl_self_pages {
	uint8_t *addr;
	unsigned count;
	uint32_t domid;      /* ours */
	grant_ref_t *refs;   /* [count]; NULL: plain memory */
};
/* count zeroed pages, page aligned; -1 with errno when out of memory. */
int bl_self_pages_alloc(struct bl_xen *x, unsigned count, struct bl_self_pages *p);
void bl_self_pages_free(struct bl_xen *x, struct bl_self_pages *p);
/* The copy end at byte off of p (the segment must not cross a page). */
static inline struct bl_copy_ptr bl_self_ptr(const struct bl_self_pages *p, size_t off)
{
	if (!p->refs)
		return (struct bl_copy_ptr){ .virt = p->addr + off };
	return (struct bl_copy_ptr){ .foreign = true, .domid = p->domid, .gref = p->refs[off >> 12],
				     .offset = (uint16_t)(off & 4095) };
}
/* Where to copy the byte of a grant probe (a 1-byte copy that only checks a
 * guest granted a page): a shared scratch page of bl_self_pages. */
struct bl_copy_ptr bl_gnt_probe_sink(struct bl_xen *x);

/* --- event channels ------------------------------------------------------ */

int bl_evtchn_fd(struct bl_xen *x);
/* Bind to remote_port of domid; the local port, or -1. */
int bl_evtchn_bind(struct bl_xen *x, uint32_t domid, evtchn_port_t remote_port);
int bl_evtchn_unbind(struct bl_xen *x, evtchn_port_t port);
/* Notify n ports in one hypercall (a multicall through privcmd, where it
 * opens; one ioctl each otherwise).  0, or -1 if any failed. */
int bl_evtchn_notify_many(struct bl_xen *x, const evtchn_port_t *ports, unsigned n);
/* Whether batches go as multicalls (privcmd opens at the first ask). */
bool bl_evtchn_multicall(struct bl_xen *x);
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
