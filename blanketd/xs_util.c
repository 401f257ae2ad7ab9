/* xs_util.c - see xs_util.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xs_util.h"

char *xs_readf(struct bl_xen *x, const char *fmt, ...)
{
	char path[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return bl_xs_read(x, 0, path);
}

unsigned long xs_read_ulong(struct bl_xen *x, const char *dir, const char *node,
			    unsigned long def, bool *ok)
{
	char *s = xs_readf(x, "%s/%s", dir, node), *end;
	unsigned long v = def;

	if (s) {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end == s || *end)
			*ok = false;
		free(s);
	}
	return v;
}

bool xs_publish(struct bl_xen *x, const char *dir, const struct xs_kv *kv, unsigned n)
{
	char path[256], *exists;

	/* Another writer under dir (the toolstack's hotplug-status, say) fails
	 * our commit with EAGAIN.  Retry at once a few times, then back off a
	 * little (60 ms in all, the loop waits meanwhile): with two guests
	 * booting, libxl and the frontends keep xenstored busy.  Who gets
	 * false logs it; the next watch event tries again. */
	for (int tries = 0; tries < 32; tries++) {
		bl_xs_txn t;
		bool ok = true;

		if (tries >= 16)
			usleep(1000u << ((tries - 16) / 4));
		t = bl_xs_begin(x);
		if (!t)
			return false;
		snprintf(path, sizeof(path), "%s/state", dir);
		exists = bl_xs_read(x, t, path);
		if (!exists) {
			bl_xs_end(x, t, true);
			errno = ENOENT;
			return false;
		}
		free(exists);
		for (unsigned i = 0; i < n && ok; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, kv[i].key);
			ok = bl_xs_write(x, t, path, kv[i].val);
		}
		if (!ok) {
			int e = errno;

			bl_xs_end(x, t, true);
			errno = e;
			return false;
		}
		if (bl_xs_end(x, t, false))
			return true;
		if (errno != EAGAIN)
			return false;
	}
	return false;
}

void xs_kv_set(struct xs_kv *kv, unsigned *n, const char *key, unsigned long long v)
{
	kv[*n].key = key;
	snprintf(kv[*n].val, sizeof(kv[*n].val), "%llu", v);
	(*n)++;
}
