/*
 * uplink_file.c - a raw image file or a block device, through io_uring.
 *
 * Guest pages (grant-mapped through gntdev) are handed to the kernel in
 * place: O_DIRECT works on gntdev mappings, so the data path makes no copy.
 * Where the backing has no O_DIRECT (tmpfs), buffered I/O is used and said so
 * in the stats.  Discard punches a hole in a file and is BLKDISCARD on a
 * block device.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "uplink.h"
#include "uring.h"

struct uplink_file {
	struct uplink up;
	int fd;
	bool blockdev;
};

/* One in-flight operation: io_uring's user_data. */
struct file_op {
	struct uring_req ureq;
	struct uplink_io *io;
	struct uplink_file *f;
};

static void file_complete(struct uring_req *r, int res)
{
	struct file_op *op = (struct file_op *)r;
	struct uplink_io *io = op->io;

	if (res < 0)
		op->f->up.stats.errors++;
	free(op);
	io->done(io, res);
}

/* BLKDISCARD has no io_uring opcode on 6.1; it is rare and bounded by the
 * guest's discard-max, so it runs inline. */
static int blockdev_discard(struct uplink_file *f, struct uplink_io *io)
{
	uint64_t range[2] = { io->offset, io->len };

	return ioctl(f->fd, BLKDISCARD, range) ? -errno : 0;
}

/*
 * A buffered write is a copy into the page cache.  io_uring cannot do it
 * without blocking on ext4 (no async buffered writes on 6.1), so it would
 * hand every one to a worker thread, and it serialises writes to one inode
 * there.  Done inline it costs one syscall and no thread switch -- what the
 * loop driver does too.
 */
static int buffered_write(struct uplink_file *f, struct uplink_io *io)
{
	ssize_t n = pwritev(f->fd, io->iov, (int)io->iovcnt, (off_t)io->offset);

	return n < 0 ? -errno : (int)n;
}

static int file_submit(struct uplink *u, struct uplink_io *io)
{
	struct uplink_file *f = (struct uplink_file *)u;
	struct io_uring_sqe *sqe;
	struct file_op *op;

	if ((io->op == UPLINK_DISCARD && f->blockdev) || (io->op == UPLINK_WRITE && !u->direct)) {
		int res = io->op == UPLINK_WRITE ? buffered_write(f, io) : blockdev_discard(f, io);

		if (res < 0)
			u->stats.errors++;
		io->done(io, res);
		return 0;
	}
	op = malloc(sizeof(*op));
	if (!op)
		return -ENOMEM;
	sqe = uring_sqe();
	if (!sqe) {
		free(op);
		return -EBUSY;
	}
	op->ureq.complete = file_complete;
	op->io = io;
	op->f = f;
	switch (io->op) {
	case UPLINK_READ:
		io_uring_prep_readv(sqe, f->fd, io->iov, io->iovcnt, io->offset);
		break;
	case UPLINK_WRITE:
		io_uring_prep_writev(sqe, f->fd, io->iov, io->iovcnt, io->offset);
		break;
	case UPLINK_FLUSH:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case UPLINK_DISCARD:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					io->offset, io->len);
		break;
	}
	if (io->ordered)
		sqe->flags |= IOSQE_IO_DRAIN;
	io_uring_sqe_set_data(sqe, &op->ureq);
	return 0;
}

static void file_close(struct uplink *u)
{
	struct uplink_file *f = (struct uplink_file *)u;

	close(f->fd);
	free(f);
}

static const struct uplink_ops file_ops = {
	.submit = file_submit,
	.close = file_close,
};

struct uplink *uplink_file_open(const char *path, bool readonly, bool direct,
				char *err, size_t errlen)
{
	struct uplink_file *f = calloc(1, sizeof(*f));
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->fd = -1;
	if (direct)
		f->fd = open(path, flags | O_DIRECT);
	/* tmpfs and some others refuse O_DIRECT with EINVAL: go buffered. */
	if (f->fd < 0 && (!direct || errno == EINVAL))
		f->fd = open(path, flags);
	else
		f->up.direct = true;
	if (f->fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		free(f);
		return NULL;
	}
	if (fstat(f->fd, &st) < 0)
		goto fail_errno;
	f->up.ops = &file_ops;
	f->up.readonly = readonly;
	f->up.sector_size = 512;
	f->up.physical_sector_size = 512;
	if (S_ISBLK(st.st_mode)) {
		int lbs = 512;
		unsigned pbs = 512;

		f->blockdev = true;
		f->up.kind = "blockdev";
		if (ioctl(f->fd, BLKGETSIZE64, &f->up.size) < 0)
			goto fail_errno;
		ioctl(f->fd, BLKSSZGET, &lbs);
		ioctl(f->fd, BLKPBSZGET, &pbs);
		f->up.physical_sector_size = pbs;
		/* blkif addresses 512-byte units; a 4 KiB-sector device would
		 * need every segment 4 KiB-aligned, which blkfront does not promise. */
		if (lbs != 512 && f->up.direct) {
			snprintf(err, errlen, "%s has %d-byte sectors; only 512 is supported", path, lbs);
			close(f->fd);
			free(f);
			return NULL;
		}
		f->up.can_discard = true;
	} else if (S_ISREG(st.st_mode)) {
		f->up.kind = "file";
		f->up.size = (uint64_t)st.st_size;
		f->up.can_discard = true;
		if ((uint64_t)st.st_blksize > 512)
			f->up.physical_sector_size = (unsigned)st.st_blksize;
	} else {
		snprintf(err, errlen, "%s is neither a regular file nor a block device", path);
		close(f->fd);
		free(f);
		return NULL;
	}
	return &f->up;
fail_errno:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(f->fd);
	free(f);
	return NULL;
}
