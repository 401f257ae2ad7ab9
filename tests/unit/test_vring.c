/*
 * test_vring.c - the driver's side of a split virtqueue (vring.c) against a
 * device played by the test, as vhost-net's worker plays it: chains laid
 * out as the spec says, kicks asked for only when the device wants them,
 * completions in any order giving back their cookies and descriptors, a
 * full ring refusing what does not fit, bogus used entries ignored, the
 * 16-bit indices wrapping, draining at close; and vhost_net_open's one
 * line when the module is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vhost_net.h"
#include "vring.h"

/* The device's view: the next avail entry it will take. */
struct dev {
	uint16_t avail_seen;
};

/* The device takes the next published chain: its head, or -1. */
static int dev_take(struct vring_q *q, struct dev *d)
{
	if (q->r.avail->idx == d->avail_seen)
		return -1;
	return q->r.avail->ring[d->avail_seen++ & (q->num - 1)];
}

static void dev_use(struct vring_q *q, unsigned id, uint32_t len)
{
	q->r.used->ring[q->r.used->idx & (q->num - 1)] = (struct vring_used_elem){ id, len };
	q->r.used->idx++;
}

static unsigned chain_len(struct vring_q *q, unsigned head)
{
	unsigned n = 1;

	for (unsigned d = head; q->r.desc[d].flags & VRING_DESC_F_NEXT; n++)
		d = q->r.desc[d].next;
	return n;
}

static void test_init_sizes(void **state)
{
	struct vring_q q;

	(void)state;
	assert_int_equal(vring_q_init(&q, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vring_q_init(&q, 0), -1);
	assert_int_equal(vring_q_init(&q, 65536), -1);
	assert_int_equal(vring_q_init(&q, 256), 0);
	assert_int_equal(q.nfree, 256);
	assert_int_equal(vring_q_next_head(&q), 0);
	vring_q_free(&q);
}

static void test_chain_layout(void **state)
{
	struct vring_q q;
	struct dev d = { 0 };
	char a[10], b[20], c[30];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	int head, cookie;
	unsigned desc;

	(void)state;
	assert_int_equal(vring_q_init(&q, 8), 0);
	head = vring_q_add(&q, iov, 3, false, &cookie);
	assert_true(head >= 0);
	assert_int_equal(q.nfree, 5);
	/* Not visible before publish. */
	assert_int_equal(dev_take(&q, &d), -1);
	assert_true(vring_q_publish(&q));
	assert_int_equal(dev_take(&q, &d), head);
	desc = (unsigned)head;
	for (unsigned i = 0; i < 3; i++) {
		assert_ptr_equal((void *)(uintptr_t)q.r.desc[desc].addr, iov[i].iov_base);
		assert_int_equal(q.r.desc[desc].len, iov[i].iov_len);
		assert_int_equal(q.r.desc[desc].flags & VRING_DESC_F_WRITE, 0);
		assert_int_equal(!!(q.r.desc[desc].flags & VRING_DESC_F_NEXT), i < 2);
		desc = q.r.desc[desc].next;
	}
	/* A receive buffer: device-writable. */
	head = vring_q_add(&q, iov, 1, true, &cookie);
	assert_true(q.r.desc[head].flags & VRING_DESC_F_WRITE);
	/* No cookie, no chain; nothing empty either. */
	assert_int_equal(vring_q_add(&q, iov, 1, false, NULL), -1);
	assert_int_equal(vring_q_add(&q, iov, 0, false, &cookie), -1);
	vring_q_free(&q);
}

static void test_kick_suppression(void **state)
{
	struct vring_q q;
	char a[4];
	struct iovec iov = { a, sizeof(a) };
	int cookie;

	(void)state;
	assert_int_equal(vring_q_init(&q, 4), 0);
	/* Nothing new: no kick. */
	assert_false(vring_q_publish(&q));
	vring_q_add(&q, &iov, 1, false, &cookie);
	/* The worker is busy polling the ring: it says not to kick it. */
	q.r.used->flags = VRING_USED_F_NO_NOTIFY;
	assert_false(vring_q_publish(&q));
	assert_int_equal(q.r.avail->idx, 1);
	q.r.used->flags = 0;
	assert_false(vring_q_publish(&q));   /* already published */
	vring_q_add(&q, &iov, 1, false, &cookie);
	assert_true(vring_q_publish(&q));
	assert_int_equal(q.r.avail->idx, 2);
	/* Interrupts: the avail flag. */
	vring_q_interrupts(&q, false);
	assert_true(q.r.avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
	vring_q_interrupts(&q, true);
	assert_false(q.r.avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
	vring_q_free(&q);
}

static void test_out_of_order(void **state)
{
	struct vring_q q;
	struct dev d = { 0 };
	char buf[6][16];
	struct iovec iov[6];
	int ca, cb, cc;
	int ha, hb, hc;
	uint32_t len = 0;

	(void)state;
	for (unsigned i = 0; i < 6; i++)
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
	assert_int_equal(vring_q_init(&q, 8), 0);
	ha = vring_q_add(&q, iov, 2, false, &ca);
	hb = vring_q_add(&q, iov + 2, 1, true, &cb);
	hc = vring_q_add(&q, iov + 3, 3, false, &cc);
	assert_int_equal(q.nfree, 2);
	assert_int_equal(q.inflight, 3);
	vring_q_publish(&q);
	assert_int_equal(dev_take(&q, &d), ha);
	assert_int_equal(dev_take(&q, &d), hb);
	assert_int_equal(dev_take(&q, &d), hc);
	assert_int_equal(chain_len(&q, (unsigned)hc), 3);
	assert_null(vring_q_used(&q, &len));
	dev_use(&q, (unsigned)hb, 77);
	dev_use(&q, (unsigned)ha, 0);
	assert_ptr_equal(vring_q_used(&q, &len), &cb);
	assert_int_equal(len, 77);
	assert_int_equal(q.nfree, 3);
	assert_ptr_equal(vring_q_used(&q, NULL), &ca);
	assert_int_equal(q.nfree, 5);
	assert_null(vring_q_used(&q, NULL));
	dev_use(&q, (unsigned)hc, 0);
	assert_ptr_equal(vring_q_used(&q, NULL), &cc);
	assert_int_equal(q.nfree, 8);
	assert_int_equal(q.inflight, 0);
	/* The free list is whole: one chain of all 8 fits, a 9th does not. */
	{
		struct iovec big[9];

		for (unsigned i = 0; i < 9; i++)
			big[i] = iov[i % 6];
		assert_int_equal(vring_q_add(&q, big, 9, false, &ca), -1);
		assert_int_equal(q.nfree, 8);
		ha = vring_q_add(&q, big, 8, false, &ca);
		assert_true(ha >= 0);
		assert_int_equal(chain_len(&q, (unsigned)ha), 8);
		assert_int_equal(vring_q_next_head(&q), -1);
		assert_int_equal(vring_q_add(&q, big, 1, false, &cb), -1);
	}
	vring_q_free(&q);
}

static void test_bogus_used(void **state)
{
	struct vring_q q;
	char a[8];
	struct iovec iov = { a, sizeof(a) };
	int c1, c2;
	int h1, h2;

	(void)state;
	assert_int_equal(vring_q_init(&q, 8), 0);
	h1 = vring_q_add(&q, &iov, 1, false, &c1);
	h2 = vring_q_add(&q, &iov, 1, false, &c2);
	vring_q_publish(&q);
	dev_use(&q, 8, 0);              /* past the ring */
	dev_use(&q, 3, 0);              /* a descriptor not in flight */
	dev_use(&q, (unsigned)h2, 0);
	dev_use(&q, (unsigned)h2, 0);   /* twice */
	dev_use(&q, (unsigned)h1, 0);
	assert_ptr_equal(vring_q_used(&q, NULL), &c2);
	assert_ptr_equal(vring_q_used(&q, NULL), &c1);
	assert_null(vring_q_used(&q, NULL));
	assert_int_equal(q.nfree, 8);
	assert_int_equal(q.inflight, 0);
	vring_q_free(&q);
}

static void test_index_wrap(void **state)
{
	struct vring_q q;
	struct dev d = { 0 };
	char a[8];
	struct iovec iov[2] = { { a, 4 }, { a + 4, 4 } };
	int cookie[8];

	(void)state;
	assert_int_equal(vring_q_init(&q, 8), 0);
	/* Three chains in flight at a time, past 65536 on every index. */
	for (unsigned i = 0; i < 70000; i++) {
		int h = vring_q_add(&q, iov, 1 + i % 2, false, &cookie[i % 8]);

		assert_true(h >= 0);
		assert_true(vring_q_publish(&q));
		assert_int_equal(dev_take(&q, &d), h);
		dev_use(&q, (unsigned)h, i);
		if (q.inflight == 3) {
			uint32_t len;

			assert_ptr_equal(vring_q_used(&q, &len), &cookie[(i - 2) % 8]);
			assert_int_equal(len, i - 2);
		}
	}
	assert_int_equal(q.r.avail->idx, (uint16_t)70000);
	while (vring_q_used(&q, NULL))
		;
	assert_int_equal(q.nfree, 8);
	vring_q_free(&q);
}

static unsigned drained_used, drained_unused;

static void on_drain(void *cookie, bool used, void *arg)
{
	assert_ptr_equal(arg, &drained_used);
	assert_non_null(cookie);
	if (used)
		drained_used++;
	else
		drained_unused++;
}

static void test_drain(void **state)
{
	struct vring_q q;
	struct dev d = { 0 };
	char a[8];
	struct iovec iov = { a, sizeof(a) };
	int c[5];

	(void)state;
	assert_int_equal(vring_q_init(&q, 8), 0);
	for (unsigned i = 0; i < 5; i++)
		vring_q_add(&q, &iov, 1, false, &c[i]);
	vring_q_publish(&q);
	dev_use(&q, (unsigned)dev_take(&q, &d), 0);
	dev_use(&q, (unsigned)dev_take(&q, &d), 0);
	vring_q_drain(&q, on_drain, &drained_used);
	assert_int_equal(drained_used, 2);
	assert_int_equal(drained_unused, 3);
	assert_int_equal(q.nfree, 8);
	assert_int_equal(q.inflight, 0);
	vring_q_free(&q);
}

/* Without the module: one line that names it.  (A machine that has
 * vhost-net gets the device set up instead.) */
static void test_vhost_missing(void **state)
{
	struct vhost_net v;
	char err[256] = "";

	(void)state;
	if (access("/dev/vhost-net", F_OK) == 0) {
		assert_int_equal(vhost_net_open(&v, err, sizeof(err)), 0);
		vhost_net_close(&v);
		return;
	}
	assert_int_equal(vhost_net_open(&v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/dev/vhost-net"));
	assert_non_null(strstr(err, "modprobe vhost_net"));
	assert_null(strchr(err, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_sizes),
		cmocka_unit_test(test_chain_layout),
		cmocka_unit_test(test_kick_suppression),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_bogus_used),
		cmocka_unit_test(test_index_wrap),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_vhost_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
