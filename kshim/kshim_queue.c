// SPDX-License-Identifier: GPL-2.0
/*
 * Virtqueues (virtio 1.x split ring). The descriptor table and the avail ring are coherent
 * DMA memory that only kshim writes: userspace describes chains in its mmap'ed area in terms of
 * registered regions, and kshim_kick() validates each one, translates it to DMA addresses and
 * publishes it. Descriptors are taken from and returned to a kernel-private free list; a
 * region's in-flight count keeps it registered until the device has returned every descriptor
 * that points into it.
 */
#include <linux/dma-mapping.h>
#include <linux/eventfd.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <uapi/linux/virtio_config.h>
#include <uapi/linux/virtio_ring.h>

#include "kshim.h"

/* The split ring's layout (virtio 1.x, 2.7), little-endian. */
struct kshim_vring_desc {
	__le64 addr;
	__le32 len;
	__le16 flags;
	__le16 next;
};

struct kshim_vring_avail {
	__le16 flags;
	__le16 idx;
	__le16 ring[];		/* [size], then used_event */
};

struct kshim_vring_used_elem {
	__le32 id;
	__le32 len;
};

struct kshim_vring_used {
	__le16 flags;
	__le16 idx;
	struct kshim_vring_used_elem ring[];	/* [size], then avail_event */
};

static bool kshim_event_idx(const struct kshim_queue *q)
{
	return q->kd->features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
}

/* EVENT_IDX fields: each side's index past the end of the other side's ring. */
static __le16 *kshim_used_event(struct kshim_queue *q)
{
	return &q->avail->ring[q->size];
}

static __le16 *kshim_avail_event(struct kshim_queue *q)
{
	return (__le16 *)&q->used->ring[q->size];
}

/* Indirect tables are carved from coherent pages, this many to a page. */
#define KSHIM_ITAB_BYTES (KSHIM_INDIRECT_MAX * sizeof(struct kshim_vring_desc))
#define KSHIM_ITABS_PER_PAGE (PAGE_SIZE / KSHIM_ITAB_BYTES)

static void kshim_itab_free(struct kshim_queue *q)
{
	struct device *dev = kshim_dma_dev(q->kd);
	u16 i;

	for (i = 0; q->itab && i < q->size; i += KSHIM_ITABS_PER_PAGE)
		if (q->itab[i])
			dma_free_coherent(dev, PAGE_SIZE, q->itab[i], q->itab_dma[i]);
	kvfree(q->itab);
	kvfree(q->itab_dma);
	kvfree(q->ist);
	q->itab = NULL;
	q->itab_dma = NULL;
	q->ist = NULL;
}

/* One table per ring descriptor, so a head's table is free exactly when the head is. Page by
 * page: a Xen PV dom0 has no machine-contiguous memory to spare for one large allocation. */
static int kshim_itab_alloc(struct kshim_queue *q)
{
	struct device *dev = kshim_dma_dev(q->kd);
	u16 i, j;

	q->itab = kvcalloc(q->size, sizeof(*q->itab), GFP_KERNEL);
	q->itab_dma = kvcalloc(q->size, sizeof(*q->itab_dma), GFP_KERNEL);
	q->ist = kvcalloc((size_t)q->size * KSHIM_INDIRECT_MAX, sizeof(*q->ist), GFP_KERNEL);
	if (!q->itab || !q->itab_dma || !q->ist)
		return -ENOMEM;
	for (i = 0; i < q->size; i += KSHIM_ITABS_PER_PAGE) {
		void *page = dma_alloc_coherent(dev, PAGE_SIZE, &q->itab_dma[i], GFP_KERNEL);

		if (!page)
			return -ENOMEM;
		for (j = 0; j < KSHIM_ITABS_PER_PAGE && i + j < q->size; j++) {
			q->itab[i + j] = page + j * KSHIM_ITAB_BYTES;
			q->itab_dma[i + j] = q->itab_dma[i] + j * KSHIM_ITAB_BYTES;
		}
	}
	return 0;
}

static irqreturn_t kshim_queue_irq(int irq, void *data)
{
	struct kshim_queue *q = data;

	eventfd_signal(q->eventfd, 1);
	return IRQ_HANDLED;
}

/* Detaches the queue from the device and frees what the device could touch. Only after the
 * device is reset (or gone); the shared area stays until close because it may be mapped. */
void kshim_queue_stop(struct kshim_queue *q)
{
	struct kshim_dev *kd = q->kd;

	if (q->irq >= 0)
		free_irq(q->irq, q);
	q->irq = -1;
	if (q->eventfd)
		eventfd_ctx_put(q->eventfd);
	q->eventfd = NULL;
	/* vp_modern_map_vq_notify() maps per queue only when the notify area was too big to map
	 * whole at probe time. */
	if (q->notify && !kd->mdev.notify_base)
		pci_iounmap(kd->pdev, q->notify);
	q->notify = NULL;
	if (q->ring)
		dma_free_coherent(kshim_dma_dev(kd), q->ring_bytes, q->ring, q->ring_dma);
	q->ring = NULL;
	kshim_itab_free(q);
	kvfree(q->st);
	q->st = NULL;
	/* a stopped queue has no ring: make KICK refuse it rather than trust every caller */
	q->broken = true;
}

void kshim_queue_free(struct kshim_queue *q)
{
	kshim_queue_stop(q);
	vfree(q->area);
	kfree(q);
}

int kshim_queue_setup(struct kshim_dev *kd, struct kshim_queue_setup *qs)
{
	struct virtio_pci_modern_device *mdev = &kd->mdev;
	size_t desc_bytes, used_off;
	struct kshim_queue *q;
	u16 max, vector = VIRTIO_MSI_NO_VECTOR;
	int ret, i;

	if (qs->index >= kd->nqueues)
		return -EINVAL;
	if (kd->queues[qs->index])
		return -EEXIST;
	/* Still the device's maximum: kshim sets a queue's size only once per open. */
	max = vp_modern_get_queue_size(mdev, qs->index);
	if (!max)
		return -ENOENT;
	if (!qs->size)
		qs->size = rounddown_pow_of_two(max);
	if (qs->size > max || !is_power_of_2(qs->size))
		return -EINVAL;

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return -ENOMEM;
	q->kd = kd;
	q->index = qs->index;
	q->size = qs->size;
	q->irq = -1;

	desc_bytes = sizeof(struct kshim_vring_desc) * q->size;
	/* avail (driver area) right after the table; used (device area) on its own cache line */
	used_off = ALIGN(desc_bytes + struct_size(q->avail, ring, q->size + 1), SMP_CACHE_BYTES);
	q->ring_bytes = used_off + struct_size(q->used, ring, q->size) + sizeof(__le16);
	q->ring = dma_alloc_coherent(kshim_dma_dev(kd), q->ring_bytes, &q->ring_dma, GFP_KERNEL);
	q->st = kvcalloc(q->size, sizeof(*q->st), GFP_KERNEL);
	q->area_size = PAGE_ALIGN((size_t)q->size * (sizeof(struct kshim_chain) +
				  sizeof(struct kshim_seg) + sizeof(struct kshim_cqe)));
	q->area = vmalloc_user(q->area_size);
	if (!q->ring || !q->st || !q->area) {
		ret = -ENOMEM;
		goto fail;
	}
	if (kd->features & BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)) {
		ret = kshim_itab_alloc(q);
		if (ret)
			goto fail;
	}
	q->desc = q->ring;
	q->avail = q->ring + desc_bytes;
	q->used = q->ring + used_off;
	for (i = 0; i < q->size; i++)
		q->st[i].next = i + 1;
	q->num_free = q->size;

	q->notify = vp_modern_map_vq_notify(mdev, q->index, NULL);
	if (!q->notify) {
		ret = -EIO;
		goto fail;
	}

	if (qs->eventfd >= 0) {
		if (q->index >= kd->nvec) {
			ret = -ENOSPC;
			goto fail;
		}
		q->eventfd = eventfd_ctx_fdget(qs->eventfd);
		if (IS_ERR(q->eventfd)) {
			ret = PTR_ERR(q->eventfd);
			q->eventfd = NULL;
			goto fail;
		}
		snprintf(q->irq_name, sizeof(q->irq_name), "kshim-%s-q%u",
			 pci_name(kd->pdev), q->index);
		ret = request_irq(pci_irq_vector(kd->pdev, q->index), kshim_queue_irq, 0,
				  q->irq_name, q);
		if (ret)
			goto fail;
		q->irq = pci_irq_vector(kd->pdev, q->index);
		vector = q->index;
	}
	/* The read-back tells whether the device could assign the vector. */
	if (vp_modern_queue_vector(mdev, q->index, vector) != vector) {
		ret = -EBUSY;
		goto fail;
	}
	vp_modern_set_queue_size(mdev, q->index, q->size);
	vp_modern_queue_address(mdev, q->index, q->ring_dma, q->ring_dma + desc_bytes,
				q->ring_dma + used_off);
	vp_modern_set_queue_enable(mdev, q->index, true);

	qs->mmap_offset = (u64)q->index << KSHIM_MMAP_SHIFT;
	qs->area_size = q->area_size;
	qs->chain_off = 0;
	qs->seg_off = q->size * sizeof(struct kshim_chain);
	qs->cqe_off = qs->seg_off + q->size * sizeof(struct kshim_seg);
	/* kshim_mmap() looks the queue up without the lock */
	smp_store_release(&kd->queues[q->index], q);
	return 0;

fail:
	kshim_queue_free(q);
	return ret;
}

/* Gives back the region references of n entries of a chain, syncing what the device wrote
 * for the CPU when it is done (sync) and not when the chain never reached it. */
static void kshim_descs_release(struct kshim_queue *q, struct kshim_desc_state *st, u16 first,
				u16 n, bool sync)
{
	struct device *dev = kshim_dma_dev(q->kd);
	u16 i = first;

	while (n--) {
		struct kshim_desc_state *s = &st[i];

		if (sync && s->dev_write && s->region->sync) {
			u64 off = s->roff, end = s->roff + s->len;

			while (off < end) {
				unsigned long pg = off >> PAGE_SHIFT;
				u32 poff = offset_in_page(off);
				u32 plen = min_t(u64, PAGE_SIZE - poff, end - off);

				dma_sync_single_range_for_cpu(dev, s->region->dma[pg], poff, plen,
							      DMA_BIDIRECTIONAL);
				off += plen;
			}
		}
		s->region->inflight--;
		s->region = NULL;
		i = s->next;
	}
}

/* Returns a completed chain's descriptors to the free list; the CPU may now read what the
 * device wrote. */
static void kshim_chain_done(struct kshim_queue *q, u16 head)
{
	struct kshim_desc_state *h = &q->st[head];
	u16 i, last = head;

	h->head = false;
	q->recv_inflight -= h->recv;
	if (h->nind)
		kshim_descs_release(q, &q->ist[(size_t)head * KSHIM_INDIRECT_MAX], 0, h->nind, true);
	else
		kshim_descs_release(q, q->st, head, h->ndesc, true);
	h->nind = 0;
	for (i = 1; i < h->ndesc; i++)
		last = q->st[last].next;
	q->st[last].next = q->free_head;
	q->free_head = head;
	q->num_free += h->ndesc;
}

/* Collects the used ring into the area's cqes[]. Returns the number written, or -EIO if the
 * device returned a descriptor that is not the head of an in-flight chain. */
static int kshim_reap(struct kshim_queue *q)
{
	struct kshim_cqe *cqe = q->area + q->size * (sizeof(struct kshim_chain) +
						     sizeof(struct kshim_seg));
	int n = 0;

	for (;;) {
		u16 used_idx = le16_to_cpu(READ_ONCE(q->used->idx));

		if (used_idx == q->last_used) {
			if (!kshim_event_idx(q))
				break;
			/* Ask for an interrupt at the next completion, then look again: one that
			 * landed before the device saw used_event would raise none. */
			WRITE_ONCE(*kshim_used_event(q), cpu_to_le16(q->last_used));
			mb();
			if (le16_to_cpu(READ_ONCE(q->used->idx)) == q->last_used)
				break;
			continue;
		}
		/* read the entries only after the index that covers them */
		dma_rmb();
		while (q->last_used != used_idx) {
			struct kshim_vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
			u32 id = le32_to_cpu(READ_ONCE(e->id));

			if (id >= q->size || !q->st[id].head || n >= q->size) {
				dev_err(&q->kd->pdev->dev, "queue %u: bogus used id %u\n",
					q->index, id);
				q->broken = true;
				return -EIO;
			}
			cqe[n].cookie = q->st[id].cookie;
			cqe[n].len = le32_to_cpu(READ_ONCE(e->len));
			cqe[n].reserved = 0;
			n++;
			kshim_chain_done(q, id);
			q->last_used++;
		}
	}
	return n;
}

/* A chain being built: in the ring, from the free list onwards, or in a head's indirect
 * table, from its entry 0 onwards. */
struct kshim_build {
	struct kshim_vring_desc *desc;
	struct kshim_desc_state *st;
	bool indirect;
	u16 room;			/* descriptors it may take */
	u16 cur;			/* the next one to take */
	u16 prev;			/* the last one taken (for merging) */
	u16 used;			/* taken so far */
	bool seen_write;
};

/* Checks one userspace segment and appends it to the chain being built. */
static int kshim_add_seg(struct kshim_queue *q, const struct kshim_seg *sp, struct kshim_build *b)
{
	struct kshim_seg s = {
		.region = READ_ONCE(sp->region),
		.flags = READ_ONCE(sp->flags),
		.offset = READ_ONCE(sp->offset),
		.len = READ_ONCE(sp->len),
	};
	struct device *dev = kshim_dma_dev(q->kd);
	bool wr = s.flags & KSHIM_SEG_DEV_WRITE;
	struct kshim_region *r;
	u64 off, end;

	if (s.flags & ~KSHIM_SEG_DEV_WRITE)
		return -EINVAL;
	if (b->seen_write && !wr)
		return -EINVAL;
	b->seen_write |= wr;
	r = xa_load(&q->kd->regions, s.region);
	if (!r)
		return -ENOENT;
	if (!s.len || s.offset >= (u64)r->npages << PAGE_SHIFT ||
	    s.len > ((u64)r->npages << PAGE_SHIFT) - s.offset)
		return -ERANGE;
	if (wr && !r->writable)
		return -EPERM;

	for (off = s.offset, end = s.offset + s.len; off < end;) {
		unsigned long pg = off >> PAGE_SHIFT;
		u32 poff = offset_in_page(off);
		u32 plen = min_t(u64, PAGE_SIZE - poff, end - off);
		dma_addr_t addr = r->dma[pg] + poff;
		struct kshim_desc_state *p = b->used ? &b->st[b->prev] : NULL;

		if (r->sync)
			dma_sync_single_range_for_device(dev, r->dma[pg], poff, plen,
							 wr ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE);
		if (p && p->region == r && p->dev_write == wr && p->roff + p->len == off &&
		    le64_to_cpu(b->desc[b->prev].addr) + p->len == addr && p->len <= U32_MAX - plen) {
			/* DMA-contiguous with the previous descriptor: extend it */
			p->len += plen;
			b->desc[b->prev].len = cpu_to_le32(p->len);
		} else {
			struct kshim_desc_state *d;

			if (b->used == b->room)
				return -ENOSPC;
			d = &b->st[b->cur];
			/* A table's entries follow each other; the ring's chain is a prefix of
			 * the free list, so its links are the list's. */
			if (b->indirect)
				d->next = b->cur + 1;
			if (p)
				b->desc[b->prev].flags |= cpu_to_le16(VRING_DESC_F_NEXT);
			d->region = r;
			d->roff = off;
			d->len = plen;
			d->dev_write = wr;
			b->desc[b->cur].addr = cpu_to_le64(addr);
			b->desc[b->cur].len = cpu_to_le32(plen);
			b->desc[b->cur].flags = cpu_to_le16(wr ? VRING_DESC_F_WRITE : 0);
			b->desc[b->cur].next = cpu_to_le16(d->next);
			r->inflight++;
			b->prev = b->cur;
			b->cur = d->next;
			b->used++;
		}
		off += plen;
	}
	return 0;
}

static int kshim_build_chain(struct kshim_queue *q, const struct kshim_seg *segs, u16 count,
			     struct kshim_build *b)
{
	int ret = 0;
	u16 i;

	for (i = 0; i < count && !ret; i++)
		ret = kshim_add_seg(q, &segs[i], b);
	if (ret)
		kshim_descs_release(q, b->st, b->indirect ? 0 : q->free_head, b->used, false);
	return ret;
}

/* Validates chain c from the area and publishes it in the avail ring (not yet visible to the
 * device: kshim_kick() moves avail->idx). On error every descriptor taken is given back. A chain
 * of several descriptors goes into the head's indirect table when the device takes them and the
 * chain fits: then it takes one slot of the ring, as Linux's virtio_ring does. */
static int kshim_add_chain(struct kshim_queue *q, const struct kshim_chain *cp)
{
	const struct kshim_seg *segs = q->area + q->size * sizeof(struct kshim_chain);
	u64 cookie = READ_ONCE(cp->cookie);
	u32 first = READ_ONCE(cp->seg_first);
	u16 count = READ_ONCE(cp->seg_count);
	u16 head = q->free_head;
	struct kshim_desc_state *h = &q->st[head];
	struct kshim_build b;
	int ret = -ENOSPC;

	if (!count || first >= q->size || count > q->size - first)
		return -EINVAL;
	if (!q->num_free)
		return -ENOSPC;
	if (q->itab && count > 1 && count <= KSHIM_INDIRECT_MAX) {
		b = (struct kshim_build){ .desc = q->itab[head], .indirect = true,
					  .st = &q->ist[(size_t)head * KSHIM_INDIRECT_MAX],
					  .room = KSHIM_INDIRECT_MAX };
		ret = kshim_build_chain(q, &segs[first], count, &b);
		if (!ret && b.used == 1) {
			/* merged into one descriptor: no table needed */
			kshim_descs_release(q, b.st, 0, 1, false);
			ret = -ENOSPC;
		}
		if (!ret) {
			q->desc[head].addr = cpu_to_le64(q->itab_dma[head]);
			q->desc[head].len = cpu_to_le32(b.used * sizeof(struct kshim_vring_desc));
			q->desc[head].flags = cpu_to_le16(VRING_DESC_F_INDIRECT);
			h->nind = b.used;
			h->recv = b.st[0].dev_write;
			h->ndesc = 1;
			b.cur = h->next;
		}
	}
	if (ret == -ENOSPC) {
		/* too long for a table (pages that did not merge), or no tables */
		b = (struct kshim_build){ .desc = q->desc, .st = q->st, .cur = head, .prev = head,
					  .room = q->num_free };
		ret = kshim_build_chain(q, &segs[first], count, &b);
		if (ret)
			return ret;
		h->nind = 0;
		/* readable descriptors come first: a writable head means no readable one */
		h->recv = h->dev_write;
		h->ndesc = b.used;
	} else if (ret) {
		return ret;
	}
	h->head = true;
	q->recv_inflight += h->recv;
	h->cookie = cookie;
	q->free_head = b.cur;
	q->num_free -= h->ndesc;
	q->avail->ring[q->avail_idx & (q->size - 1)] = cpu_to_le16(head);
	q->avail_idx++;
	return 0;
}

/*
 * Interrupt moderation, the way EVENT_IDX allows it: with n chains in flight,
 * ask for the interrupt after ceil(n/2) of them complete rather than after
 * the first.  Every interrupt costs the daemon a wake-up and a KICK (in a PV
 * dom0, syscalls through Xen); waking once per half-queue lets each KICK
 * collect and submit several requests, while a lone request (n = 1) is still
 * answered at once and nothing can wait for a completion that will not
 * come (the threshold never exceeds what is in flight).  Not while a receive
 * buffer (a chain the device only writes, e.g. virtio-net's RX) is in flight:
 * it completes only when something arrives from outside, perhaps never, so
 * half of the queue could wait forever; then every completion interrupts (the
 * eventfd coalesces those that arrive before the daemon reads it).
 */
static void kshim_arm(struct kshim_queue *q)
{
	u16 inflight = q->avail_idx - q->last_used, k;

	if (!kshim_event_idx(q) || inflight < 2 || q->recv_inflight)
		return;		/* kshim_reap() asked for the next completion */
	k = (inflight + 1) / 2 - 1;
	WRITE_ONCE(*kshim_used_event(q), cpu_to_le16(q->last_used + k));
	/* used_event before the index: completions that already went past it
	 * raised no interrupt for it, so raise the event ourselves */
	mb();
	if ((u16)(le16_to_cpu(READ_ONCE(q->used->idx)) - q->last_used) > k && q->eventfd)
		eventfd_signal(q->eventfd, 1);
}

int kshim_kick(struct kshim_dev *kd, struct kshim_kick *k)
{
	const struct kshim_chain *chains;
	struct kshim_queue *q;
	u16 old;
	int ret;

	k->sq_done = 0;
	k->cq_count = 0;
	k->desc_free = 0;
	if (k->queue >= kd->nqueues || !kd->queues[k->queue])
		return -EINVAL;
	q = kd->queues[k->queue];
	if (q->broken)
		return -EIO;
	if (k->sq_count > q->size)
		return -EINVAL;

	ret = kshim_reap(q);
	if (ret < 0)
		return ret;
	k->cq_count = ret;
	k->desc_free = q->num_free;

	chains = q->area;
	old = q->avail_idx;
	for (ret = 0; k->sq_done < k->sq_count; k->sq_done++) {
		ret = kshim_add_chain(q, &chains[k->sq_done]);
		if (ret)
			break;
	}
	k->desc_free = q->num_free;
	if (q->avail_idx == old) {
		kshim_arm(q);
		return ret;
	}

	/* descriptors and ring entries before the index that exposes them */
	dma_wmb();
	WRITE_ONCE(q->avail->idx, cpu_to_le16(q->avail_idx));
	/* the index before reading the device's notification suppression */
	mb();
	if (kshim_event_idx(q) ?
	    vring_need_event(le16_to_cpu(READ_ONCE(*kshim_avail_event(q))), q->avail_idx, old) :
	    !(le16_to_cpu(READ_ONCE(q->used->flags)) & VRING_USED_F_NO_NOTIFY))
		iowrite16(q->index, q->notify);
	kshim_arm(q);
	return ret;
}
