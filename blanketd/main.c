/*
 * main.c - blanketd: Xen PV device backends in userspace.
 *
 * One thread, one libev loop: xenstore watches, the event-channel fd, the
 * io_uring completion fd and the control socket.  Ready for systemd as
 * Type=notify.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "ctl.h"
#include "log.h"
#include "uring.h"
#include "vbd.h"
#include "vif.h"
#include "xen.h"

#define DEFAULT_CONFIG "/etc/blanket.conf"

static struct bl_xen *xen;
static ev_io xs_watcher, evtchn_watcher;
static ev_signal sigterm_watcher, sigint_watcher;
static ev_timer drain_timer;
static int drain_ticks;

static void on_xenstore(struct ev_loop *loop, ev_io *w, int revents)
{
	char **vec;

	(void)loop, (void)w, (void)revents;
	while ((vec = bl_xs_next_watch(xen))) {
		vbd_xs_event(vec[0], vec[1]);
		vif_xs_event(vec[0], vec[1]);
		free(vec);
	}
}

static void on_evtchn(struct ev_loop *loop, ev_io *w, int revents)
{
	evtchn_port_t ports[64];
	int n;

	(void)loop, (void)w, (void)revents;
	/* One read for all pending ports, one write to unmask them all. */
	while ((n = bl_evtchn_pending(xen, ports, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			vbd_evtchn_event(ports[i]);
			vif_evtchn_event(ports[i]);
		}
		bl_evtchn_unmask(xen, ports, (unsigned)n);
		if (n < 64)
			break;
	}
}

/* Stop after in-flight I/O has completed (at most ~10 s): guest pages are
 * never unmapped under the kernel's feet. */
static void on_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w, (void)revents;
	if (vbd_quiesce() || ++drain_ticks > 100)
		ev_break(loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w, (void)revents;
	sd_notify(0, "STOPPING=1");
	log_info("stopping: waiting for in-flight I/O");
	ev_timer_init(&drain_timer, on_drain, 0., 0.1);
	ev_timer_start(loop, &drain_timer);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: blanketd [-c FILE]\n"
		   "  -c FILE   configuration (default " DEFAULT_CONFIG ")\n");
}

int main(int argc, char **argv)
{
	const char *conf_path = DEFAULT_CONFIG, *what;
	struct bl_config cfg;
	struct ev_loop *loop;
	char err[512];
	int opt;

	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (bl_config_load(&cfg, conf_path, err, sizeof(err))) {
		log_err("blanketd: %s", err);
		return 1;
	}
	log_level = cfg.log_level;
	xen = bl_xen_open(&what);
	if (!xen) {
		log_err("blanketd: cannot open %s: %s", what, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (uring_init(loop, 1024) < 0) {
		log_err("blanketd: io_uring: %s (needs Linux >= 5.10 with io_uring enabled)",
			strerror(errno));
		return 1;
	}
	uring_set_flush_hook(vbd_ring_flush_all);
	if (ctl_init(loop, cfg.socket) < 0) {
		log_err("blanketd: control socket %s: %s (set socket= in [daemon])", cfg.socket,
			strerror(errno));
		return 1;
	}
	ev_io_init(&xs_watcher, on_xenstore, bl_xs_fd(xen), EV_READ);
	ev_io_start(loop, &xs_watcher);
	ev_io_init(&evtchn_watcher, on_evtchn, bl_evtchn_fd(xen), EV_READ);
	ev_io_start(loop, &evtchn_watcher);
	if (vbd_init(loop, xen, &cfg) < 0) {
		log_err("blanketd: cannot watch xenstore's backend/vbd: %s", strerror(errno));
		return 1;
	}
	if (vif_init(loop, xen, &cfg) < 0) {
		log_err("blanketd: cannot watch xenstore's backend/vif: %s", strerror(errno));
		return 1;
	}
	if (cfg.vif.tap[0]) {
		struct net_uplink *u = uplink_tap_open(loop, xen, cfg.vif.tap, cfg.vif.vhost,
							err, sizeof(err));

		if (!u) {
			log_err("blanketd: [vif] uplink: %s", err);
			return 1;
		}
		sw_uplink_attach(vif_switch(), u);
		log_info("vif: uplink tap %s (checksum and TSO offloads on%s%s)", u->name,
			 u->engine ? ", frames moved by " : "", u->engine ? u->engine : "");
	} else if (cfg.vif.kshim[0]) {
		const char *pci = bl_config_kshim_pci(&cfg, cfg.vif.kshim);
		struct net_uplink *u = uplink_kshim_net_open(loop, xen, cfg.vif.kshim, pci,
							     err, sizeof(err));

		if (!u) {
			log_err("blanketd: [vif] uplink = kshim:%s: %s", cfg.vif.kshim, err);
			return 1;
		}
		sw_uplink_attach(vif_switch(), u);
		log_info("vif: uplink kshim-net %s (%s)", u->name, pci);
	}
	ev_signal_init(&sigterm_watcher, on_signal, SIGTERM);
	ev_signal_start(loop, &sigterm_watcher);
	ev_signal_init(&sigint_watcher, on_signal, SIGINT);
	ev_signal_start(loop, &sigint_watcher);
	log_info("blanketd: ready (control socket %s)", cfg.socket);
	sd_notify(0, "READY=1");
	ev_run(loop, 0);
	vbd_shutdown();
	vif_shutdown();
	ctl_exit(loop);
	uring_exit(loop);
	bl_xen_close(xen);
	bl_config_free(&cfg);
	return 0;
}
