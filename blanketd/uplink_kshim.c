/*
 * uplink_kshim.c - an L0 virtio-blk device through the kshim module.
 *
 * The guest's granted pages, mapped in blanketd by gntdev, go straight into
 * the cloud device's descriptors: kshim pins and DMA-maps memory that we
 * register (persistent grants once, through mem_register; other mappings
 * per operation) and checks every (region, offset, length) segment we give
 * it.  No data is copied in dom0.
 *
 * Each operation becomes one or more virtio-blk requests (a chain: header,
 * data, status), more than one where the device's seg_max/size_max or
 * max_discard_sectors ask for it (kshim_chain.c).  Operations wait in a
 * FIFO; at the end of each event-loop pass (a pass hook, uring.h)
 * kshim_pass writes every chain that fits into the queue's shared area and
 * makes one KICK ioctl, which also collects the completions.  The
 * queue's MSI-X interrupt arrives as an eventfd; reading it only marks the
 * queue, so completions and new submissions share that one KICK.
 *
 * A device is opened once and shared by every vbd whose backing names it
 * (kshim allows one opener; a guest being migrated has two vbds on a disk).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kshim_blk.h"
#include "log.h"
#include "uplink.h"

#define STATUS_NONE 0xffu        /* what the device overwrites */

struct uplink_kshim {
	struct uplink up;
	struct kdev *d;
	uint64_t batch;              /* the last KICK counted in up.stats.kicks */
};

struct kspan {
	uintptr_t addr;
	size_t len;
	uint32_t region;
};

/* One uplink_io. */
struct kop {
	struct kop *next;
	struct uplink_io *io;
	struct uplink_kshim *u;
	struct kchain_cursor cur;    /* READ/WRITE: data described so far */
	uint64_t described;          /* bytes described so far */
	unsigned outstanding;        /* chains in flight */
	bool all_described;
	int err;
	bool listed;                 /* on kill_device's list */
	unsigned nspan;              /* memory registered for this operation only */
	struct kspan *span;
};

static struct uplink_kshim *to_uk(struct uplink *u)
{
	return (struct uplink_kshim *)u;
}

/* --- completing operations ------------------------------------------------- */

static void release_spans(struct kdev *d, struct kop *op)
{
	for (unsigned i = 0; i < op->nspan; i++) {
		uint32_t id = op->span[i].region;

		/* A dead device's regions went with its file. */
		if (!d->dead && ioctl(d->fd, KSHIM_IOC_UNREG_MEM, &id) < 0)
			log_err("kshim %s: releasing %zu bytes at %#" PRIxPTR ": %s", d->name,
				op->span[i].len, op->span[i].addr, strerror(errno));
		kmap_del(&d->map, op->span[i].addr, op->span[i].len);
	}
	free(op->span);
	op->span = NULL;
	op->nspan = 0;
}

static void complete(struct kdev *d, struct kop *op)
{
	struct uplink_io *io = op->io;
	int res = op->err;

	release_spans(d, op);
	if (d->barrier == op)
		d->barrier = NULL;
	if (res < 0)
		op->u->up.stats.errors++;
	else if (io->op == UPLINK_READ || io->op == UPLINK_WRITE)
		res = (int)io->len;
	free(op);
	io->done(io, res);
}

/* The device is unusable: reset it (closing kshim's file stops its DMA and
 * unpins everything) and fail whatever was queued or in flight. */
static void kill_device(struct kdev *d, const char *why, int e)
{
	struct kop *done = NULL;

	log_err("kshim %s (%s): %s: %s; failing its I/O", d->name, d->pci, why, strerror(e));
	/* Queued operations (some may have chains in flight too)... */
	while (d->head) {
		struct kop *op = d->head;

		d->head = op->next;
		op->listed = true;
		op->next = done;
		done = op;
	}
	d->tail = &d->head;
	/* ...and wholly submitted ones with chains in flight. */
	for (unsigned i = 0; i < d->nq; i++)
		for (unsigned k = 0; k < d->q[i].k.size; k++) {
			struct kop *op = d->q[i].reqs[k].op;

			if (op && !op->listed) {
				op->listed = true;
				op->next = done;
				done = op;
			}
		}
	kdev_shutdown(d);
	while (done) {
		struct kop *op = done;

		done = op->next;
		op->err = -EIO;
		complete(d, op);
	}
}

/* --- building chains ---------------------------------------------------------- */

static struct kshim_seg pool_seg(struct kdev *d, uint32_t off, uint32_t len, bool dev_write)
{
	return (struct kshim_seg){ .region = d->pool_region, .offset = off, .len = len,
				   .flags = dev_write ? KSHIM_SEG_DEV_WRITE : 0 };
}

static bool op_has_data(const struct kop *op)
{
	return op->io->op == UPLINK_READ || op->io->op == UPLINK_WRITE;
}

/*
 * Describe the next request of op as chain number n of q's area, its
 * segments from *nseg on.  1: added; 0: nothing left to describe (or an
 * error, recorded in op->err); -1: no room in this batch.
 */
static int add_chain(struct kdev *d, struct kqueue *q, struct kop *op, unsigned n, unsigned *nseg)
{
	struct uplink_io *io = op->io;
	struct kshim_seg *s = &q->k.seg[*nseg];
	struct virtio_blk_outhdr *h;
	struct kreq *r;
	unsigned k = 1;
	uint64_t bytes = 0;

	if (op->all_described)
		return 0;
	/* The batch's segment area holds q->size segments: a header and a
	 * status segment plus the data segments of each chain. */
	if (n == q->k.size || *nseg + 3 > q->k.size || !q->free)
		return -1;
	r = q->free;
	h = (struct virtio_blk_outhdr *)(d->pool + r->slot + SLOT_HDR);
	r->start = op->cur;
	s[0] = pool_seg(d, r->slot + SLOT_HDR, sizeof(*h), false);
	switch (io->op) {
	case UPLINK_READ:
	case UPLINK_WRITE: {
		/* Fill the batch: what is left of the area bounds this chain's
		 * data segments.  A chain that would come out shorter than the
		 * device allows waits for the next batch instead, so an operation
		 * is not cut into more device requests than its size needs. */
		struct kchain_limits lim = d->lim;
		struct kchain_cursor start = op->cur;
		unsigned room = q->k.size - *nseg - 2;
		int m;

		if (lim.max_desc > room)
			lim.max_desc = room;
		m = kchain_next(&d->map, io->iov, io->iovcnt, &op->cur, &lim,
				io->op == UPLINK_READ, &s[1], &bytes);
		if (m > 0 && n && lim.max_desc < d->lim.max_desc &&
		    op->described + bytes != io->len) {
			op->cur = start;
			return -1;
		}

		if (m <= 0) {
			op->all_described = true;
			if (m < 0 || op->described != io->len) {
				log_err("kshim %s: %s at %" PRIu64 ": %s", d->name,
					io->op == UPLINK_READ ? "read" : "write", io->offset,
					m == -ENOENT ? "guest memory not registered" :
					m == -EPERM ? "guest memory registered read-only" :
					"segment not sector-aligned");
				op->err = -EIO;
			}
			return 0;
		}
		h->type = io->op == UPLINK_READ ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		h->sector = (io->offset + op->described) / KCHAIN_SECTOR;
		k += (unsigned)m;
		break;
	}
	case UPLINK_FLUSH:
		h->type = VIRTIO_BLK_T_FLUSH;
		h->sector = 0;
		op->all_described = true;
		break;
	case UPLINK_DISCARD: {
		struct virtio_blk_discard_write_zeroes *dr = (void *)(d->pool + r->slot + SLOT_RANGE);
		uint64_t left = (io->len - op->described) / KCHAIN_SECTOR;
		uint32_t num = left < d->max_discard ? (uint32_t)left : d->max_discard;

		h->type = VIRTIO_BLK_T_DISCARD;
		h->sector = 0;
		dr->sector = (io->offset + op->described) / KCHAIN_SECTOR;
		dr->num_sectors = num;
		dr->flags = 0;
		bytes = (uint64_t)num * KCHAIN_SECTOR;
		s[k++] = pool_seg(d, r->slot + SLOT_RANGE, sizeof(*dr), false);
		if (op->described + bytes == io->len)
			op->all_described = true;
		break;
	}
	}
	h->ioprio = 0;
	d->pool[r->slot + SLOT_STATUS] = STATUS_NONE;
	s[k++] = pool_seg(d, r->slot + SLOT_STATUS, 1, true);
	q->k.ch[n] = (struct kshim_chain){ .cookie = (uintptr_t)r, .seg_first = *nseg,
					 .seg_count = (uint16_t)k };
	*nseg += k;
	q->free = r->next_free;
	r->op = op;
	r->bytes = bytes;
	op->described += bytes;
	if (op_has_data(op) && op->described == io->len)
		op->all_described = true;
	op->outstanding++;
	return 1;
}

/* Chain n of the area was not submitted: give its request back. */
static void unbuild(struct kqueue *q, unsigned n)
{
	struct kreq *r = (struct kreq *)(uintptr_t)q->k.ch[n].cookie;
	struct kop *op = r->op;

	op->outstanding--;
	op->described -= r->bytes;
	op->cur = r->start;
	op->all_described = false;
	r->op = NULL;
	r->next_free = q->free;
	q->free = r;
}

/* Fill q's area from the FIFO; the number of chains. */
static unsigned build(struct kdev *d, struct kqueue *q, struct kop **finished)
{
	unsigned n = 0, nseg = 0;

	for (struct kop *op = d->head; op; op = op->next) {
		int rc;

		if (d->barrier && d->barrier != op)
			break;
		/* An ordered operation starts once everything before it is done. */
		if (op->io->ordered && (n || d->inflight > op->outstanding))
			break;
		while ((rc = add_chain(d, q, op, n, &nseg)) == 1)
			n++;
		if (rc < 0)
			break;
		if (op->io->ordered) {
			d->barrier = op;
			break;
		}
	}
	/* Operations that needed no (more) chain and have none in flight
	 * (an error found while describing them) complete after the KICK. */
	for (struct kop **l = &d->head; *l;) {
		struct kop *op = *l;

		if (op->all_described && !op->outstanding) {
			*l = op->next;
			op->next = *finished;
			*finished = op;
			continue;
		}
		l = &op->next;
	}
	d->tail = &d->head;
	while (*d->tail)
		d->tail = &(*d->tail)->next;
	return n;
}

/* --- the KICK -------------------------------------------------------------------------------- */

static void count_kick(struct kdev *d, struct kqueue *q, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct kop *op = ((struct kreq *)(uintptr_t)q->k.ch[i].cookie)->op;
		struct uplink_kshim *u = op->u;

		u->up.stats.device_reqs++;
		if (u->batch != d->batch) {
			u->batch = d->batch;
			u->up.stats.kicks++;
		}
	}
}

static int status_to_res(uint8_t st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK: return 0;
	case VIRTIO_BLK_S_UNSUPP: return -EOPNOTSUPP;
	default: return -EIO;   /* VIRTIO_BLK_S_IOERR, or never written */
	}
}

/* One KICK of q: submit what fits, collect what completed.  True when it
 * freed descriptors or queued work, i.e. another round may do more. */
static bool run_queue(struct kdev *d, struct kqueue *q, unsigned round)
{
	struct kop *finished = NULL, *op;
	struct kshim_kick k = { .queue = q->k.idx };
	unsigned n = 0;
	int rc, e = 0;
	bool kicked;

	/*
	 * Two KICKs per pass at most while the device is busy: the first
	 * collects and submits, the second submits what the guest queued in
	 * response.  Later rounds would find one new request each (the guest
	 * runs alongside us) and pay a syscall for it; left queued, they go
	 * out together at the next interrupt, which kshim raises once half of
	 * what is in flight is done.  An idle queue is always kicked.
	 */
	if (round >= 2 && q->inflight && !q->collect)
		return false;
	if (d->head && !q->full)
		n = build(d, q, &finished);
	kicked = n || q->collect;
	if (kicked) {
		q->collect = false;
		k.sq_count = n;
		d->batch++;
		rc = ioctl(d->fd, KSHIM_IOC_KICK, &k);
		e = rc < 0 ? errno : 0;
		if (e && e != ENOSPC && e != EINVAL && e != ENOENT && e != ERANGE && e != EPERM) {
			/* EIO (the device returned garbage), ENODEV (unplugged), ... */
			for (unsigned i = n; i-- > 0;)
				unbuild(q, i);
			while ((op = finished)) {
				finished = op->next;
				complete(d, op);
			}
			kill_device(d, "KICK failed", e);
			return false;
		}
		count_kick(d, q, k.sq_done);
		q->inflight += k.sq_done;
		d->inflight += k.sq_done;
		/* What kshim did not take goes back to the FIFO, last first so
		 * that each operation's cursor ends at its first unsent chain. */
		for (unsigned i = n; i-- > k.sq_done + (e && e != ENOSPC);)
			unbuild(q, i);
		if (e == ENOSPC) {
			q->full = true;
		} else if (e) {
			/* kshim refused a chain we built (a region gone?): a bug
			 * here, not the guest's.  Its operation fails. */
			struct kreq *r = (struct kreq *)(uintptr_t)q->k.ch[k.sq_done].cookie;

			log_err("kshim %s: chain refused: %s", d->name, strerror(e));
			op = r->op;
			r->op = NULL;
			r->next_free = q->free;
			q->free = r;
			op->outstanding--;
			op->err = -EIO;
			op->all_described = true;
		}
	}
	/* Wholly submitted operations leave the FIFO (they are at its head). */
	while (d->head && d->head->all_described) {
		op = d->head;
		d->head = op->next;
		if (!op->outstanding) {
			op->next = finished;
			finished = op;
		}
	}
	if (!d->head)
		d->tail = &d->head;
	if (k.cq_count)
		q->full = false;
	for (unsigned i = 0; i < k.cq_count; i++) {
		struct kreq *r = (struct kreq *)(uintptr_t)q->k.cqe[i].cookie;
		int res = status_to_res(d->pool[r->slot + SLOT_STATUS]);

		op = r->op;
		r->op = NULL;
		r->next_free = q->free;
		q->free = r;
		q->inflight--;
		d->inflight--;
		if (res < 0 && !op->err)
			op->err = res;
		if (--op->outstanding == 0 && op->all_described) {
			op->next = finished;
			finished = op;
		}
	}
	while ((op = finished)) {
		finished = op->next;
		complete(d, op);
	}
	return kicked && (k.cq_count > 0 || (d->head && !q->full && !d->barrier));
}

/* End of a loop pass (uring.c repeats it while anything moves): one KICK
 * per queue with work, which submits and collects. */
bool kshim_pass(struct uring_pass_hook *h, unsigned round)
{
	struct kdev *d = (struct kdev *)((char *)h - offsetof(struct kdev, pass));
	bool more = false;

	for (unsigned i = 0; i < d->nq && !d->dead; i++)
		more |= run_queue(d, &d->q[i], round);
	return more;
}

void kshim_on_interrupt(struct ev_loop *l, ev_io *w, int revents)
{
	struct kqueue *q = (struct kqueue *)((char *)w - offsetof(struct kqueue, k.w));

	(void)l, (void)revents;
	/* Only clears the eventfd: the prepare watcher's KICK collects. */
	kshim_q_ack(&q->k, q->d->name);
	q->collect = true;
}

/* --- memory ---------------------------------------------------------------------------------- */

static int reg_mem(struct kdev *d, uintptr_t addr, size_t len, bool writable, uint32_t *id)
{
	if (d->dead) {
		errno = ENODEV;
		return -1;
	}
	if (kshim_reg(d->fd, addr, len, writable, id) < 0)
		return -1;
	if (kmap_add(&d->map, addr, len, *id, writable) < 0) {
		ioctl(d->fd, KSHIM_IOC_UNREG_MEM, id);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Pinning can fail for reasons only the kernel knows (a gntdev mapping
 * kshim cannot pin): say it once per errno, precisely, not per request. */
static void reg_failed(struct kdev *d, const char *what, uintptr_t addr, size_t len, int e)
{
	static int last_errno;

	if (e == last_errno)
		return;
	last_errno = e;
	log_err("kshim %s: KSHIM_IOC_REG_MEM of %s (%zu bytes at %#" PRIxPTR ") failed: %s "
		"(errno %d; dmesg may say more)", d->name, what, len, addr, strerror(e), e);
}

static int ks_mem_register(struct uplink *u, void *addr, size_t len, bool writable)
{
	struct kdev *d = to_uk(u)->d;
	uint32_t id;

	if (reg_mem(d, (uintptr_t)addr, len, writable, &id) < 0) {
		reg_failed(d, "a persistent grant", (uintptr_t)addr, len, errno);
		return -1;
	}
	u->stats.mem_regions++;
	return 0;
}

static void ks_mem_unregister(struct uplink *u, void *addr, size_t len)
{
	struct kdev *d = to_uk(u)->d;
	const struct kmap_entry *e = kmap_find(&d->map, (uintptr_t)addr);
	uint32_t id;

	if (!e)
		return;
	id = e->region;
	if (!d->dead && ioctl(d->fd, KSHIM_IOC_UNREG_MEM, &id) < 0)
		log_err("kshim %s: releasing a persistent grant: %s", d->name, strerror(errno));
	kmap_del(&d->map, (uintptr_t)addr, len);
	u->stats.mem_regions--;
}

/* Register the pages of op's iovecs that are not registered yet (mappings
 * made for this request only): one region per run of neighbouring pages,
 * which a transient grant mapping (one mmap per request) is. */
static int reg_transient(struct kdev *d, struct kop *op)
{
	const struct uplink_io *io = op->io;
	bool writable = io->op == UPLINK_READ;
	unsigned cap = 0;

	for (unsigned i = 0; i < io->iovcnt; i++) {
		uintptr_t a = (uintptr_t)io->iov[i].iov_base & ~(uintptr_t)(KCHAIN_PAGE - 1);
		uintptr_t end = (uintptr_t)io->iov[i].iov_base + io->iov[i].iov_len;

		for (; a < end; a += KCHAIN_PAGE) {
			struct kspan *s = op->nspan ? &op->span[op->nspan - 1] : NULL;
			bool pending = false;

			if (kmap_find(&d->map, a))
				continue;
			for (unsigned k = 0; k < op->nspan && !pending; k++)
				pending = a >= op->span[k].addr && a < op->span[k].addr + op->span[k].len;
			if (pending)
				continue;
			if (s && s->addr + s->len == a) {
				s->len += KCHAIN_PAGE;
				continue;
			}
			if (op->nspan == cap) {
				struct kspan *n = realloc(op->span, (cap ? cap * 2 : 4) * sizeof(*n));

				if (!n)
					goto fail;
				op->span = n;
				cap = cap ? cap * 2 : 4;
			}
			op->span[op->nspan++] = (struct kspan){ .addr = a, .len = KCHAIN_PAGE };
		}
	}
	for (unsigned k = 0; k < op->nspan; k++) {
		if (reg_mem(d, op->span[k].addr, op->span[k].len, writable, &op->span[k].region) < 0) {
			reg_failed(d, "a guest mapping", op->span[k].addr, op->span[k].len, errno);
			op->nspan = k;  /* release only what was registered */
			goto fail;
		}
		op->u->up.stats.registrations++;
	}
	return 0;
fail:
	release_spans(d, op);
	return -1;
}

/* --- the uplink ---------------------------------------------------------------------------- */

static int ks_submit(struct uplink *u, struct uplink_io *io)
{
	struct uplink_kshim *uk = to_uk(u);
	struct kdev *d = uk->d;
	struct kop *op;

	if (d->dead) {
		u->stats.errors++;
		io->done(io, -EIO);
		return 0;
	}
	/* No volatile cache (no FLUSH feature): completed writes are durable. */
	if ((io->op == UPLINK_FLUSH && !(d->features & (1ull << VIRTIO_BLK_F_FLUSH))) ||
	    (io->op == UPLINK_DISCARD && !u->can_discard)) {
		io->done(io, io->op == UPLINK_FLUSH ? 0 : -EOPNOTSUPP);
		return 0;
	}
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->io = io;
	op->u = uk;
	if (op_has_data(op) && reg_transient(d, op) < 0) {
		free(op);
		u->stats.errors++;
		io->done(io, -EIO);
		return 0;
	}
	*d->tail = op;
	d->tail = &op->next;
	return 0;
}

static void ks_close(struct uplink *u)
{
	struct uplink_kshim *uk = to_uk(u);

	/* The vbd closes only once its I/O drained and its grants are released. */
	kdev_put(uk->d);
	free(uk);
}

static const struct uplink_ops kshim_ops = {
	.submit = ks_submit,
	.close = ks_close,
	.mem_register = ks_mem_register,
	.mem_unregister = ks_mem_unregister,
};

struct uplink *uplink_kshim_open(const char *name, const char *pci, bool readonly,
				 char *err, size_t errlen)
{
	struct uplink_kshim *uk;
	struct kdev *d;

	d = kdev_get(ev_default_loop(0), name, pci, err, errlen);
	if (!d)
		return NULL;
	if (d->readonly && !readonly) {
		snprintf(err, errlen, "kshim %s (%s) is read-only (VIRTIO_BLK_F_RO): use access=ro",
			 name, pci);
		kdev_put(d);
		return NULL;
	}
	uk = calloc(1, sizeof(*uk));
	if (!uk) {
		snprintf(err, errlen, "out of memory");
		kdev_put(d);
		return NULL;
	}
	uk->d = d;
	uk->up.ops = &kshim_ops;
	uk->up.kind = "kshim";
	uk->up.size = d->sectors * KCHAIN_SECTOR;
	uk->up.sector_size = KCHAIN_SECTOR;
	uk->up.physical_sector_size = d->phys_block;
	uk->up.readonly = readonly;
	uk->up.can_discard = d->max_discard && !d->readonly;
	/* No dom0 page cache on this path either; "direct" means O_DIRECT. */
	uk->up.direct = false;
	return &uk->up;
}
