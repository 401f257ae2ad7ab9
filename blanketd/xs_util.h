/*
 * xs_util.h - the xenstore chores every backend (vbd.c, vif.c) shares:
 * reading nodes by format, reading numbers strictly, and publishing a set
 * of nodes atomically while the backend directory still exists.
 */
#ifndef BLANKETD_XS_UTIL_H
#define BLANKETD_XS_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "xen.h"

/* The node named by fmt (malloc'd), or NULL if absent. */
char *xs_readf(struct bl_xen *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dir/node as an unsigned number: def when absent; *ok = false when
 * malformed (anything but decimal digits), otherwise *ok is left alone. */
unsigned long xs_read_ulong(struct bl_xen *x, const char *dir, const char *node,
			    unsigned long def, bool *ok);

struct xs_kv {
	const char *key;
	char val[32];
};

/* Append key = v (decimal) to kv[*n]. */
void xs_kv_set(struct xs_kv *kv, unsigned *n, const char *key, unsigned long long v);
/* Write the nodes under dir in one transaction (retried on EAGAIN), only
 * while dir/state still exists: once the toolstack removed the directory, a
 * write would leave orphan nodes behind.  False if nothing was written,
 * errno ENOENT when dir/state is gone. */
bool xs_publish(struct bl_xen *x, const char *dir, const struct xs_kv *kv, unsigned n);

#endif
