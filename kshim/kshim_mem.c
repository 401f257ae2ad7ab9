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
 *
 * Grants can also be mapped here directly, for the device alone (MAP_GRANTS): Xen's
 * GNTMAP_device_map takes the granting domain's page reference and returns its machine
 * address, which the descriptors use as is (a PV dom0 has no IOMMU between the device and
 * machine memory). Nothing of ours maps the page: there is no PTE, pin or DMA API state to undo,
 * only the grant handle, unmapped with the same hypercall in the other direction.
 */
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <xen/xen.h>
#include <xen/interface/grant_table.h>
#include <asm/xen/hypercall.h>
#include <asm/xen/page.h>

#include "kshim.h"

/* Did the DMA API bounce the page (swiotlb), or does it otherwise need dma_sync_* calls? x86 is
 * cache-coherent, so only a bounce does. Under Xen PV the DMA API is swiotlb-xen, which syncs
 * every address it is asked about (dma_need_sync() is always true there); a page was bounced
 * exactly when its DMA address is not its machine address, so compare with that instead. */
static bool kshim_page_needs_sync(struct device *dev, struct page *page, dma_addr_t dma)
{
#ifdef CONFIG_XEN_PV
	if (xen_pv_domain())
		return dma != (dma_addr_t)pfn_to_bfn(page_to_pfn(page)) << PAGE_SHIFT;
#endif
	return dma_need_sync(dev, dma);
}

static enum dma_data_direction kshim_region_dir(const struct kshim_region *r)
{
	return r->writable ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
}

/* Undoes Xen's device mappings of grants [0, n) of r with one hypercall. If Xen refused one,
 * the page stays referenced by Xen for us: leaked, rather than handed back while the device
 * might still use it. */
static void kshim_grants_unmap(struct kshim_region *r, unsigned long n)
{
	bool ok = !n || !HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, r->grant_unmap, n);
	unsigned long i;

	for (i = 0; i < n; i++)
		ok &= r->grant_unmap[i].status == GNTST_okay;
	if (!ok)
		pr_err("kshim: Xen refused to unmap a grant mapped for DMA\n");
}

/* Unmaps the first `mapped` pages, unpins the first `pinned`, and frees r. */
static void kshim_region_free(struct kshim_dev *kd, struct kshim_region *r,
			      unsigned long mapped, unsigned long pinned)
{
	unsigned long i;

	if (r->grant_unmap) {
		kshim_grants_unmap(r, mapped);
		kvfree(r->grant_unmap);
		kvfree(r->dma);
		kfree(r);
		return;
	}
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
		r->sync |= kshim_page_needs_sync(kshim_dma_dev(kd), r->pages[mapped], r->dma[mapped]);
	}
	ret = xa_alloc(&kd->regions, &rm->id, r, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto fail;
	return 0;

fail:
	kshim_region_free(kd, r, mapped, pinned);
	return ret;
}

int kshim_mem_map_grants(struct kshim_dev *kd, struct kshim_map_grants *mg)
{
	struct gnttab_map_grant_ref *ops = NULL;
	struct kshim_grant *g = NULL;
	unsigned long mapped = 0, i;
	struct kshim_region *r;
	bool bad = false;
	int ret;

	if (!xen_pv_domain())
		return -ENODEV;
	if (!mg->count || mg->count > KSHIM_GRANTS_MAX || (mg->flags & ~KSHIM_MEM_WRITABLE) ||
	    mg->pad)
		return -EINVAL;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->writable = mg->flags & KSHIM_MEM_WRITABLE;
	r->npages = mg->count;
	r->dma = kvmalloc_array(r->npages, sizeof(*r->dma), GFP_KERNEL);
	r->grant_unmap = kvmalloc_array(r->npages, sizeof(*r->grant_unmap), GFP_KERNEL);
	g = kvmalloc_array(r->npages, sizeof(*g), GFP_KERNEL);
	ops = kvmalloc_array(r->npages, sizeof(*ops), GFP_KERNEL);
	if (!r->dma || !r->grant_unmap || !g || !ops) {
		ret = -ENOMEM;
		goto fail;
	}
	if (copy_from_user(g, u64_to_user_ptr(mg->grants), r->npages * sizeof(*g))) {
		ret = -EFAULT;
		goto fail;
	}
	for (i = 0; i < r->npages; i++)
		ops[i] = (struct gnttab_map_grant_ref){
			.host_addr = 0, .ref = g[i].ref, .dom = g[i].domid,
			.flags = GNTMAP_device_map | (r->writable ? 0 : GNTMAP_readonly) };
	if (HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, ops, r->npages)) {
		ret = -EINVAL;
		goto fail;
	}
	/* Keep the ones Xen mapped at the front so that a failure unmaps exactly those. */
	for (i = 0; i < r->npages; i++) {
		if (ops[i].status != GNTST_okay) {
			bad = true;
			continue;
		}
		r->dma[mapped] = ops[i].dev_bus_addr;
		r->grant_unmap[mapped] = (struct gnttab_unmap_grant_ref){
			.host_addr = 0, .dev_bus_addr = ops[i].dev_bus_addr, .handle = ops[i].handle };
		mapped++;
	}
	if (bad) {
		ret = -EACCES;
		goto fail;
	}
	ret = xa_alloc(&kd->regions, &mg->id, r, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto fail;
	kvfree(ops);
	kvfree(g);
	return 0;

fail:
	kvfree(ops);
	kvfree(g);
	if (r->grant_unmap) {
		kshim_region_free(kd, r, mapped, 0);
	} else {
		kvfree(r->dma);
		kfree(r);
	}
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
