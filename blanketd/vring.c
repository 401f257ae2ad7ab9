/*
 * vring.c - the driver's side of a split virtqueue (vring.h).
 *
 * The barriers are the virtio spec's (2.7.13): a chain's descriptors and
 * its avail entry are written before avail->idx (release), used entries
 * read after used->idx (acquire), and between publishing avail->idx and
 * reading whether the device wants a kick a full fence, without which
 * both sides could each miss the other's update and sleep.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vring.h"

#define VRING_ALIGN 4096u

int vring_q_init(struct vring_q *q, unsigned num)
{
	memset(q, 0, sizeof(*q));
	if (num == 0 || num > 32768 || (num & (num - 1))) {
		errno = EINVAL;
		return -1;
	}
	q->mem_len = vring_size(num, VRING_ALIGN);
	q->mem = mmap(NULL, q->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q->cookie = calloc(num, sizeof(*q->cookie));
	if (q->mem == MAP_FAILED || !q->cookie) {
		if (q->mem != MAP_FAILED)
			munmap(q->mem, q->mem_len);
		free(q->cookie);
		q->mem = NULL;
		q->cookie = NULL;
		errno = ENOMEM;
		return -1;
	}
	vring_init(&q->r, num, q->mem, VRING_ALIGN);
	q->num = num;
	for (unsigned i = 0; i + 1 < num; i++)
		q->r.desc[i].next = (uint16_t)(i + 1);
	q->free_head = 0;
	q->nfree = num;
	return 0;
}

void vring_q_free(struct vring_q *q)
{
	if (q->mem)
		munmap(q->mem, q->mem_len);
	free(q->cookie);
	memset(q, 0, sizeof(*q));
}

int vring_q_add(struct vring_q *q, const struct iovec *iov, unsigned n, bool writable,
		void *cookie)
{
	uint16_t head = q->free_head, d = head;

	if (n == 0 || n > q->nfree || !cookie)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct vring_desc *v = &q->r.desc[d];

		v->addr = (uint64_t)(uintptr_t)iov[i].iov_base;
		v->len = (uint32_t)iov[i].iov_len;
		v->flags = (uint16_t)((writable ? VRING_DESC_F_WRITE : 0) |
				      (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		d = v->next;
	}
	q->free_head = d;
	q->nfree -= n;
	q->cookie[head] = cookie;
	q->r.avail->ring[q->avail_idx & (q->num - 1)] = head;
	q->avail_idx++;
	q->inflight++;
	return head;
}

bool vring_q_publish(struct vring_q *q)
{
	if (q->avail_idx == q->published)
		return false;
	__atomic_store_n(&q->r.avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	q->published = q->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(__atomic_load_n(&q->r.used->flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY);
}

/* The chain at head is ours again: its cookie, its descriptors freed. */
static void *chain_free(struct vring_q *q, uint16_t head)
{
	void *cookie = q->cookie[head];
	uint16_t d = head, n = 1;

	q->cookie[head] = NULL;
	for (; q->r.desc[d].flags & VRING_DESC_F_NEXT; n++)
		d = q->r.desc[d].next;
	q->r.desc[d].next = q->free_head;
	q->free_head = head;
	q->nfree += n;
	q->inflight--;
	return cookie;
}

void *vring_q_used(struct vring_q *q, uint32_t *len)
{
	struct vring_used_elem e;

	do {
		if (__atomic_load_n(&q->r.used->idx, __ATOMIC_ACQUIRE) == q->last_used)
			return NULL;
		e = q->r.used->ring[q->last_used & (q->num - 1)];
		q->last_used++;
		/* A device that names a chain we did not give it is broken:
		 * skip the entry rather than free what is not in flight. */
	} while (e.id >= q->num || !q->cookie[e.id]);
	if (len)
		*len = e.len;
	return chain_free(q, (uint16_t)e.id);
}

void vring_q_interrupts(struct vring_q *q, bool on)
{
	uint16_t f = q->r.avail->flags;

	f = on ? (uint16_t)(f & ~VRING_AVAIL_F_NO_INTERRUPT) : (uint16_t)(f | VRING_AVAIL_F_NO_INTERRUPT);
	__atomic_store_n(&q->r.avail->flags, f, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vring_q_drain(struct vring_q *q, void (*done)(void *cookie, bool used, void *arg), void *arg)
{
	void *c;

	while ((c = vring_q_used(q, NULL)))
		done(c, true, arg);
	for (unsigned h = 0; h < q->num; h++)
		if (q->cookie[h])
			done(chain_free(q, (uint16_t)h), false, arg);
}
