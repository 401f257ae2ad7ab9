/* vbd_stats.c - what `blanketctl list` and `blanketctl stats` show. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "notify.h"
#include "uring.h"
#include "vbd.h"

static const char *const op_name[VBD_NR_OPS] = {
	"read", "write", "barrier", "flush", "discard", "indirect", "invalid",
};

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* Copies per guest request: what "zero-copy" promises is 0. */
static double per_op(uint64_t n, const struct uplink *u)
{
	return u && u->stats.ops ? (double)n / (double)u->stats.ops : 0.;
}

static void render_queue_json(FILE *f, const struct vbd_ring *r)
{
	const struct vbd_queue_stats *s = &r->stats;

	fprintf(f, "{\"queue\":%u,\"ring_entries\":%u,\"ring_pages\":%u,\"inflight\":%u,", r->index,
		r->size, r->nr_pages, r->st ? r->st->nr_inflight : 0);
	fputs("\"requests\":{", f);
	for (int i = 0; i < VBD_NR_OPS; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", op_name[i], s->reqs[i]);
	fprintf(f, "},\"bytes_read\":%" PRIu64 ",\"bytes_written\":%" PRIu64 ",\"errors\":%" PRIu64
		",\"persistent_grants\":%u,\"persistent_grant_hits\":%" PRIu64
		",\"persistent_grant_misses\":%" PRIu64 ",\"transient_maps\":%" PRIu64
		",\"events\":%" PRIu64 ",\"notifies\":%" PRIu64 ",\"merged\":%" PRIu64
		",\"stuck\":%" PRIu64 ",\"missed_events\":%" PRIu64 "}",
		s->bytes_read, s->bytes_written, s->errors, r->pg.count, r->pg.hits, r->pg.misses,
		s->transient_maps, s->events, s->notifies, s->merged, s->stuck, s->missed_events);
}

static void render_json(FILE *f, bool list_only)
{
	bool first = true;

	fputs("{\"vbds\":[", f);
	for (const struct vbd *v = vbd_list(); v; v = vbd_next(v)) {
		fprintf(f, "%s{\"domid\":%u,\"devid\":%u,\"frontend_domid\":%u,\"state\":", first ? "" : ",",
			v->xb.domid, v->xb.devid, v->xb.fe_domid);
		first = false;
		json_str(f, xb_state_name(v->xb.state));
		fputs(",\"backing\":", f);
		json_str(f, v->params);
		fprintf(f, ",\"uplink\":\"%s\",\"direct_io\":%s,\"readonly\":%s,\"sectors\":%" PRIu64
			",\"persistent\":%s",
			v->up ? v->up->kind : "none", v->up && v->up->direct ? "true" : "false",
			v->readonly ? "true" : "false", v->lim.sectors, v->persistent ? "true" : "false");
		if (v->xb.error) {
			fputs(",\"error\":", f);
			json_str(f, v->xb.error);
		}
		if (!list_only) {
			const struct uplink_stats z = { 0 }, *us = v->up ? &v->up->stats : &z;

			fprintf(f, ",\"uplink_ops\":%" PRIu64 ",\"uplink_errors\":%" PRIu64
				",\"uplink_copies\":%" PRIu64 ",\"uplink_copies_per_request\":%.3f"
				",\"uplink_registrations\":%" PRIu64 ",\"uplink_registered_regions\":%" PRIu64
				",\"uplink_device_requests\":%" PRIu64 ",\"uplink_kicks\":%" PRIu64
				",\"queues\":[", us->ops, us->errors, us->copies, per_op(us->copies, v->up),
				us->registrations, us->mem_regions, us->device_reqs, us->kicks);
			for (unsigned i = 0; i < v->nr_rings; i++) {
				if (i)
					fputc(',', f);
				render_queue_json(f, &v->rings[i]);
			}
			fputc(']', f);
		}
		fputc('}', f);
	}
	fprintf(f, "],\"io_uring\":{\"submit_calls\":%" PRIu64 ",\"sqes\":%" PRIu64 "},"
		"\"notifications\":{\"sent\":%" PRIu64 ",\"batches\":%" PRIu64 ",\"mode\":\"%s\"},"
		"\"daemon\":", uring_stats.submits, uring_stats.sqes, notify_stats.sent,
		notify_stats.batches, notify_mode());
	vbd_render_daemon(f, true);
	fputs("}\n", f);
}

static void render_text(FILE *f, bool list_only)
{
	const struct vbd *v = vbd_list();

	if (!v)
		fputs("no vbd devices\n", f);
	for (; v; v = vbd_next(v)) {
		fprintf(f, "vbd %u/%u  dom%u  %-12s %s (%s%s, %s, %" PRIu64 " sectors)%s%s\n", v->xb.domid,
			v->xb.devid, v->xb.fe_domid, xb_state_name(v->xb.state), v->params ? v->params : "-",
			v->up ? v->up->kind : "none", v->up && v->up->direct ? ", O_DIRECT" : "",
			v->readonly ? "ro" : "rw", v->lim.sectors, v->xb.error ? "  error: " : "",
			v->xb.error ? v->xb.error : "");
		if (list_only)
			continue;
		if (v->up) {
			const struct uplink_stats *us = &v->up->stats;

			fprintf(f, "  uplink %s: ops %" PRIu64 "  errors %" PRIu64 "  copies %" PRIu64
				" (%.2f per request)\n", v->up->kind, us->ops, us->errors, us->copies,
				per_op(us->copies, v->up));
			/* Only an uplink that registers memory has these. */
			if (v->up->ops->mem_register)
				fprintf(f, "    registrations %" PRIu64 " (%.2f per request)  registered "
					"regions %" PRIu64 "  device requests %" PRIu64 "  kicks %" PRIu64
					" (%.2f requests per kick)\n", us->registrations,
					per_op(us->registrations, v->up), us->mem_regions, us->device_reqs,
					us->kicks, us->kicks ? (double)us->device_reqs / (double)us->kicks : 0.);
		}
		for (unsigned i = 0; i < v->nr_rings; i++) {
			const struct vbd_ring *r = &v->rings[i];
			const struct vbd_queue_stats *s = &r->stats;

			fprintf(f, "  queue %u (%u entries):", r->index, r->size);
			for (int op = 0; op < VBD_NR_OPS; op++)
				fprintf(f, " %s %" PRIu64, op_name[op], s->reqs[op]);
			fprintf(f, "\n    bytes read %" PRIu64 "  written %" PRIu64 "  errors %" PRIu64
				"  in flight %u%s", s->bytes_read, s->bytes_written, s->errors,
				r->st ? r->st->nr_inflight : 0, s->stuck ? "" : "\n");
			if (s->stuck)
				fprintf(f, "  unanswered for 10 s %" PRIu64 "\n", s->stuck);
			if (s->missed_events)
				fprintf(f, "    missed events %" PRIu64 " (requests found waiting by the watchdog)\n",
					s->missed_events);
			fprintf(f, "    persistent grants %u/%u  hits %" PRIu64 "  misses %" PRIu64
				"  transient maps %" PRIu64 "\n", r->pg.count, r->pg.max, r->pg.hits,
				r->pg.misses, s->transient_maps);
			/* Requests per event and per notification: how well passes batch. */
			fprintf(f, "    events in %" PRIu64 "  notifications out %" PRIu64
				"  merged into a neighbour's operation %" PRIu64 "\n",
				s->events, s->notifies, s->merged);
		}
	}
	if (!list_only) {
		fprintf(f, "io_uring: %" PRIu64 " submit calls, %" PRIu64 " SQEs\n",
			uring_stats.submits, uring_stats.sqes);
		fprintf(f, "event notifications: %" PRIu64 " sent in %" PRIu64 " batches (%s)\n",
			notify_stats.sent, notify_stats.batches, notify_mode());
		vbd_render_daemon(f, false);
	}
}

/*
 * The daemon's own cost: loop passes, sleeps (voluntary context switches:
 * each is a wake-up, which a PV dom0 pays with hypercalls), CPU time, and
 * the CPU of io_uring's io-wq workers (I/O the kernel could not start
 * without blocking runs there, one context switch per operation).
 */
struct daemon_cost {
	unsigned long passes;
	long sleeps, preempted;
	double user_s, sys_s, iowq_s;
	unsigned iowq_threads;
};

static void daemon_cost(struct daemon_cost *c)
{
	struct rusage ru;
	DIR *d;
	struct dirent *e;
	long hz = sysconf(_SC_CLK_TCK);

	memset(c, 0, sizeof(*c));
	c->passes = ev_iteration(EV_DEFAULT);
	if (!getrusage(RUSAGE_SELF, &ru)) {
		c->sleeps = ru.ru_nvcsw;
		c->preempted = ru.ru_nivcsw;
		c->user_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
		c->sys_s = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	}
	d = opendir("/proc/self/task");
	while (d && (e = readdir(d))) {
		char path[300], buf[512], *p;
		unsigned long ut, st;
		FILE *t;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		t = fopen(path, "r");
		if (!t)
			continue;
		/* pid (comm) state ... utime stime are fields 14 and 15. */
		if (fgets(buf, sizeof(buf), t) && strstr(buf, "(iou-wrk") && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
			c->iowq_threads++;
			c->iowq_s += (double)(ut + st) / (double)hz;
		}
		fclose(t);
	}
	if (d)
		closedir(d);
}

void vbd_render_daemon(FILE *f, bool json)
{
	struct daemon_cost c;

	daemon_cost(&c);
	if (json)
		fprintf(f, "{\"loop_passes\":%lu,\"sleeps\":%ld,\"preempted\":%ld,\"cpu_user_s\":%.2f,"
			"\"cpu_sys_s\":%.2f,\"iowq_threads\":%u,\"iowq_cpu_s\":%.2f}", c.passes, c.sleeps,
			c.preempted, c.user_s, c.sys_s, c.iowq_threads, c.iowq_s);
	else
		fprintf(f, "daemon: %lu loop passes, %ld sleeps, %ld preemptions, CPU %.2f s user + "
			"%.2f s sys, io-wq: %u threads, %.2f s\n", c.passes, c.sleeps, c.preempted,
			c.user_s, c.sys_s, c.iowq_threads, c.iowq_s);
}

void vbd_render(FILE *f, bool json, bool list_only)
{
	if (json)
		render_json(f, list_only);
	else
		render_text(f, list_only);
}
