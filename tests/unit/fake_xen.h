/*
 * fake_xen.h - what a test can do with the in-memory Xen of fake_xen.c.
 *
 * fake_xen.c implements every function of libblanket/xen.h without a
 * hypervisor: grants over a memfd of "guest memory" (mapped with real
 * mmap()s, so a mapping aliases the guest's page like gntdev's does), event
 * channels over an eventfd, and (in fake_xs.c) a xenstore tree with
 * transactions and watches.  There is one fake at a time: bl_xen_open()
 * creates it with empty state, bl_xen_close() destroys it.  The functions
 * below act on it from the other side: as the guest (grants, event-channel
 * kicks) and as the observer (counters).
 */
#ifndef BLANKET_FAKE_XEN_H
#define BLANKET_FAKE_XEN_H

#include <stdbool.h>
#include <stdint.h>

#include "xen.h"

#define FAKE_PAGE_SIZE 4096u
/* Pages of guest memory: enough for 16-page rings, indirect pages and a
 * few hundred data pages. */
#define FAKE_GUEST_PAGES 2048u

/* The guest's own view of page n of its memory (a mapping of the memfd). */
void *fake_guest_page(unsigned n);

/* --- grants ---------------------------------------------------------------- */

/* Domain domid grants gref for guest page `page`, read-only unless writable. */
void fake_gnt_grant(uint32_t domid, grant_ref_t gref, unsigned page, bool writable);
void fake_gnt_revoke(uint32_t domid, grant_ref_t gref);
/* bl_self_pages from now on granted to ourselves (FAKE_SELF_DOMID), as with
 * xen-gntalloc: copies may name them by grant.  Off: plain memory. */
#define FAKE_SELF_DOMID 0u
void fake_self_grants(bool on);
/* The page behind a live grant (NULL if none), read without a counted
 * copy: what a switch port sees through a frame's grants. */
const void *fake_gnt_page(uint32_t domid, grant_ref_t gref);

struct fake_gnt_stats {
	uint64_t map_calls;      /* bl_gnt_map calls, successful or not */
	uint64_t map_failures;
	uint64_t pages_mapped;   /* pages mapped by successful calls */
	uint64_t unmap_calls;    /* successful bl_gnt_unmap calls */
	uint64_t bad_unmaps;     /* bl_gnt_unmap of something not mapped as given */
	unsigned outstanding;    /* live mappings (one per successful map call) */
	unsigned outstanding_pages;
	uint32_t max_grants;     /* last bl_gnt_set_max */
	uint64_t copy_calls;     /* bl_gnt_copy calls */
	uint64_t copy_segs;      /* segments they carried */
	uint64_t copy_bytes;     /* bytes of the segments that succeeded */
	uint64_t copy_errors;    /* segments that failed */
	uint64_t copy_foreign_both; /* segments grant -> grant (no dom0 buffer) */
};
struct fake_gnt_stats fake_gnt_stats(void);

/* Grant copy validates like Xen: each foreign end needs a grant of that
 * (domid, gref) (else GNTST_bad_gntref), a destination grant must be
 * writable (else GNTST_general_error, as Xen 4.17 answers), and offset +
 * len must stay in the page (else GNTST_bad_copy_arg).  A failed segment
 * copies nothing. */

/* --- event channels -------------------------------------------------------- */

/* The local port the backend bound to (domid, remote_port); -1 if none. */
int fake_evtchn_local_port(uint32_t domid, evtchn_port_t remote_port);
/* The guest notifies local port `port` (delivered unless masked). */
void fake_evtchn_kick(evtchn_port_t port);
/* Notifications the backend sent on local port `port` since it was bound. */
unsigned fake_evtchn_notifies(evtchn_port_t port);
/* Batches of notifications sent (bl_evtchn_notify_many calls). */
unsigned fake_evtchn_notify_calls(void);
/* Ports currently bound; notify/unmask calls on unbound ports. */
unsigned fake_evtchn_bound(void);
unsigned fake_evtchn_bad_calls(void);

/* --- xenstore ---------------------------------------------------------------- */

/* Make the next n transaction commits fail with EAGAIN (as when another
 * client committed first): callers must retry. */
void fake_xs_fail_commits(unsigned n);
/* Nodes in the tree whose path starts with prefix (all if NULL). */
unsigned fake_xs_count(const char *prefix);
/* Print the tree (debugging a test). */
void fake_xs_dump(void);
/* Watches registered and not removed. */
unsigned fake_xs_watches(void);
/* The daemon's xenstore connection closed (it exited): its watches and
 * queued events are gone, as xenstored forgets them. */
void fake_xs_drop_watches(void);

#endif
