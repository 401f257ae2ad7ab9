/* xs_util.c - see xs_util.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	for (int tries = 0; tries < 16; tries++) {
		bl_xs_txn t = bl_xs_begin(x);
		bool ok = true;

		if (!t)
			return false;
		snprintf(path, sizeof(path), "%s/state", dir);
		exists = bl_xs_read(x, t, path);
		if (!exists) {
			bl_xs_end(x, t, true);
			return false;
		}
		free(exists);
		for (unsigned i = 0; i < n && ok; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, kv[i].key);
			ok = bl_xs_write(x, t, path, kv[i].val);
		}
		if (!ok) {
			bl_xs_end(x, t, true);
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
