/*
 * kshim_chain.h - the part of the kshim uplink that needs no kernel: which
 * registered region holds a guest page, and how an operation's iovecs become
 * the data segments of virtio-blk requests within the device's limits.
 *
 * kshim names memory as (region id, offset); blanketd knows guest pages by
 * their address in its own mappings.  struct kmap maps each registered page
 * to its region.  kchain_next() then cuts an operation into device requests:
 * kshim turns a segment into one virtio descriptor per page it touches (or
 * fewer, where the DMA addresses of neighbouring pages happen to be
 * contiguous), so a request is ended before the worst case could pass the
 * device's seg_max, or a possibly merged descriptor its size_max.
 */
#ifndef BLANKETD_KSHIM_CHAIN_H
#define BLANKETD_KSHIM_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kshim_uapi.h"

#define KCHAIN_PAGE 4096u
#define KCHAIN_SECTOR 512u

struct kmap_entry {
	struct kmap_entry *next;
	uintptr_t page;          /* page-aligned address in this process */
	uint64_t roff;           /* the page's byte offset in its region */
	uint32_t region;         /* kshim region id */
	bool writable;
};

struct kmap {
	struct kmap_entry **bucket;
	unsigned nbuckets;       /* a power of two */
	unsigned count;          /* pages */
};

int kmap_init(struct kmap *m);
void kmap_destroy(struct kmap *m);
/* Record the pages of [addr, addr + len) (page-aligned) as region `region`
 * from its start.  -1 (ENOMEM) with nothing recorded. */
int kmap_add(struct kmap *m, uintptr_t addr, size_t len, uint32_t region, bool writable);
/* Forget the pages of [addr, addr + len). */
void kmap_del(struct kmap *m, uintptr_t addr, size_t len);
/* The entry of the page holding addr, or NULL. */
const struct kmap_entry *kmap_find(const struct kmap *m, uintptr_t addr);

struct kchain_limits {
	unsigned max_desc;       /* data descriptors per request (seg_max, queue size - 2) */
	uint32_t size_max;       /* bytes per descriptor, a multiple of 512; 0: no limit */
};

/* Where an operation's description has got to. */
struct kchain_cursor {
	unsigned iov;
	size_t off;              /* in iov[iov] */
};

/*
 * The data segments of the next device request of an operation, from *cur
 * on: into segs[0 .. lim->max_desc), flagged KSHIM_SEG_DEV_WRITE when
 * dev_write (a READ).  Returns the number of segments (0 once the iovecs
 * are all described) with *bytes their total, a multiple of 512, and *cur
 * moved past them.  Errors, with *cur unchanged: -ENOENT an address in no
 * registered region, -EPERM dev_write into a region not registered
 * writable, -EINVAL a piece not 512-byte aligned.
 */
int kchain_next(const struct kmap *m, const struct iovec *iov, unsigned iovcnt,
		struct kchain_cursor *cur, const struct kchain_limits *lim, bool dev_write,
		struct kshim_seg *segs, uint64_t *bytes);

#endif
