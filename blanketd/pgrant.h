/*
 * pgrant.h - persistent grants: a frontend's grant refs kept mapped across
 * requests (feature-persistent), looked up by gref, bounded, and purged
 * least-recently-used first, as xen-blkback does.
 */
#ifndef BLANKETD_PGRANT_H
#define BLANKETD_PGRANT_H

#include <stdbool.h>
#include <stdint.h>

#include "uplink.h"
#include "xen.h"

struct pgrant {
	struct pgrant *next;   /* hash chain, or free list */
	void *addr;
	grant_ref_t gref;
	uint32_t users;        /* requests in flight using it */
	uint64_t last_use;     /* cache tick of the last lookup */
	bool registered;       /* with the uplink (mem_register) */
};

struct pgrant_cache {
	struct pgrant **bucket;
	struct pgrant *pool, *free;
	unsigned nbuckets, count, max;
	uint64_t tick;
	uint64_t hits, misses;
	/* The uplink the pages go to: one with mem_register gets each page
	 * registered when mapped and released before it is unmapped, so that
	 * requests on persistent grants register nothing. */
	struct uplink *up;
};

int pgrant_init(struct pgrant_cache *c, unsigned max);
/* Give the cache its uplink (after pgrant_init, before the first get). */
static inline void pgrant_set_uplink(struct pgrant_cache *c, struct uplink *up) { c->up = up; }
/* Find gref, or map it (writable) and keep it if there is room.
 * Returns the entry with one more user, or NULL: *full tells whether the
 * cache had no room (map it transiently) or the map failed (a bad gref). */
struct pgrant *pgrant_get(struct pgrant_cache *c, struct bl_xen *x, uint32_t domid,
			  grant_ref_t gref, bool *full);
static inline void pgrant_put(struct pgrant *p) { p->users--; }
/* Unmap up to n unused entries, oldest first. */
void pgrant_purge(struct pgrant_cache *c, struct bl_xen *x, unsigned n);
/* Unmap everything; no entry may have users. */
void pgrant_destroy(struct pgrant_cache *c, struct bl_xen *x);

#endif
