/* config.c - blanket.conf parsing; see config.h for the shape. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"

struct parse_ctx {
	struct bl_config *c;
	char *err;
	size_t errlen;
};

static void set_defaults(struct bl_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", BL_DEFAULT_SOCKET);
	c->log_level = BL_LOG_INFO;
	c->vbd.max_ring_page_order = 4;
	c->vbd.max_indirect_segments = 256;
	c->vbd.persistent_grants = true;
	/* blkback's default (xen_blkif_max_pgrants). */
	c->vbd.max_persistent_grants = 1056;
	c->vbd.discard = true;
	c->vbd.direct_io = true;
	/* netback's defaults: Linux bridge ageing, and a queue of ~ one ring. */
	c->vif.fdb_ageing = 300;
	c->vif.fdb_max = 4096;
	c->vif.rx_backlog = 256;
}

static int fail(struct parse_ctx *p, const char *fmt, const char *a, const char *b)
{
	/* inih goes on after an error and reports the first line: keep its message. */
	if (!p->err[0])
		snprintf(p->err, p->errlen, fmt, a, b);
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int add_paths(struct parse_ctx *p, const char *v)
{
	struct bl_config *c = p->c;
	char *copy = strdup(v), *save = NULL, *tok;

	if (!copy)
		return fail(p, "out of memory%s%s", "", "");
	for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		size_t n = strlen(tok);

		if (tok[0] != '/') {
			/* tok points into copy: the message first. */
			int rc = fail(p, "allowed-paths: '%s' is not absolute%s", tok, "");

			free(copy);
			return rc;
		}
		if (c->vbd.n_allowed == BL_CONFIG_MAX_PATHS) {
			free(copy);
			return fail(p, "allowed-paths: more than 32 entries%s%s", "", "");
		}
		/* "/srv/" and "/srv" mean the same directory. */
		while (n > 1 && tok[n - 1] == '/')
			tok[--n] = '\0';
		c->vbd.allowed[c->vbd.n_allowed] = strdup(tok);
		if (!c->vbd.allowed[c->vbd.n_allowed]) {
			free(copy);
			return fail(p, "out of memory%s%s", "", "");
		}
		c->vbd.n_allowed++;
	}
	free(copy);
	return 1;
}

/* PCI address DDDD:BB:DD.F (the domain may be left out): the form sysfs
 * names devices by, so it is normalised to lower case with the domain. */
static int parse_pci(const char *v, char *out, size_t outlen)
{
	unsigned dom = 0, bus, dev, fn;
	int n = -1;

	if (sscanf(v, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &n) != 4 || v[n]) {
		n = -1;
		dom = 0;
		if (sscanf(v, "%2x:%2x.%1x%n", &bus, &dev, &fn, &n) != 3 || v[n])
			return -1;
	}
	/* sscanf's %x takes signs and "0x": accept hex digits and separators only. */
	for (const char *p = v; *p; p++)
		if (!strchr("0123456789abcdefABCDEF:.", *p))
			return -1;
	if (dev > 0x1f || fn > 7)
		return -1;
	snprintf(out, outlen, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

static int add_kshim(struct parse_ctx *p, const char *name, const char *v)
{
	struct bl_config *c = p->c;
	size_t n = strlen(name);

	if (n == 0 || n >= BL_KSHIM_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
		return fail(p, "[kshim] '%s': a device name is 1-31 letters, digits, '-' or '_'%s", name, "");
	if (bl_config_kshim_pci(c, name))
		return fail(p, "[kshim] '%s' is named twice%s", name, "");
	if (c->n_kshim == BL_CONFIG_MAX_KSHIM)
		return fail(p, "[kshim] more than 16 devices%s%s", "", "");
	if (parse_pci(v, c->kshim[c->n_kshim].pci, sizeof(c->kshim[0].pci)))
		return fail(p, "[kshim] %s: '%s' is not a PCI address like 0000:00:05.0", name, v);
	for (unsigned i = 0; i < c->n_kshim; i++)
		if (!strcmp(c->kshim[i].pci, c->kshim[c->n_kshim].pci))
			return fail(p, "[kshim] %s: PCI device '%s' already has a name", name, v);
	snprintf(c->kshim[c->n_kshim].name, sizeof(c->kshim[0].name), "%s", name);
	c->n_kshim++;
	return 1;
}

/* uplink = tap:IFNAME | kshim:NAME | none.  NAME must be in [kshim], which
 * may come later in the file: checked once it is all read. */
static int parse_uplink(struct parse_ctx *p, const char *v)
{
	struct bl_config *c = p->c;
	size_t vl = strlen(v);
	const char *name = !strncmp(v, "kshim:", 6) ? v + 6 : v + (vl < 4 ? vl : 4);
	size_t n = strlen(name);

	c->vif.tap[0] = '\0';
	c->vif.kshim[0] = '\0';
	if (!strcmp(v, "none"))
		return 1;
	if (!strncmp(v, "kshim:", 6)) {
		if (n == 0 || n >= sizeof(c->vif.kshim) || strspn(name, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
			return fail(p, "uplink: '%s': kshim:NAME names a device of [kshim] (1-31 letters, digits, '-' or '_')%s", v, "");
		snprintf(c->vif.kshim, sizeof(c->vif.kshim), "%s", name);
		return 1;
	}
	if (strncmp(v, "tap:", 4) || n == 0 || n >= sizeof(c->vif.tap) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return fail(p, "uplink: '%s' is not none, tap:IFNAME (1-15 letters, digits, '_', '.', '-') or kshim:NAME%s", v, "");
	snprintf(c->vif.tap, sizeof(c->vif.tap), "%s", name);
	return 1;
}

static int on_vif_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct bl_config *c = p->c;

	if (!strcmp(key, "uplink"))
		return parse_uplink(p, v);
	if (!strcmp(key, "max-queues")) {
		if (parse_uint(v, 0, 64, &c->vif.max_queues))
			return fail(p, "max-queues: '%s' is not 0 (online CPUs) to 64%s", v, "");
		return 1;
	}
	if (!strcmp(key, "allow-mac-spoof")) {
		if (parse_bool(v, &c->vif.allow_mac_spoof))
			return fail(p, "%s: '%s' is not yes or no", key, v);
		return 1;
	}
	if (!strcmp(key, "fdb-ageing")) {
		if (parse_uint(v, 1, 1000000, &c->vif.fdb_ageing))
			return fail(p, "fdb-ageing: '%s' is not 1 to 1000000 seconds%s", v, "");
		return 1;
	}
	if (!strcmp(key, "fdb-size")) {
		if (parse_uint(v, 16, 1u << 20, &c->vif.fdb_max))
			return fail(p, "fdb-size: '%s' is not 16 to 1048576 entries%s", v, "");
		return 1;
	}
	if (!strcmp(key, "vhost")) {
		if (!strcmp(v, "auto"))
			c->vif.vhost = BL_VHOST_AUTO;
		else if (!strcmp(v, "yes"))
			c->vif.vhost = BL_VHOST_YES;
		else if (!strcmp(v, "no"))
			c->vif.vhost = BL_VHOST_NO;
		else
			return fail(p, "vhost: '%s' is not auto, yes or no%s", v, "");
		return 1;
	}
	if (!strcmp(key, "rx-backlog")) {
		if (parse_uint(v, 1, 65536, &c->vif.rx_backlog))
			return fail(p, "rx-backlog: '%s' is not 1 to 65536 packets%s", v, "");
		return 1;
	}
	return fail(p, "unknown key '%s' in [%s]", key, "vif");
}

static int on_key(void *user, const char *section, const char *key, const char *v)
{
	struct parse_ctx *p = user;
	struct bl_config *c = p->c;
	bool b;

	if (!strcmp(section, "daemon")) {
		if (!strcmp(key, "socket")) {
			if (v[0] != '/' || strlen(v) >= sizeof(c->socket))
				return fail(p, "socket: '%s' must be an absolute path under 108 bytes%s", v, "");
			snprintf(c->socket, sizeof(c->socket), "%s", v);
			return 1;
		}
		if (!strcmp(key, "log-level")) {
			static const char *const lv[] = { "error", "warning", "info", "debug" };

			for (unsigned i = 0; i < 4; i++)
				if (!strcmp(v, lv[i])) {
					c->log_level = (enum bl_log_level)i;
					return 1;
				}
			return fail(p, "log-level: '%s' is not error, warning, info or debug%s", v, "");
		}
	} else if (!strcmp(section, "vbd")) {
		if (!strcmp(key, "allowed-paths"))
			return add_paths(p, v);
		if (!strcmp(key, "max-queues")) {
			if (parse_uint(v, 0, 64, &c->vbd.max_queues))
				return fail(p, "max-queues: '%s' is not 0 (online CPUs) to 64%s", v, "");
			return 1;
		}
		if (!strcmp(key, "max-ring-page-order")) {
			if (parse_uint(v, 0, 4, &c->vbd.max_ring_page_order))
				return fail(p, "max-ring-page-order: '%s' is not 0 to 4%s", v, "");
			return 1;
		}
		if (!strcmp(key, "max-indirect-segments")) {
			if (parse_uint(v, 0, 256, &c->vbd.max_indirect_segments) ||
			    (c->vbd.max_indirect_segments && c->vbd.max_indirect_segments < 11))
				return fail(p, "max-indirect-segments: '%s' is not 0 (off) or 11 to 256%s", v, "");
			return 1;
		}
		if (!strcmp(key, "max-persistent-grants")) {
			if (parse_uint(v, 0, 65536, &c->vbd.max_persistent_grants))
				return fail(p, "max-persistent-grants: '%s' is not 0 to 65536%s", v, "");
			return 1;
		}
		if (!strcmp(key, "persistent-grants") || !strcmp(key, "discard") ||
		    !strcmp(key, "direct-io")) {
			if (parse_bool(v, &b))
				return fail(p, "%s: '%s' is not yes or no", key, v);
			if (key[0] == 'p')
				c->vbd.persistent_grants = b;
			else if (key[0] == 'd' && key[1] == 'i' && key[2] == 's')
				c->vbd.discard = b;
			else
				c->vbd.direct_io = b;
			return 1;
		}
	} else if (!strcmp(section, "vif")) {
		return on_vif_key(p, key, v);
	} else if (!strcmp(section, "kshim")) {
		return add_kshim(p, key, v);
	} else {
		return fail(p, "unknown section [%s]; expected [daemon], [vbd], [vif] or [kshim]%s", section, "");
	}
	return fail(p, "unknown key '%s' in [%s]", key, section);
}

static int finish(struct parse_ctx *p, int rc, const char *name)
{
	char msg[256];

	if (rc == 0 && p->c->vif.kshim[0] && !bl_config_kshim_pci(p->c, p->c->vif.kshim)) {
		snprintf(p->err, p->errlen, "%s: [vif] uplink = kshim:%s: no device '%s' in [kshim] "
			 "(add %s = <PCI address of the L0 virtio-net>)", name, p->c->vif.kshim,
			 p->c->vif.kshim, p->c->vif.kshim);
		bl_config_free(p->c);
		return -1;
	}
	if (rc == 0)
		return 0;
	if (rc == -1) {
		snprintf(p->err, p->errlen, "%s: cannot open: %s (pass -c FILE or create it from conf/blanket.conf)",
			 name, strerror(errno));
	} else if (rc == -2) {
		snprintf(p->err, p->errlen, "%s: out of memory", name);
	} else {
		snprintf(msg, sizeof(msg), "%s", p->err[0] ? p->err : "syntax error (expected key = value or [section])");
		snprintf(p->err, p->errlen, "%s:%d: %s", name, rc, msg);
	}
	bl_config_free(p->c);
	return -1;
}

int bl_config_load(struct bl_config *c, const char *path, char *err, size_t errlen)
{
	struct parse_ctx p = { c, err, errlen };

	set_defaults(c);
	err[0] = '\0';
	return finish(&p, ini_parse(path, on_key, &p), path);
}

int bl_config_parse(struct bl_config *c, const char *text, char *err, size_t errlen)
{
	struct parse_ctx p = { c, err, errlen };

	set_defaults(c);
	err[0] = '\0';
	return finish(&p, ini_parse_string(text, on_key, &p), "<string>");
}

void bl_config_free(struct bl_config *c)
{
	for (unsigned i = 0; i < c->vbd.n_allowed; i++)
		free(c->vbd.allowed[i]);
	c->vbd.n_allowed = 0;
	c->n_kshim = 0;
}

const char *bl_config_kshim_pci(const struct bl_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_kshim; i++)
		if (!strcmp(c->kshim[i].name, name))
			return c->kshim[i].pci;
	return NULL;
}

bool bl_config_path_allowed(const struct bl_config *c, const char *resolved)
{
	if (c->vbd.n_allowed == 0)
		return true;
	for (unsigned i = 0; i < c->vbd.n_allowed; i++) {
		const char *a = c->vbd.allowed[i];
		size_t n = strlen(a);

		/* A prefix only counts at a path boundary: /srv does not allow /srv2. */
		if (!strncmp(resolved, a, n) &&
		    (resolved[n] == '/' || resolved[n] == '\0' || (n == 1 && a[0] == '/')))
			return true;
	}
	return false;
}
