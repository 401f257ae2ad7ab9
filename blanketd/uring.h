/*
 * uring.h - the daemon's single io_uring, driven by libev, and the end of
 * every event-loop pass.
 *
 * Every uplink queues its SQEs here; one io_uring_submit() per event-loop
 * pass (from an ev_prepare watcher) carries them all into the kernel, so a
 * pass costs one syscall however many rings and requests it served.
 * Completions are reaped without a syscall when the ring fd polls readable.
 */
#ifndef BLANKETD_URING_H
#define BLANKETD_URING_H

#include <stdbool.h>

#include <ev.h>
#include <liburing.h>

/* A completion's user_data points at one of these. */
struct uring_req {
	void (*complete)(struct uring_req *r, int res);
};

int uring_init(struct ev_loop *loop, unsigned entries);
void uring_exit(struct ev_loop *loop);
/* An SQE to fill in; submits what is queued if the SQ is full. */
struct io_uring_sqe *uring_sqe(void);
/* io_uring_enter calls made to submit, and SQEs they carried. */
struct uring_stats {
	uint64_t submits, sqes;
};
extern struct uring_stats uring_stats;

/* Hand SQEs to the kernel now (called once per loop pass). */
void uring_submit(void);
/* Submit, wait for at least one completion and run the completions
 * (an uplink closing with operations in flight). */
void uring_wait(void);
/* Work run after each batch of completions and before the loop sleeps
 * (vbd rings push their responses there, and take new requests). */
void uring_set_flush_hook(void (*hook)(void));

/*
 * An uplink with its own device queue (kshim) hands its queued operations
 * to the device and collects completions at the end of the pass too.  The
 * pass repeats flush hook, pass hooks and io_uring submit until a round
 * produces nothing new, so what one completes the others see at once and
 * nothing waits for a wake-up that will not come.
 */
struct uring_pass_hook {
	/* round: 0 for the pass's first round, then 1, 2, ...  True if it
	 * completed anything (the flush hook then has responses to push) or
	 * left work that only another round would start. */
	bool (*run)(struct uring_pass_hook *h, unsigned round);
	struct uring_pass_hook *next;
};
void uring_pass_hook_add(struct uring_pass_hook *h);
void uring_pass_hook_del(struct uring_pass_hook *h); /* no-op if not added */

#endif
