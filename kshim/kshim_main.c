// SPDX-License-Identifier: GPL-2.0
/*
 * kshim: hands a modern virtio-pci device's queues and interrupts to one userspace process,
 * which names buffers only inside memory it registered (see kshim_uapi.h).
 *
 * This file: the PCI driver (binds only through sysfs driver_override: no id table), the
 * per-device misc character device, device status and feature negotiation, config reads.
 * The transport is the kernel's own virtio_pci_modern_dev library (vp_modern_*).
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/virtio_config.h>
#include <uapi/linux/virtio_ring.h>

#include "kshim.h"

/* Transport feature bits whose protocol kshim implements or that do not affect it. */
#define KSHIM_TRANSPORT_FEATURES (BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |	\
				  BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |		\
				  BIT_ULL(VIRTIO_F_VERSION_1) |			\
				  BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |		\
				  BIT_ULL(VIRTIO_F_ORDER_PLATFORM) |		\
				  BIT_ULL(VIRTIO_F_SR_IOV))
/* Device-type specific bits, per the virtio 1.2 spec (2.2). */
#define KSHIM_DEVICE_FEATURES (GENMASK_ULL(23, 0) | GENMASK_ULL(63, 50))

static void kshim_dev_free(struct kref *ref)
{
	struct kshim_dev *kd = container_of(ref, struct kshim_dev, ref);

	xa_destroy(&kd->regions);
	pci_dev_put(kd->pdev);
	kfree(kd->queues);
	kfree(kd);
}

/* Resets the device: afterwards it does no DMA and raises no interrupt (virtio 1.x: the reset
 * is complete once status reads back 0). */
static void kshim_reset(struct kshim_dev *kd)
{
	int i;

	vp_modern_set_status(&kd->mdev, 0);
	for (i = 0; vp_modern_get_status(&kd->mdev); i++) {
		if (!pci_device_is_present(kd->pdev))
			return;
		if (i == 1000) {
			dev_warn(&kd->pdev->dev, "device reset did not complete\n");
			return;
		}
		msleep(1);
	}
}

static void kshim_start(struct kshim_dev *kd)
{
	kshim_reset(kd);
	vp_modern_set_status(&kd->mdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

/* Brings the device back to reset with nothing allocated for the device; the queues' shared
 * areas stay (they may be mapped) until close. */
static void kshim_stop(struct kshim_dev *kd)
{
	int i;

	kshim_reset(kd);
	for (i = 0; i < kd->nqueues; i++)
		if (kd->queues[i])
			kshim_queue_stop(kd->queues[i]);
	kshim_mem_release_all(kd);
	kd->features = 0;
	kd->features_ok = false;
	kd->driver_ok = false;
}

static int kshim_open(struct inode *inode, struct file *f)
{
	struct kshim_dev *kd = container_of(f->private_data, struct kshim_dev, misc);
	int ret = 0;

	/* misc_open() holds misc_mtx around this, and kshim_remove() deregisters first: kd is
	 * alive here and we take our reference before any removal can drop the binding's. */
	mutex_lock(&kd->lock);
	if (kd->dead) {
		ret = -ENODEV;
	} else if (kd->opened) {
		ret = -EBUSY;
	} else {
		kd->opened = true;
		kref_get(&kd->ref);
		f->private_data = kd;
		kshim_start(kd);
	}
	mutex_unlock(&kd->lock);
	return ret;
}

static int kshim_release(struct inode *inode, struct file *f)
{
	struct kshim_dev *kd = f->private_data;
	int i;

	mutex_lock(&kd->lock);
	if (!kd->dead)
		kshim_stop(kd);
	for (i = 0; i < kd->nqueues; i++) {
		if (kd->queues[i])
			kshim_queue_free(kd->queues[i]);
		kd->queues[i] = NULL;
	}
	kd->opened = false;
	mutex_unlock(&kd->lock);
	kref_put(&kd->ref, kshim_dev_free);
	return 0;
}

static int kshim_set_features(struct kshim_dev *kd, u64 want)
{
	struct virtio_pci_modern_device *mdev = &kd->mdev;
	u64 offered = vp_modern_get_features(mdev);

	if (kd->features_ok)
		return -EBADFD;
	if ((want & ~offered) || (want & ~(KSHIM_DEVICE_FEATURES | KSHIM_TRANSPORT_FEATURES)) ||
	    !(want & BIT_ULL(VIRTIO_F_VERSION_1)))
		return -EINVAL;
	/* Without it a device behind an IOMMU would bypass the DMA API's addresses. */
	if ((offered & BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)) &&
	    !(want & BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)))
		return -EINVAL;

	vp_modern_set_features(mdev, want);
	vp_modern_set_status(mdev, vp_modern_get_status(mdev) | VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vp_modern_get_status(mdev) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* The device refused this set: start over so that another set can be tried. */
		kshim_start(kd);
		return -EIO;
	}
	kd->features = want;
	kd->features_ok = true;
	return 0;
}

static int kshim_config_read(struct kshim_dev *kd, struct kshim_config_read *cr)
{
	struct virtio_pci_modern_device *mdev = &kd->mdev;
	void __iomem *p;
	u32 gen;

	if ((cr->width != 1 && cr->width != 2 && cr->width != 4 && cr->width != 8) ||
	    !mdev->device || cr->offset > mdev->device_len ||
	    cr->width > mdev->device_len - cr->offset || cr->offset % min(cr->width, 4u))
		return -EINVAL;
	p = mdev->device + cr->offset;
	do {
		gen = vp_modern_generation(mdev);
		switch (cr->width) {
		case 1:
			cr->value = ioread8(p);
			break;
		case 2:
			cr->value = ioread16(p);
			break;
		case 4:
			cr->value = ioread32(p);
			break;
		default:
			cr->value = ioread32(p) | (u64)ioread32(p + 4) << 32;
		}
	} while (gen != vp_modern_generation(mdev));
	return 0;
}

static void kshim_info(struct kshim_dev *kd, struct kshim_info *info)
{
	memset(info, 0, sizeof(*info));
	info->device_id = kd->mdev.id.device;
	info->config_len = kd->mdev.device ? kd->mdev.device_len : 0;
	info->features = vp_modern_get_features(&kd->mdev);
	info->num_queues = kd->nqueues;
	info->max_queue_size = kd->qmax0;
	info->msix_vectors = kd->nvec;
	info->status = vp_modern_get_status(&kd->mdev);
}

/* Each command: copy in, act under the lock, copy out. Returns -errno or 0. */
static long kshim_ioctl_locked(struct kshim_dev *kd, unsigned int cmd, void __user *uarg)
{
	union {
		struct kshim_info info;
		struct kshim_config_read cr;
		struct kshim_queue_setup qs;
		struct kshim_reg_mem rm;
		struct kshim_map_grants mg;
		struct kshim_kick k;
		u64 features;
		u32 id;
	} u;
	long ret;

	if (_IOC_TYPE(cmd) != KSHIM_IOC_MAGIC || _IOC_SIZE(cmd) > sizeof(u))
		return -ENOTTY;
	if ((_IOC_DIR(cmd) & _IOC_WRITE) && copy_from_user(&u, uarg, _IOC_SIZE(cmd)))
		return -EFAULT;
	if (kd->dead)
		return -ENODEV;

	switch (cmd) {
	case KSHIM_IOC_INFO:
		kshim_info(kd, &u.info);
		ret = 0;
		break;
	case KSHIM_IOC_SET_FEATURES:
		return kshim_set_features(kd, u.features);
	case KSHIM_IOC_CONFIG_READ:
		ret = kshim_config_read(kd, &u.cr);
		break;
	case KSHIM_IOC_QUEUE_SETUP:
		if (!kd->features_ok || kd->driver_ok)
			return -EBADFD;
		ret = kshim_queue_setup(kd, &u.qs);
		break;
	case KSHIM_IOC_DRIVER_OK:
		if (!kd->features_ok || kd->driver_ok)
			return -EBADFD;
		vp_modern_set_status(&kd->mdev, vp_modern_get_status(&kd->mdev) |
				     VIRTIO_CONFIG_S_DRIVER_OK);
		kd->driver_ok = true;
		return 0;
	case KSHIM_IOC_REG_MEM:
		ret = kshim_mem_reg(kd, &u.rm);
		/* a region the caller cannot learn the id of would stay pinned until close */
		if (!ret && copy_to_user(uarg, &u.rm, sizeof(u.rm))) {
			kshim_mem_unreg(kd, u.rm.id);
			return -EFAULT;
		}
		return ret;
	case KSHIM_IOC_MAP_GRANTS:
		ret = kshim_mem_map_grants(kd, &u.mg);
		/* as REG_MEM: a region whose id the caller cannot learn would stay mapped */
		if (!ret && copy_to_user(uarg, &u.mg, sizeof(u.mg))) {
			kshim_mem_unreg(kd, u.mg.id);
			return -EFAULT;
		}
		return ret;
	case KSHIM_IOC_UNREG_MEM:
		return kshim_mem_unreg(kd, u.id);
	case KSHIM_IOC_KICK:
		if (!kd->driver_ok)
			return -EBADFD;
		ret = kshim_kick(kd, &u.k);
		/* sq_done and cq_count matter on error too */
		if (copy_to_user(uarg, &u.k, sizeof(u.k)))
			return -EFAULT;
		return ret;
	default:
		return -ENOTTY;
	}
	if (!ret && copy_to_user(uarg, &u, _IOC_SIZE(cmd)))
		return -EFAULT;
	return ret;
}

static long kshim_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct kshim_dev *kd = f->private_data;
	long ret;

	mutex_lock(&kd->lock);
	ret = kshim_ioctl_locked(kd, cmd, (void __user *)arg);
	mutex_unlock(&kd->lock);
	return ret;
}

/*
 * Maps queue i's area at offset i << KSHIM_MMAP_SHIFT. Takes no lock: mmap runs under
 * mmap_lock, and kshim_mem_reg() takes mmap_lock (pinning) under kd->lock. A queue pointer is
 * published after the queue is complete and freed only in release, which cannot run while
 * this file is being mapped.
 */
static int kshim_mmap(struct file *f, struct vm_area_struct *vma)
{
	struct kshim_dev *kd = f->private_data;
	unsigned long shift = KSHIM_MMAP_SHIFT - PAGE_SHIFT;
	unsigned long qi = vma->vm_pgoff >> shift;
	struct kshim_queue *q;

	if ((vma->vm_pgoff & ((1UL << shift) - 1)) || qi >= kd->nqueues)
		return -EINVAL;
	q = smp_load_acquire(&kd->queues[qi]);
	if (!q || vma->vm_end - vma->vm_start > q->area_size)
		return -EINVAL;
	vma->vm_flags &= ~VM_MAYEXEC;
	return remap_vmalloc_range(vma, q->area, 0);
}

static const struct file_operations kshim_fops = {
	.owner = THIS_MODULE,
	.open = kshim_open,
	.release = kshim_release,
	.unlocked_ioctl = kshim_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = kshim_mmap,
	.llseek = noop_llseek,
};

static int kshim_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct kshim_dev *kd;
	int ret;

	/* driver_override binds us to anything: take only virtio devices. */
	if (pdev->vendor != PCI_VENDOR_ID_REDHAT_QUMRANET)
		return -ENODEV;

	kd = kzalloc(sizeof(*kd), GFP_KERNEL);
	if (!kd)
		return -ENOMEM;
	kref_init(&kd->ref);
	mutex_init(&kd->lock);
	xa_init_flags(&kd->regions, XA_FLAGS_ALLOC1);
	kd->pdev = pci_dev_get(pdev);

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free;
	kd->mdev.pci_dev = pdev;
	/* maps the capabilities, requests the BARs, sets a 64-bit DMA mask; no legacy devices */
	ret = vp_modern_probe(&kd->mdev);
	if (ret)
		goto err_disable;
	pci_set_master(pdev);
	kshim_reset(kd);

	kd->nqueues = vp_modern_get_num_queues(&kd->mdev);
	if (!kd->nqueues) {
		ret = -ENODEV;
		goto err_remove;
	}
	kd->qmax0 = vp_modern_get_queue_size(&kd->mdev, 0);
	kd->queues = kcalloc(kd->nqueues, sizeof(*kd->queues), GFP_KERNEL);
	if (!kd->queues) {
		ret = -ENOMEM;
		goto err_remove;
	}
	/* One vector per queue as far as the device has them; none (poll only) is not fatal. */
	ret = pci_alloc_irq_vectors(pdev, 1, kd->nqueues, PCI_IRQ_MSIX);
	kd->nvec = ret > 0 ? ret : 0;

	snprintf(kd->name, sizeof(kd->name), "kshim-%s", pci_name(pdev));
	kd->misc.minor = MISC_DYNAMIC_MINOR;
	kd->misc.name = kd->name;
	kd->misc.fops = &kshim_fops;
	kd->misc.parent = &pdev->dev;
	kd->misc.mode = 0600;
	pci_set_drvdata(pdev, kd);
	ret = misc_register(&kd->misc);
	if (ret)
		goto err_vectors;
	dev_info(&pdev->dev, "virtio device %u, %u queues, %d MSI-X vectors: /dev/%s\n",
		 kd->mdev.id.device, kd->nqueues, kd->nvec, kd->name);
	return 0;

err_vectors:
	pci_free_irq_vectors(pdev);
err_remove:
	vp_modern_remove(&kd->mdev);
err_disable:
	pci_disable_device(pdev);
err_free:
	kref_put(&kd->ref, kshim_dev_free);
	return ret;
}

/* Unbind, hot-unplug or module unload. An open file keeps kd, and only kd. */
static void kshim_remove(struct pci_dev *pdev)
{
	struct kshim_dev *kd = pci_get_drvdata(pdev);

	misc_deregister(&kd->misc);
	mutex_lock(&kd->lock);
	kshim_stop(kd);
	kd->dead = true;
	mutex_unlock(&kd->lock);
	pci_free_irq_vectors(pdev);
	vp_modern_remove(&kd->mdev);
	pci_disable_device(pdev);
	kref_put(&kd->ref, kshim_dev_free);
}

static struct pci_driver kshim_driver = {
	.name = "kshim",
	.id_table = NULL,	/* binds only where driver_override says "kshim" */
	.probe = kshim_probe,
	.remove = kshim_remove,
};
module_pci_driver(kshim_driver);

MODULE_DESCRIPTION("Blanket: virtio-pci queues for a userspace backend, DMA-checked");
MODULE_LICENSE("GPL");
