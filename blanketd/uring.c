/* uring.c - see uring.h. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "uring.h"

static struct io_uring ring;
static ev_io ring_watcher;
static ev_prepare prepare_watcher;
static ev_idle idle_watcher;
static void (*flush_hook)(void);
static struct uring_pass_hook *pass_hooks;
static unsigned queued;
struct uring_stats uring_stats;

void uring_set_flush_hook(void (*hook)(void))
{
	flush_hook = hook;
}

struct io_uring_sqe *uring_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) {
		uring_submit();
		sqe = io_uring_get_sqe(&ring);
	}
	if (sqe)
		queued++;
	return sqe;
}

void uring_submit(void)
{
	int rc;

	if (!queued)
		return;
	rc = io_uring_submit(&ring);
	uring_stats.submits++;
	uring_stats.sqes += queued;
	if (rc < 0)
		log_err("io_uring_submit: %s", strerror(-rc));
	else
		queued = 0;
}

static void reap(void)
{
	struct io_uring_cqe *cqe;
	unsigned head, n;

	do {
		n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct uring_req *r = io_uring_cqe_get_data(cqe);

			n++;
			if (r)
				r->complete(r, cqe->res);
		}
		io_uring_cq_advance(&ring, n);
		/* Completions that found the CQ full wait in the kernel's
		 * overflow list: only io_uring_enter(GETEVENTS) moves them
		 * back, and nothing else here would call it. */
	} while (io_uring_cq_has_overflow(&ring) && io_uring_get_events(&ring) >= 0);
}

void uring_wait(void)
{
	struct io_uring_cqe *cqe;

	uring_submit();
	notify_flush();
	if (io_uring_wait_cqe(&ring, &cqe) == 0)
		reap();
}

static void on_ring(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	reap();
}

void uring_pass_hook_add(struct uring_pass_hook *h)
{
	h->next = pass_hooks;
	pass_hooks = h;
}

void uring_pass_hook_del(struct uring_pass_hook *h)
{
	for (struct uring_pass_hook **l = &pass_hooks; *l; l = &(*l)->next)
		if (*l == h) {
			*l = h->next;
			return;
		}
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)revents;
	ev_idle_stop(loop, w);
}

/* Last thing before the loop sleeps: answer guests, take their new
 * requests, hand I/O to the devices, and again while that completes more
 * (page-cache hits complete inside the submit).  In a PV dom0 every extra
 * trip through epoll is syscalls through Xen. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	bool more = true;

	(void)w, (void)revents;
	for (int round = 0; round < 16 && more; round++) {
		more = false;
		if (flush_hook)
			flush_hook();
		for (struct uring_pass_hook *h = pass_hooks; h; h = h->next)
			more |= h->run(h, (unsigned)round);
		uring_submit();
		/* The round's notifications, all in one call (notify.h),
		 * after its I/O went to the kernel: a guest woken now does
		 * not delay that. */
		notify_flush();
		if (io_uring_cq_ready(&ring)) {
			reap();
			more = true;
		}
	}
	/* Still busy: go round the loop without sleeping. */
	if (more)
		ev_idle_start(loop, &idle_watcher);
}

int uring_init(struct ev_loop *loop, unsigned entries)
{
	struct io_uring_params p = { 0 };
	int rc;

	/* A large CQ so a burst of completions from many rings never overflows. */
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	rc = io_uring_queue_init_params(entries, &ring, &p);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	ev_io_init(&ring_watcher, on_ring, ring.ring_fd, EV_READ);
	ev_io_start(loop, &ring_watcher);
	ev_idle_init(&idle_watcher, on_idle);
	ev_prepare_init(&prepare_watcher, on_prepare);
	ev_prepare_start(loop, &prepare_watcher);
	return 0;
}

void uring_exit(struct ev_loop *loop)
{
	ev_io_stop(loop, &ring_watcher);
	ev_idle_stop(loop, &idle_watcher);
	ev_prepare_stop(loop, &prepare_watcher);
	io_uring_queue_exit(&ring);
}
