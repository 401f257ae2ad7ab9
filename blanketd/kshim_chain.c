/* kshim_chain.c - see kshim_chain.h. */
#include <errno.h>
#include <stdlib.h>

#include "kshim_chain.h"

int kmap_init(struct kmap *m)
{
	*m = (struct kmap){ .nbuckets = 1024 };
	m->bucket = calloc(m->nbuckets, sizeof(*m->bucket));
	return m->bucket ? 0 : -1;
}

void kmap_destroy(struct kmap *m)
{
	for (unsigned h = 0; m->bucket && h < m->nbuckets; h++)
		while (m->bucket[h]) {
			struct kmap_entry *e = m->bucket[h];

			m->bucket[h] = e->next;
			free(e);
		}
	free(m->bucket);
	*m = (struct kmap){ 0 };
}

static unsigned hash(const struct kmap *m, uintptr_t page)
{
	uint64_t k = (uint64_t)page / KCHAIN_PAGE;

	return (unsigned)((k * 0x9E3779B97F4A7C15ull) >> 32) & (m->nbuckets - 1);
}

/* Double the table once it holds more pages than buckets: lookups stay
 * one or two steps with a thousand persistent grants per ring. */
static void grow(struct kmap *m)
{
	unsigned n = m->nbuckets * 2;
	struct kmap_entry **b = calloc(n, sizeof(*b));
	struct kmap old = *m;

	if (!b)
		return; /* longer chains, still correct */
	m->bucket = b;
	m->nbuckets = n;
	for (unsigned h = 0; h < old.nbuckets; h++)
		while (old.bucket[h]) {
			struct kmap_entry *e = old.bucket[h];
			unsigned nh = hash(m, e->page);

			old.bucket[h] = e->next;
			e->next = b[nh];
			b[nh] = e;
		}
	free(old.bucket);
}

int kmap_add(struct kmap *m, uintptr_t addr, size_t len, uint32_t region, bool writable)
{
	size_t n = len / KCHAIN_PAGE;

	for (size_t i = 0; i < n; i++) {
		struct kmap_entry *e = malloc(sizeof(*e));
		unsigned h;

		if (!e) {
			kmap_del(m, addr, i * KCHAIN_PAGE);
			errno = ENOMEM;
			return -1;
		}
		e->page = addr + i * KCHAIN_PAGE;
		e->roff = (uint64_t)i * KCHAIN_PAGE;
		e->region = region;
		e->writable = writable;
		h = hash(m, e->page);
		e->next = m->bucket[h];
		m->bucket[h] = e;
		m->count++;
	}
	if (m->count > m->nbuckets)
		grow(m);
	return 0;
}

void kmap_del(struct kmap *m, uintptr_t addr, size_t len)
{
	for (uintptr_t p = addr; p < addr + len; p += KCHAIN_PAGE) {
		for (struct kmap_entry **l = &m->bucket[hash(m, p)]; *l; l = &(*l)->next)
			if ((*l)->page == p) {
				struct kmap_entry *e = *l;

				*l = e->next;
				free(e);
				m->count--;
				break;
			}
	}
}

const struct kmap_entry *kmap_find(const struct kmap *m, uintptr_t addr)
{
	uintptr_t page = addr & ~(uintptr_t)(KCHAIN_PAGE - 1);

	for (const struct kmap_entry *e = m->bucket[hash(m, page)]; e; e = e->next)
		if (e->page == page)
			return e;
	return NULL;
}

int kchain_next(const struct kmap *m, const struct iovec *iov, unsigned iovcnt,
		struct kchain_cursor *cur, const struct kchain_limits *lim, bool dev_write,
		struct kshim_seg *segs, uint64_t *bytes)
{
	struct kchain_cursor c = *cur;
	unsigned n = 0, desc = 0;
	uint64_t total = 0;
	/* Bytes of the descriptor kshim may have merged the last piece into. */
	uint64_t run = 0;

	while (c.iov < iovcnt) {
		uintptr_t base = (uintptr_t)iov[c.iov].iov_base + c.off;
		size_t left = iov[c.iov].iov_len - c.off, in_page, piece;
		const struct kmap_entry *e;
		struct kshim_seg *last = n ? &segs[n - 1] : NULL;
		uint64_t roff;
		bool contig, new_desc;

		if (!left) {
			c.iov++;
			c.off = 0;
			continue;
		}
		/* virtio-blk moves whole sectors; cutting anywhere else would
		 * make a request that is not. */
		if ((base | left) & (KCHAIN_SECTOR - 1))
			return -EINVAL;
		e = kmap_find(m, base);
		if (!e)
			return -ENOENT;
		if (dev_write && !e->writable)
			return -EPERM;
		in_page = base & (KCHAIN_PAGE - 1);
		piece = KCHAIN_PAGE - in_page < left ? KCHAIN_PAGE - in_page : left;
		roff = e->roff + in_page;
		contig = last && last->region == e->region && last->offset + last->len == roff;
		/* Within a page kshim always merges (the DMA address goes on);
		 * across a page boundary it may not: count a new descriptor. */
		new_desc = !contig || (roff & (KCHAIN_PAGE - 1)) == 0;
		if (!contig)
			run = 0;
		if (lim->size_max && run + piece > lim->size_max) {
			uint64_t room = (lim->size_max - run) & ~(uint64_t)(KCHAIN_SECTOR - 1);

			/* The rest goes to the next request, where kshim
			 * cannot merge it into this descriptor. */
			if (!room)
				break;
			piece = room;
		}
		if (new_desc && desc == lim->max_desc)
			break;
		if (contig) {
			last->len += (uint32_t)piece;
		} else {
			segs[n++] = (struct kshim_seg){
				.region = e->region,
				.flags = dev_write ? KSHIM_SEG_DEV_WRITE : 0,
				.offset = roff,
				.len = (uint32_t)piece,
			};
		}
		desc += new_desc;
		run += piece;
		total += piece;
		c.off += piece;
	}
	*cur = c;
	*bytes = total;
	return (int)n;
}
