/*
 * copy_pool.h - an uplink's tx_buffer copies (uplink.h): a fixed number of
 * equal buffers, NET_UPLINK_COPY_PAGES pages each, in one region, handed
 * out and taken back as a stack, so the buffer freed last (still warm)
 * goes out first.  The TAP's and kshim-net's.
 */
#ifndef BLANKETD_COPY_POOL_H
#define BLANKETD_COPY_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "uplink.h"

#define COPY_POOL_MAX 64u
#define COPY_POOL_BUF_SIZE ((size_t)NET_UPLINK_COPY_PAGES * 4096u)

struct copy_pool {
	uint8_t *mem;                    /* nbufs buffers, or NULL: none */
	unsigned nbufs;
	uint16_t free[COPY_POOL_MAX];    /* stack of free buffers */
	unsigned nfree;
};

/* Every buffer free, buffer 0 on top.  mem holds nbufs (<= COPY_POOL_MAX)
 * buffers, or is NULL. */
static inline void copy_pool_init(struct copy_pool *p, uint8_t *mem, unsigned nbufs)
{
	p->mem = mem;
	p->nbufs = mem ? nbufs : 0;
	p->nfree = 0;
	for (unsigned b = p->nbufs; b-- > 0;)
		p->free[p->nfree++] = (uint16_t)b;
}

/* A free buffer, or NULL with all in use. */
static inline void *copy_pool_get(struct copy_pool *p)
{
	return p->nfree ? p->mem + (size_t)p->free[--p->nfree] * COPY_POOL_BUF_SIZE : NULL;
}

/* Buffer i (copy_pool_index) is free again. */
static inline void copy_pool_put_index(struct copy_pool *p, int i)
{
	p->free[p->nfree++] = (uint16_t)i;
}

static inline void copy_pool_put(struct copy_pool *p, void *buf)
{
	copy_pool_put_index(p, (int)(((uint8_t *)buf - p->mem) / COPY_POOL_BUF_SIZE));
}

/* The buffer addr lies in, or -1 if it is none of the pool's. */
static inline int copy_pool_index(const struct copy_pool *p, const void *addr)
{
	const uint8_t *a = addr;

	if (!a || !p->mem || a < p->mem || a >= p->mem + p->nbufs * COPY_POOL_BUF_SIZE)
		return -1;
	return (int)((size_t)(a - p->mem) / COPY_POOL_BUF_SIZE);
}

#endif
