/* pgrant.c - see pgrant.h. */
#include <stdlib.h>

#include "pgrant.h"

#define PGRANT_PAGE_SIZE 4096u  /* one grant = one page */

static bool can_register(const struct pgrant_cache *c)
{
	return c->up && c->up->ops->mem_register;
}

int pgrant_init(struct pgrant_cache *c, unsigned max)
{
	*c = (struct pgrant_cache){ .max = max };
	if (max == 0)
		return 0;
	/* A power of two at least the capacity keeps chains short. */
	c->nbuckets = 64;
	while (c->nbuckets < max)
		c->nbuckets <<= 1;
	c->bucket = calloc(c->nbuckets, sizeof(*c->bucket));
	c->pool = calloc(max, sizeof(*c->pool));
	if (!c->bucket || !c->pool) {
		free(c->bucket);
		free(c->pool);
		return -1;
	}
	for (unsigned i = 0; i < max; i++) {
		c->pool[i].next = c->free;
		c->free = &c->pool[i];
	}
	return 0;
}

static unsigned hash(const struct pgrant_cache *c, grant_ref_t gref)
{
	return (gref * 2654435761u) & (c->nbuckets - 1);
}

struct pgrant *pgrant_get(struct pgrant_cache *c, struct bl_xen *x, uint32_t domid,
			  grant_ref_t gref, bool *full)
{
	struct pgrant *p;
	unsigned h;

	*full = false;
	if (c->max == 0) {
		*full = true;
		return NULL;
	}
	h = hash(c, gref);
	for (p = c->bucket[h]; p; p = p->next)
		if (p->gref == gref) {
			c->hits++;
			p->users++;
			p->last_use = ++c->tick;
			return p;
		}
	c->misses++;
	if (!c->free) {
		*full = true;
		return NULL;
	}
	p = c->free;
	p->addr = bl_gnt_map(x, domid, 1, &gref, true);
	if (!p->addr)
		return NULL;
	/* Persistent grants are mapped writable: register them so, once.  If
	 * the uplink refuses (it said why), requests on this page register
	 * it for themselves. */
	p->registered = can_register(c) &&
			c->up->ops->mem_register(c->up, p->addr, PGRANT_PAGE_SIZE, true) == 0;
	c->free = p->next;
	p->gref = gref;
	p->users = 1;
	p->last_use = ++c->tick;
	p->next = c->bucket[h];
	c->bucket[h] = p;
	c->count++;
	return p;
}

static void evict(struct pgrant_cache *c, struct bl_xen *x, struct pgrant **link)
{
	struct pgrant *p = *link;

	*link = p->next;
	/* Never unmap a page the device may still reach. */
	if (p->registered)
		c->up->ops->mem_unregister(c->up, p->addr, PGRANT_PAGE_SIZE);
	p->registered = false;
	bl_gnt_unmap(x, p->addr, 1);
	p->addr = NULL;
	p->next = c->free;
	c->free = p;
	c->count--;
}

void pgrant_purge(struct pgrant_cache *c, struct bl_xen *x, unsigned n)
{
	/* Rare (only when the cache is full), so a scan per victim is fine. */
	while (n--) {
		struct pgrant **victim = NULL;

		for (unsigned h = 0; h < c->nbuckets; h++)
			for (struct pgrant **l = &c->bucket[h]; *l; l = &(*l)->next)
				if (!(*l)->users && (!victim || (*l)->last_use < (*victim)->last_use))
					victim = l;
		if (!victim)
			return;
		evict(c, x, victim);
	}
}

void pgrant_destroy(struct pgrant_cache *c, struct bl_xen *x)
{
	for (unsigned h = 0; h < c->nbuckets; h++)
		while (c->bucket[h])
			evict(c, x, &c->bucket[h]);
	free(c->bucket);
	free(c->pool);
	*c = (struct pgrant_cache){ 0 };
}
