/*
 * xen.c - struct bl_xen over libxengnttab, libxenevtchn and libxenstore
 * (and libxencall, for notifications in batches).
 *
 * Event-channel pending/unmask go straight to the evtchn fd: Linux's
 * /dev/xen/evtchn returns several pending ports per read() and unmasks
 * several per write(), and in a PV dom0 every syscall is a trip through
 * Xen, so a batch per loop pass matters.  The evtchn device notifies one
 * port per ioctl, so several go as one multicall through privcmd.
 */
/* The hypercall numbers of today's interface (event_channel_op is 32, not
 * the pre-3.2 compat 16). */
#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xencall.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include <xen/event_channel.h>
#include <xen/xen.h>

#include "xen.h"

/* Notifications per multicall (the entries and their arguments share one
 * hypercall buffer). */
#define NOTIFY_MC_MAX 64u

struct bl_xen {
	xengnttab_handle *gnt;
	xenevtchn_handle *evtchn;
	struct xs_handle *xs;
	/* bl_self_pages: opened at the first call */
	bool shr_tried;
	xengntshr_handle *shr;
	uint32_t self;
	struct bl_self_pages sink;   /* bl_gnt_probe_sink's page */
	/* bl_evtchn_notify_many: opened at the first batch */
	bool call_tried;
	xencall_handle *call;
	struct multicall_entry *mc;  /* [NOTIFY_MC_MAX], then the sends */
	struct evtchn_send *send;    /* [NOTIFY_MC_MAX] */
};

struct bl_xen *bl_xen_open(const char **what)
{
	struct bl_xen *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	*what = "/dev/xen/gntdev (load xen-gntdev)";
	x->gnt = xengnttab_open(NULL, 0);
	if (!x->gnt)
		goto fail;
	*what = "/dev/xen/evtchn (load xen-evtchn)";
	x->evtchn = xenevtchn_open(NULL, 0);
	if (!x->evtchn)
		goto fail;
	/* bl_evtchn_pending() drains the fd: it must never block. */
	fcntl(xenevtchn_fd(x->evtchn), F_SETFL,
	      fcntl(xenevtchn_fd(x->evtchn), F_GETFL) | O_NONBLOCK);
	*what = "xenstore (is xenstored running?)";
	x->xs = xs_open(0);
	if (!x->xs)
		goto fail;
	*what = NULL;
	return x;
fail:
	bl_xen_close(x);
	return NULL;
}

void bl_xen_close(struct bl_xen *x)
{
	int saved = errno;

	if (!x)
		return;
	bl_self_pages_free(x, &x->sink);
	if (x->mc)
		xencall_free_buffer(x->call, x->mc);
	if (x->call)
		xencall_close(x->call);
	if (x->shr)
		xengntshr_close(x->shr);
	if (x->xs)
		xs_close(x->xs);
	if (x->evtchn)
		xenevtchn_close(x->evtchn);
	if (x->gnt)
		xengnttab_close(x->gnt);
	free(x);
	errno = saved;
}

int bl_gnt_set_max(struct bl_xen *x, uint32_t count)
{
	return xengnttab_set_max_grants(x->gnt, count);
}

void *bl_gnt_map(struct bl_xen *x, uint32_t domid, uint32_t count,
		 const grant_ref_t *refs, bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);

	return xengnttab_map_domain_grant_refs(x->gnt, count, domid,
					       (uint32_t *)refs, prot);
}

void *bl_gnt_map_refs(struct bl_xen *x, uint32_t count, const uint32_t *domids,
		      const grant_ref_t *refs, bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);

	return xengnttab_map_grant_refs(x->gnt, count, (uint32_t *)domids, (uint32_t *)refs,
					prot);
}

int bl_gnt_unmap(struct bl_xen *x, void *addr, uint32_t count)
{
	return xengnttab_unmap(x->gnt, addr, count);
}

int bl_gnt_copy(struct bl_xen *x, struct bl_gnt_copy_seg *segs, unsigned n)
{
	xengnttab_grant_copy_segment_t op[64];
	int rc = 0;

	/* libxengnttab wants its own layout: translate in chunks of 64, one
	 * ioctl each (gntdev itself batches up to 16 hypercall ops). */
	for (unsigned base = 0; base < n; base += 64) {
		unsigned k = n - base < 64 ? n - base : 64;

		for (unsigned i = 0; i < k; i++) {
			const struct bl_gnt_copy_seg *s = &segs[base + i];
			xengnttab_grant_copy_segment_t *o = &op[i];

			o->flags = 0;
			if (s->src.foreign) {
				o->source.foreign.ref = s->src.gref;
				o->source.foreign.offset = s->src.offset;
				o->source.foreign.domid = (uint16_t)s->src.domid;
				o->flags |= GNTCOPY_source_gref;
			} else {
				o->source.virt = s->src.virt;
			}
			if (s->dst.foreign) {
				o->dest.foreign.ref = s->dst.gref;
				o->dest.foreign.offset = s->dst.offset;
				o->dest.foreign.domid = (uint16_t)s->dst.domid;
				o->flags |= GNTCOPY_dest_gref;
			} else {
				o->dest.virt = s->dst.virt;
			}
			o->len = s->len;
			o->status = GNTST_general_error;
		}
		if (xengnttab_grant_copy(x->gnt, k, op))
			rc = -1;
		for (unsigned i = 0; i < k; i++)
			segs[base + i].status = rc ? GNTST_general_error : op[i].status;
	}
	return rc;
}

int bl_self_pages_alloc(struct bl_xen *x, unsigned count, struct bl_self_pages *p)
{
	*p = (struct bl_self_pages){ .count = count };
	if (!x->shr_tried) {
		char *self = xs_read(x->xs, XBT_NULL, "domid", NULL);

		x->shr_tried = true;
		x->shr = self ? xengntshr_open(NULL, 0) : NULL;
		x->self = self ? (uint32_t)strtoul(self, NULL, 10) : 0;
		free(self);
	}
	p->refs = x->shr ? calloc(count, sizeof(*p->refs)) : NULL;
	if (p->refs) {
		p->addr = xengntshr_share_pages(x->shr, x->self, (int)count, p->refs, 1);
		if (p->addr) {
			p->domid = x->self;
			return 0;
		}
		free(p->refs);
		p->refs = NULL;
	}
	p->addr = aligned_alloc(4096, (size_t)count * 4096);
	if (!p->addr)
		return -1;
	memset(p->addr, 0, (size_t)count * 4096);
	return 0;
}

void bl_self_pages_free(struct bl_xen *x, struct bl_self_pages *p)
{
	if (p->refs)
		xengntshr_unshare(x->shr, p->addr, p->count);
	else
		free(p->addr);
	free(p->refs);
	*p = (struct bl_self_pages){ 0 };
}

struct bl_copy_ptr bl_gnt_probe_sink(struct bl_xen *x)
{
	if (!x->sink.addr && bl_self_pages_alloc(x, 1, &x->sink) < 0) {
		static uint8_t scratch;

		return (struct bl_copy_ptr){ .virt = &scratch };
	}
	return bl_self_ptr(&x->sink, 0);
}

int bl_evtchn_fd(struct bl_xen *x)
{
	return xenevtchn_fd(x->evtchn);
}

int bl_evtchn_bind(struct bl_xen *x, uint32_t domid, evtchn_port_t remote_port)
{
	xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(x->evtchn, domid, remote_port);

	return p < 0 ? -1 : (int)p;
}

int bl_evtchn_unbind(struct bl_xen *x, evtchn_port_t port)
{
	return xenevtchn_unbind(x->evtchn, port);
}

/* privcmd and a hypercall buffer for the multicalls, at the first batch;
 * false (and one ioctl per port from then on) without them. */
static bool notify_mc_ready(struct bl_xen *x)
{
	if (!x->call_tried) {
		x->call_tried = true;
		x->call = xencall_open(NULL, 0);
		if (x->call)
			x->mc = xencall_alloc_buffer(x->call, NOTIFY_MC_MAX * (sizeof(*x->mc) +
										sizeof(*x->send)));
		if (x->mc)
			x->send = (struct evtchn_send *)(x->mc + NOTIFY_MC_MAX);
	}
	return x->mc != NULL;
}

int bl_evtchn_notify_many(struct bl_xen *x, const evtchn_port_t *ports, unsigned n)
{
	int rc = 0;

	while (n > 1 && notify_mc_ready(x)) {
		unsigned k = n < NOTIFY_MC_MAX ? n : NOTIFY_MC_MAX;

		for (unsigned i = 0; i < k; i++) {
			x->send[i].port = ports[i];
			x->mc[i] = (struct multicall_entry){
				.op = __HYPERVISOR_event_channel_op,
				.args = { EVTCHNOP_send, (xen_ulong_t)(uintptr_t)&x->send[i] },
			};
		}
		if (xencall2(x->call, __HYPERVISOR_multicall, (uint64_t)(uintptr_t)x->mc, k) < 0) {
			/* None sent (a restricted privcmd, say): the ioctls
			 * below, and from now on. */
			xencall_free_buffer(x->call, x->mc);
			x->mc = NULL;
			break;
		}
		/* An entry's failure is its port's (closed under us): as one
		 * failed ioctl would be. */
		for (unsigned i = 0; i < k; i++)
			if (x->mc[i].result)
				rc = -1;
		ports += k;
		n -= k;
	}
	for (unsigned i = 0; i < n; i++)
		if (xenevtchn_notify(x->evtchn, ports[i]) < 0)
			rc = -1;
	return rc;
}

bool bl_evtchn_multicall(struct bl_xen *x)
{
	return notify_mc_ready(x);
}

int bl_evtchn_pending(struct bl_xen *x, evtchn_port_t *ports, unsigned max)
{
	ssize_t n = read(xenevtchn_fd(x->evtchn), ports, max * sizeof(*ports));

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	return (int)(n / (ssize_t)sizeof(*ports));
}

int bl_evtchn_unmask(struct bl_xen *x, const evtchn_port_t *ports, unsigned n)
{
	ssize_t len = (ssize_t)(n * sizeof(*ports));

	if (n == 0)
		return 0;
	return write(xenevtchn_fd(x->evtchn), ports, (size_t)len) == len ? 0 : -1;
}

int bl_xs_fd(struct bl_xen *x)
{
	return xs_fileno(x->xs);
}

char *bl_xs_read(struct bl_xen *x, bl_xs_txn t, const char *path)
{
	unsigned len;

	/* libxenstore NUL-terminates what it returns. */
	return xs_read(x->xs, t, path, &len);
}

bool bl_xs_write(struct bl_xen *x, bl_xs_txn t, const char *path, const char *val)
{
	size_t n = 0;

	while (val[n])
		n++;
	return xs_write(x->xs, t, path, val, (unsigned)n);
}

bool bl_xs_rm(struct bl_xen *x, bl_xs_txn t, const char *path)
{
	return xs_rm(x->xs, t, path);
}

char **bl_xs_directory(struct bl_xen *x, bl_xs_txn t, const char *path, unsigned *num)
{
	return xs_directory(x->xs, t, path, num);
}

bool bl_xs_watch(struct bl_xen *x, const char *path, const char *token)
{
	return xs_watch(x->xs, path, token);
}

bool bl_xs_unwatch(struct bl_xen *x, const char *path, const char *token)
{
	return xs_unwatch(x->xs, path, token);
}

char **bl_xs_next_watch(struct bl_xen *x)
{
	return xs_check_watch(x->xs);
}

bl_xs_txn bl_xs_begin(struct bl_xen *x)
{
	return xs_transaction_start(x->xs);
}

bool bl_xs_end(struct bl_xen *x, bl_xs_txn t, bool abort)
{
	return xs_transaction_end(x->xs, t, abort);
}
