/*
 * config.h - blanket.conf, an INI file (parsed with inih).  The grammar and
 * every key are documented in conf/blanket.conf and README.md.
 */
#ifndef BLANKET_CONFIG_H
#define BLANKET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define BL_CONFIG_MAX_PATHS 32
#define BL_CONFIG_MAX_KSHIM 16
#define BL_KSHIM_NAME_MAX 32            /* bytes, with the NUL */
#define BL_DEFAULT_SOCKET "/run/blanketd.sock"

enum bl_log_level { BL_LOG_ERR, BL_LOG_WARN, BL_LOG_INFO, BL_LOG_DEBUG };

/* [vif] vhost: whether the kernel's vhost-net worker moves the TAP
 * uplink's frames (auto: when /dev/vhost-net opens). */
enum bl_vhost { BL_VHOST_AUTO, BL_VHOST_YES, BL_VHOST_NO };

struct bl_config {
	char socket[108];               /* control socket (sun_path size) */
	enum bl_log_level log_level;
	struct {
		/* Backing paths must lie under one of these (after realpath);
		 * none listed: any path the toolstack names. */
		char *allowed[BL_CONFIG_MAX_PATHS];
		unsigned n_allowed;
		unsigned max_queues;            /* 0: dom0's online CPUs */
		unsigned max_ring_page_order;   /* 0..4 */
		unsigned max_indirect_segments; /* 0 (off) or 11..256 */
		bool persistent_grants;
		unsigned max_persistent_grants; /* per ring */
		bool discard;
		bool direct_io;                 /* O_DIRECT where the backing allows */
	} vbd;
	/* [vif]: the network backend and its switch. */
	struct {
		char tap[16];                   /* uplink = tap:IFNAME; "" for none */
		char kshim[BL_KSHIM_NAME_MAX];  /* uplink = kshim:NAME (a [kshim] virtio-net); "" */
		unsigned max_queues;            /* 0: dom0's online CPUs */
		bool allow_mac_spoof;           /* guests may send from any MAC */
		unsigned fdb_ageing;            /* seconds a learned MAC lives */
		unsigned fdb_max;               /* MAC table entries */
		unsigned rx_backlog;            /* packets waiting per RX queue */
		enum bl_vhost vhost;            /* the TAP's frames through vhost-net */
	} vif;
	/* [kshim]: L0 virtio devices driven through the kshim module: a
	 * virtio-blk named by an xl disk line (target=kshim:NAME), a
	 * virtio-net by [vif] uplink = kshim:NAME. */
	struct {
		char name[BL_KSHIM_NAME_MAX];
		char pci[16];                   /* normalised: 0000:00:05.0 */
	} kshim[BL_CONFIG_MAX_KSHIM];
	unsigned n_kshim;
};

/* Defaults, then the file at path.  On error: -1 and one line in err that
 * names the file, the line and the fix. */
int bl_config_load(struct bl_config *c, const char *path, char *err, size_t errlen);
/* The same from a string (tests, fuzzing). */
int bl_config_parse(struct bl_config *c, const char *text, char *err, size_t errlen);
void bl_config_free(struct bl_config *c);

/* The PCI address configured for kshim device NAME, or NULL. */
const char *bl_config_kshim_pci(const struct bl_config *c, const char *name);

/* Whether an absolute, resolved path lies under an allowed prefix. */
bool bl_config_path_allowed(const struct bl_config *c, const char *resolved);

#endif
