/*
 * uring.h - the daemon's single io_uring, driven by libev.
 *
 * Every uplink queues its SQEs here; one io_uring_submit() per event-loop
 * pass (from an ev_prepare watcher) carries them all into the kernel, so a
 * pass costs one syscall however many rings and requests it served.
 * Completions are reaped without a syscall when the ring fd polls readable.
 */
#ifndef BLANKETD_URING_H
#define BLANKETD_URING_H

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
/* Hand SQEs to the kernel now (called once per loop pass). */
void uring_submit(void);
/* Work run after each batch of completions and before the loop sleeps
 * (vbd rings push their responses there). */
void uring_set_flush_hook(void (*hook)(void));

#endif
