/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kshim: the userspace interface, and all of it.
 *
 * kshim binds a modern virtio-pci device (virtio-net = 1, virtio-blk = 2, ...) and gives ONE
 * process at a time, through /dev/kshim-<pci-bdf>, the device's queues and interrupts. The
 * process never sees a DMA address: the virtqueues' descriptor tables and avail rings are
 * kernel memory, and a buffer is named as (region id, offset, length) inside memory the
 * process registered first (KSHIM_IOC_REG_MEM). kshim checks every buffer against its region
 * (bounds, and "device-writable" needs a region registered writable) before the device sees it.
 *
 * Life of a file descriptor (each step's ioctl refuses to run out of order with -EBADFD):
 *   open()          resets the device, sets ACKNOWLEDGE|DRIVER; a second open gets -EBUSY
 *   KSHIM_IOC_INFO           device id, queue count, offered features, ...
 *   KSHIM_IOC_SET_FEATURES   once; sets FEATURES_OK and checks the device kept it
 *   KSHIM_IOC_CONFIG_READ    device-specific config space (any time)
 *   KSHIM_IOC_QUEUE_SETUP    per queue, before DRIVER_OK; then mmap() the queue's area
 *   KSHIM_IOC_DRIVER_OK
 *   KSHIM_IOC_REG_MEM / KSHIM_IOC_UNREG_MEM   any time
 *   KSHIM_IOC_KICK           submit chains from the area, notify, collect completions
 *   close()         (or process death) resets the device, frees queues and interrupts and
 *                   unpins every registered page. Apart from a refused SET_FEATURES, this
 *                   is the only way to reset the device.
 * Once the PCI device is unbound or removed, every ioctl fails with -ENODEV; close() still works.
 */
#ifndef KSHIM_UAPI_H
#define KSHIM_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KSHIM_IOC_MAGIC 0xB7

/* KSHIM_IOC_INFO */
struct kshim_info {
	__u32 device_id;	/* virtio device id: 1 net, 2 blk */
	__u32 config_len;	/* bytes of device-specific config space readable */
	__u64 features;		/* feature bits the device offers */
	__u16 num_queues;
	__u16 max_queue_size;	/* of queue 0; QUEUE_SETUP with size 0 takes each queue's own */
	__u16 msix_vectors;	/* queue i can have an eventfd iff i < msix_vectors */
	__u8 status;		/* virtio device status byte, as read now */
	__u8 reserved;
};

/* KSHIM_IOC_CONFIG_READ: one field of device config, read with its natural width (the
 * virtio rule); width 8 is read as two 32-bit halves under the config generation counter. */
struct kshim_config_read {
	__u32 offset;		/* in: aligned to min(width, 4) */
	__u32 width;		/* in: 1, 2, 4 or 8 */
	__u64 value;		/* out: little-endian field converted to host order */
};

/* KSHIM_IOC_QUEUE_SETUP, after SET_FEATURES and before DRIVER_OK, once per queue. Errors:
 * EINVAL (index, size), EEXIST (set up already), ENOENT (the device has no such queue), ENOSPC
 * (an eventfd for a queue without an MSI-X vector), EBADF/EINVAL (not an eventfd). */
struct kshim_queue_setup {
	__u16 index;		/* in: queue index */
	__u16 size;		/* in: power of two <= device max, 0 = device max; out: size used */
	__s32 eventfd;		/* in: signalled on the queue's MSI-X interrupt; -1 = none (poll) */
	/* out: the queue's shared area, to mmap(NULL, area_size, PROT_READ|PROT_WRITE,
	 * MAP_SHARED, fd, mmap_offset). It holds three arrays of `size` entries each:
	 * struct kshim_chain at chain_off, struct kshim_seg at seg_off, struct kshim_cqe at cqe_off. */
	__u64 mmap_offset;
	__u32 area_size;
	__u32 chain_off;
	__u32 seg_off;
	__u32 cqe_off;
};

/* A buffer, in a registered region. */
struct kshim_seg {
	__u32 region;		/* id from KSHIM_IOC_REG_MEM */
	__u32 flags;		/* KSHIM_SEG_* */
	__u64 offset;		/* byte offset in the region */
	__u32 len;		/* bytes, > 0 */
	__u32 reserved;
};
/* The device writes this buffer (a virtio "write" descriptor). The region must be writable.
 * Within a chain, all device-writable segments come after all device-readable ones. */
#define KSHIM_SEG_DEV_WRITE	(1u << 0)

/* A descriptor chain (one virtio request): segs[seg_first .. seg_first + seg_count). */
struct kshim_chain {
	__u64 cookie;		/* anything; comes back in the completion */
	__u32 seg_first;
	__u16 seg_count;	/* >= 1 */
	__u16 reserved;
};

/* A completion: a chain the device is done with. */
struct kshim_cqe {
	__u64 cookie;
	__u32 len;		/* bytes the device wrote (virtio used.len) */
	__u32 reserved;
};

/*
 * KSHIM_IOC_KICK: one call per batch. First collects every completion the device has
 * posted into cqes[0 .. cq_count) of the area (so consume the completions of one call before
 * making the next), then submits chains[0 .. sq_count) in order and notifies the device once
 * (unless it asked not to be). When the ioctl returns, the area's chains and segs are free for
 * the next batch: kshim has copied them into the kernel-only ring.
 *
 * Return 0 when all chains were submitted. Otherwise -1/errno for the first refused chain,
 * chains[sq_done]; the chains before it were submitted, the ones after it were not looked at:
 *   EINVAL  malformed chain or segment (seg_count 0, seg range outside the area, unknown
 *           flag, device-readable segment after a device-writable one)
 *   ENOENT  no region with that id
 *   ERANGE  zero length, or offset + len beyond the region
 *   EPERM   KSHIM_SEG_DEV_WRITE in a region not registered writable
 *   ENOSPC  not enough free descriptors now; retry once completions arrive
 * sq_done, cq_count and desc_free are written back in every case where the ioctl got that far
 * (check them even on error). Other errors: EBADFD before DRIVER_OK, EIO if the device posted a bogus
 * completion (the queue is then dead until close), ENODEV after device removal.
 *
 * A segment crossing a page boundary can use more than one virtio descriptor (one per page
 * unless the DMA addresses of consecutive pages happen to be contiguous), so a chain uses between
 * seg_count and (pages touched) descriptors out of the queue's `size`; with
 * VIRTIO_RING_F_INDIRECT_DESC negotiated, a chain of 2 to 64 such descriptors takes one (kshim
 * writes them into a table of its own that the ring's descriptor points to).
 */
/* Entries of an indirect table: with VIRTIO_RING_F_INDIRECT_DESC, a chain of up to this many
 * descriptors takes one slot of the ring; a longer one is chained in the ring itself. */
#define KSHIM_INDIRECT_MAX 64

struct kshim_kick {
	__u16 queue;		/* in */
	__u16 desc_free;	/* out: descriptors free after this call */
	__u32 sq_count;		/* in: chains to submit, <= queue size; 0 = only collect */
	__u32 sq_done;		/* out: chains submitted */
	__u32 cq_count;		/* out: completions written to the area's cqes[] */
};

/* KSHIM_IOC_REG_MEM: pin [uaddr, uaddr + len) and map it for the device's DMA. Both must be
 * page-aligned, len <= KSHIM_REGION_MAX. Meant for anonymous memory and for Xen grant mappings
 * made with /dev/xen/gntdev (anything get_user_pages can pin long-term). A read-only mapping can
 * only be registered without KSHIM_MEM_WRITABLE (else EFAULT). Counts against RLIMIT_MEMLOCK
 * unless the process has CAP_IPC_LOCK. Unmapping the memory while registered leaves the pages
 * pinned, and a grant mapped: gntdev defers its grant unmap until the pages' extra references
 * are gone, i.e. until KSHIM_IOC_UNREG_MEM or close. Errors: EINVAL (alignment, flags, size),
 * EFAULT (not mapped, or read-only for a writable region), ENOMEM (also: over RLIMIT_MEMLOCK, or
 * the DMA mapping failed). */
struct kshim_reg_mem {
	__u64 uaddr;		/* in */
	__u64 len;		/* in */
	__u32 flags;		/* in: KSHIM_MEM_* */
	__u32 id;		/* out: region id, >= 1 */
};
#define KSHIM_MEM_WRITABLE	(1u << 0)	/* the device may write into it */
#define KSHIM_REGION_MAX	(1ull << 30)

/* KSHIM_IOC_MAP_GRANTS (a Xen PV domain only): map `count` pages other domains granted us for
 * the device's DMA and nothing else, as a region like REG_MEM's (page i of the region is grant
 * i; KSHIM_IOC_UNREG_MEM or close unmaps them). Xen maps each grant for device access only
 * (GNTMAP_device_map) and tells its machine address, which is the bus address in a PV dom0
 * without an IOMMU: no CPU mapping, no page pinned, no DMA API call, one hypercall each way for
 * all the pages, where gntdev + REG_MEM take a VMA, its PTEs, a pin and a TLB flush. The device
 * only reads a region mapped without KSHIM_MEM_WRITABLE (GNTMAP_readonly). All or nothing: if
 * Xen refuses a grant (revoked, or read-only for a writable map), none stays mapped: EACCES.
 * Other errors: ENODEV (not a PV domain), EINVAL (count 0 or over KSHIM_GRANTS_MAX, flags),
 * EFAULT, ENOMEM. */
struct kshim_grant {
	__u32 ref;
	__u16 domid;
	__u16 pad;		/* 0 */
};
struct kshim_map_grants {
	__u64 grants;		/* in: user pointer to count struct kshim_grant */
	__u32 count;		/* in */
	__u32 flags;		/* in: KSHIM_MEM_WRITABLE or 0 */
	__u32 id;		/* out: region id, >= 1 */
	__u32 pad;
};
#define KSHIM_GRANTS_MAX	4096

#define KSHIM_IOC_INFO		_IOR(KSHIM_IOC_MAGIC, 0, struct kshim_info)
#define KSHIM_IOC_SET_FEATURES	_IOW(KSHIM_IOC_MAGIC, 1, __u64)
#define KSHIM_IOC_CONFIG_READ	_IOWR(KSHIM_IOC_MAGIC, 2, struct kshim_config_read)
#define KSHIM_IOC_QUEUE_SETUP	_IOWR(KSHIM_IOC_MAGIC, 3, struct kshim_queue_setup)
#define KSHIM_IOC_DRIVER_OK	_IO(KSHIM_IOC_MAGIC, 4)
#define KSHIM_IOC_REG_MEM	_IOWR(KSHIM_IOC_MAGIC, 5, struct kshim_reg_mem)
#define KSHIM_IOC_UNREG_MEM	_IOW(KSHIM_IOC_MAGIC, 6, __u32)	/* EBUSY while in flight */
#define KSHIM_IOC_KICK		_IOWR(KSHIM_IOC_MAGIC, 7, struct kshim_kick)
#define KSHIM_IOC_MAP_GRANTS	_IOWR(KSHIM_IOC_MAGIC, 8, struct kshim_map_grants)

/*
 * KSHIM_IOC_SET_FEATURES takes the bits to accept, a subset of the offered ones. It must
 * include VIRTIO_F_VERSION_1 (32), and VIRTIO_F_ACCESS_PLATFORM (33) when offered. Besides
 * device-specific bits (0-23, 50-63) only these transport bits are accepted: INDIRECT_DESC (28,
 * implemented by kshim: a chain of 2 to KSHIM_INDIRECT_MAX descriptors then takes one ring slot,
 * see KSHIM_IOC_KICK), EVENT_IDX (29, implemented by kshim; it
 * saves notifications and interrupts, so take it when offered), VERSION_1, ACCESS_PLATFORM,
 * ORDER_PLATFORM (36), SR_IOV (37). Others (packed ring, in-order, notification data, ...)
 * change the ring protocol kshim implements and get EINVAL. EIO: the device did not keep
 * FEATURES_OK; it is reset, so another set may be tried. EBADFD: features already set.
 *
 * KSHIM_IOC_CONFIG_READ: EINVAL for a width, alignment or range outside the config space.
 */

#endif /* KSHIM_UAPI_H */
