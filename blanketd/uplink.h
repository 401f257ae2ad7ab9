/*
 * uplink.h - the contract between a vbd and what stores its data.
 *
 * A vbd turns each guest request into uplink_io operations and submits them;
 * the uplink calls io->done() once per operation, from the event loop.  The
 * file uplink (uplink_file.c: a raw image or block device through io_uring)
 * implements it today; the kshim virtio-blk uplink implements the same.
 */
#ifndef BLANKETD_UPLINK_H
#define BLANKETD_UPLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum uplink_op { UPLINK_READ, UPLINK_WRITE, UPLINK_FLUSH, UPLINK_DISCARD };

struct uplink_io {
	enum uplink_op op;
	bool ordered;            /* start only after everything submitted before completes */
	uint64_t offset, len;    /* bytes; len of READ/WRITE is the iovecs' sum */
	const struct iovec *iov; /* READ/WRITE: guest memory, used in place */
	unsigned iovcnt;
	/* res: bytes transferred (READ/WRITE), 0, or -errno. */
	void (*done)(struct uplink_io *io, int res);
};

struct uplink_stats {
	uint64_t ops, errors;
	uint64_t copies;         /* data copies made by the uplink (0: zero-copy) */
};

struct uplink {
	const struct uplink_ops *ops;
	const char *kind;        /* "file", "blockdev", "kshim" */
	uint64_t size;           /* bytes */
	unsigned sector_size, physical_sector_size;
	bool readonly, can_discard, direct;
	struct uplink_stats stats;
};

struct uplink_ops {
	/* Queue io; completion comes through io->done().  Non-zero: not queued. */
	int (*submit)(struct uplink *u, struct uplink_io *io);
	void (*close)(struct uplink *u);
};

static inline int uplink_submit(struct uplink *u, struct uplink_io *io)
{
	u->stats.ops++;
	return u->ops->submit(u, io);
}

/* Open a raw image file or block device; NULL with a one-line reason in err. */
struct uplink *uplink_file_open(const char *path, bool readonly, bool direct,
				char *err, size_t errlen);

#endif
