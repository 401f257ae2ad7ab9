// SPDX-License-Identifier: GPL-2.0
/*
 * Memory registration: the only memory the device may ever DMA into or out of.
 *
 * Pages are pinned with pin_user_pages_fast(FOLL_LONGTERM): the pin lasts as long as the
 * registration, which is what FOLL_LONGTERM is for (it refuses, or migrates away from, memory
 * that must stay movable such as CMA). It also covers Xen grant mappings: in a PV dom0 gntdev's
 * PTEs are special and GUP finds their pages through gntdev's vm_ops->find_special_page, the
 * same path that lets O_DIRECT work on grant-mapped memory; the VMA is VM_MIXEDMAP (neither
 * VM_IO nor VM_PFNMAP) and the pages are not movable, so the long-term pin is allowed. A pinned
 * grant page keeps its grant mapped: gntdev's unmap waits until the page's extra references are
 * gone.
 *
 * Each page is mapped with dma_map_page() on its own. Under Xen PV the DMA API (swiotlb-xen)
 * turns the page's pseudo-physical frame into the machine frame, including the foreign frame
 * of a grant mapping, so the device gets addresses valid on the real bus.
 */
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "kshim.h"

static enum dma_data_direction kshim_region_dir(const struct kshim_region *r)
{
	return r->writable ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
}

/* Unmaps the first `mapped` pages, unpins the first `pinned`, and frees r. */
static void kshim_region_free(struct kshim_dev *kd, struct kshim_region *r,
			      unsigned long mapped, unsigned long pinned)
{
	unsigned long i;

	for (i = 0; i < mapped; i++)
		dma_unmap_page(kshim_dma_dev(kd), r->dma[i], PAGE_SIZE, kshim_region_dir(r));
	/* The device may have written to a writable region: dirty the pages as direct I/O does. */
	unpin_user_pages_dirty_lock(r->pages, pinned, r->writable);
	if (r->mm) {
		account_locked_vm(r->mm, r->npages, false);
		mmdrop(r->mm);
	}
	kvfree(r->dma);
	kvfree(r->pages);
	kfree(r);
}

int kshim_mem_reg(struct kshim_dev *kd, struct kshim_reg_mem *rm)
{
	unsigned int gup = FOLL_LONGTERM;
	unsigned long pinned = 0, mapped = 0;
	struct kshim_region *r;
	int ret;

	if ((rm->flags & ~KSHIM_MEM_WRITABLE) || !rm->len || rm->len > KSHIM_REGION_MAX ||
	    !PAGE_ALIGNED(rm->uaddr) || !PAGE_ALIGNED(rm->len))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(rm->uaddr), rm->len))
		return -EFAULT;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->writable = rm->flags & KSHIM_MEM_WRITABLE;
	r->npages = rm->len >> PAGE_SHIFT;
	r->pages = kvmalloc_array(r->npages, sizeof(*r->pages), GFP_KERNEL);
	r->dma = kvmalloc_array(r->npages, sizeof(*r->dma), GFP_KERNEL);
	if (!r->pages || !r->dma) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = account_locked_vm(current->mm, r->npages, true);
	if (ret)
		goto fail;
	mmgrab(current->mm);
	r->mm = current->mm;

	if (r->writable)
		gup |= FOLL_WRITE;
	while (pinned < r->npages) {
		ret = pin_user_pages_fast(rm->uaddr + pinned * PAGE_SIZE,
					  min_t(unsigned long, r->npages - pinned, INT_MAX),
					  gup, r->pages + pinned);
		if (ret <= 0) {
			ret = ret ? ret : -EFAULT;
			goto fail;
		}
		pinned += ret;
	}
	for (; mapped < r->npages; mapped++) {
		r->dma[mapped] = dma_map_page(kshim_dma_dev(kd), r->pages[mapped], 0, PAGE_SIZE,
					      kshim_region_dir(r));
		if (dma_mapping_error(kshim_dma_dev(kd), r->dma[mapped])) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	ret = xa_alloc(&kd->regions, &rm->id, r, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto fail;
	return 0;

fail:
	kshim_region_free(kd, r, mapped, pinned);
	return ret;
}

int kshim_mem_unreg(struct kshim_dev *kd, u32 id)
{
	struct kshim_region *r = xa_load(&kd->regions, id);

	if (!r)
		return -ENOENT;
	if (r->inflight)
		return -EBUSY;
	xa_erase(&kd->regions, id);
	kshim_region_free(kd, r, r->npages, r->npages);
	return 0;
}

/* Only once the device is reset (or gone) and its queues stopped: in-flight counts are moot. */
void kshim_mem_release_all(struct kshim_dev *kd)
{
	struct kshim_region *r;
	unsigned long id;

	xa_for_each(&kd->regions, id, r) {
		xa_erase(&kd->regions, id);
		kshim_region_free(kd, r, r->npages, r->npages);
	}
}
