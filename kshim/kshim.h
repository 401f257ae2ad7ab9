/* SPDX-License-Identifier: GPL-2.0 */
/* kshim internals shared by kshim_main.c, kshim_queue.c and kshim_mem.c. */
#ifndef KSHIM_H
#define KSHIM_H

#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/virtio_pci_modern.h>
#include <linux/xarray.h>

#include "kshim_uapi.h"

/* mmap offset of queue i's area: i << KSHIM_MMAP_SHIFT (an area is at most 56 * 32768 bytes). */
#define KSHIM_MMAP_SHIFT 24

/* A registered region: pinned pages, each mapped for DMA on its own (under Xen PV,
 * consecutive pseudo-physical pages are not machine-contiguous). */
struct gnttab_unmap_grant_ref;

struct kshim_region {
	unsigned long npages;
	bool writable;
	/* Some page's DMA address is a bounce buffer: the CPU and the device see the data only
	 * through dma_sync_*. False for MAP_GRANTS and for the usual REG_MEM region, whose syncs
	 * (a p2m lookup per page under swiotlb-xen) would cost a profiled 5% of blanketd's time
	 * for nothing. */
	bool sync;
	unsigned int inflight;		/* descriptors the device may still access */
	struct page **pages;
	dma_addr_t *dma;
	struct mm_struct *mm;		/* whose RLIMIT_MEMLOCK accounting we charged */
	/* MAP_GRANTS: the unmap operation of each page, ready at map time so that release makes
	 * one hypercall and allocates nothing; NULL for REG_MEM. */
	struct gnttab_unmap_grant_ref *grant_unmap;
};

/* Kernel-private state of one descriptor. The device-visible table is never read back. */
struct kshim_desc_state {
	struct kshim_region *region;	/* NULL while the descriptor is free */
	u64 roff;			/* byte offset in the region */
	u32 len;
	u16 next;			/* next in the chain, or in the free list */
	bool dev_write;
	bool head;			/* head of an in-flight chain */
	u16 ndesc;			/* head only: descriptors in the chain */
	bool recv;			/* head only: device-writable only (a receive buffer) */
	u16 nind;			/* head only: entries in its indirect table, 0 = none */
	u64 cookie;			/* head only */
};

struct kshim_dev;

struct kshim_queue {
	struct kshim_dev *kd;
	u16 index;
	u16 size;
	/* the split ring, one coherent DMA allocation; freed on close or device removal */
	void *ring;
	dma_addr_t ring_dma;
	size_t ring_bytes;
	struct kshim_vring_desc *desc;
	struct kshim_vring_avail *avail;
	struct kshim_vring_used *used;
	void __iomem *notify;
	struct eventfd_ctx *eventfd;
	int irq;			/* -1: none */
	char irq_name[40];
	struct kshim_desc_state *st;
	/* with INDIRECT_DESC: descriptor i's table, KSHIM_INDIRECT_MAX entries at itab[i] (in
	 * coherent pages, PAGE_SIZE / table-size tables each), and its entries' state */
	struct kshim_vring_desc **itab;
	dma_addr_t *itab_dma;
	struct kshim_desc_state *ist;	/* [size * KSHIM_INDIRECT_MAX] */
	u16 free_head;
	u16 num_free;
	u16 avail_idx;			/* next avail->idx to publish */
	u16 last_used;			/* next used->ring entry to collect */
	u16 recv_inflight;		/* in-flight chains with recv set */
	bool broken;			/* bogus completion, or stopped: KICK fails with EIO */
	/* the area shared with userspace; freed only on close (it may still be mapped) */
	void *area;
	size_t area_size;
};

struct kshim_dev {
	struct kref ref;		/* the PCI binding and the open file each hold one */
	struct mutex lock;		/* everything below; never taken in mmap (see kshim_mmap) */
	struct pci_dev *pdev;
	struct virtio_pci_modern_device mdev;
	struct miscdevice misc;
	char name[32];
	int nvec;			/* MSI-X vectors allocated; queue i uses vector i */
	u16 nqueues;
	u16 qmax0;
	struct kshim_queue **queues;	/* nqueues slots, published with smp_store_release */
	struct xarray regions;
	u64 features;			/* negotiated */
	bool dead;			/* PCI device gone: refuse everything but close */
	bool opened;
	bool features_ok;
	bool driver_ok;
};

static inline struct device *kshim_dma_dev(struct kshim_dev *kd)
{
	return &kd->pdev->dev;
}

/* kshim_queue.c */
int kshim_queue_setup(struct kshim_dev *kd, struct kshim_queue_setup *qs);
int kshim_kick(struct kshim_dev *kd, struct kshim_kick *k);
void kshim_queue_stop(struct kshim_queue *q);
void kshim_queue_free(struct kshim_queue *q);

/* kshim_mem.c */
int kshim_mem_reg(struct kshim_dev *kd, struct kshim_reg_mem *rm);
int kshim_mem_map_grants(struct kshim_dev *kd, struct kshim_map_grants *mg);
int kshim_mem_unreg(struct kshim_dev *kd, u32 id);
void kshim_mem_release_all(struct kshim_dev *kd);

#endif /* KSHIM_H */
