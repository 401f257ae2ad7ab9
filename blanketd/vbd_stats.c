/* vbd_stats.c - what `blanketctl list` and `blanketctl stats` show. */
#include <inttypes.h>
#include <stdio.h>

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
		",\"persistent_grant_misses\":%" PRIu64 ",\"transient_maps\":%" PRIu64 "}",
		s->bytes_read, s->bytes_written, s->errors, r->pg.count, r->pg.hits, r->pg.misses,
		s->transient_maps);
}

static void render_json(FILE *f, bool list_only)
{
	bool first = true;

	fputs("{\"vbds\":[", f);
	for (const struct vbd *v = vbd_list(); v; v = v->next) {
		fprintf(f, "%s{\"domid\":%u,\"devid\":%u,\"frontend_domid\":%u,\"state\":", first ? "" : ",",
			v->domid, v->devid, v->fe_domid);
		first = false;
		json_str(f, xb_state_name(v->state));
		fputs(",\"backing\":", f);
		json_str(f, v->params);
		fprintf(f, ",\"uplink\":\"%s\",\"direct_io\":%s,\"readonly\":%s,\"sectors\":%" PRIu64
			",\"persistent\":%s",
			v->up ? v->up->kind : "none", v->up && v->up->direct ? "true" : "false",
			v->readonly ? "true" : "false", v->lim.sectors, v->persistent ? "true" : "false");
		if (v->error) {
			fputs(",\"error\":", f);
			json_str(f, v->error);
		}
		if (!list_only) {
			fprintf(f, ",\"uplink_ops\":%" PRIu64 ",\"uplink_errors\":%" PRIu64
				",\"uplink_copies\":%" PRIu64 ",\"queues\":[",
				v->up ? v->up->stats.ops : 0, v->up ? v->up->stats.errors : 0,
				v->up ? v->up->stats.copies : 0);
			for (unsigned i = 0; i < v->nr_rings; i++) {
				if (i)
					fputc(',', f);
				render_queue_json(f, &v->rings[i]);
			}
			fputc(']', f);
		}
		fputc('}', f);
	}
	fputs("]}\n", f);
}

static void render_text(FILE *f, bool list_only)
{
	const struct vbd *v = vbd_list();

	if (!v)
		fputs("no vbd devices\n", f);
	for (; v; v = v->next) {
		fprintf(f, "vbd %u/%u  dom%u  %-12s %s (%s%s, %s, %" PRIu64 " sectors)%s%s\n", v->domid,
			v->devid, v->fe_domid, xb_state_name(v->state), v->params ? v->params : "-",
			v->up ? v->up->kind : "none", v->up && v->up->direct ? ", O_DIRECT" : "",
			v->readonly ? "ro" : "rw", v->lim.sectors, v->error ? "  error: " : "",
			v->error ? v->error : "");
		if (list_only)
			continue;
		if (v->up)
			fprintf(f, "  uplink %s: ops %" PRIu64 "  errors %" PRIu64 "  copies %" PRIu64 "\n",
				v->up->kind, v->up->stats.ops, v->up->stats.errors, v->up->stats.copies);
		for (unsigned i = 0; i < v->nr_rings; i++) {
			const struct vbd_ring *r = &v->rings[i];
			const struct vbd_queue_stats *s = &r->stats;

			fprintf(f, "  queue %u (%u entries):", r->index, r->size);
			for (int op = 0; op < VBD_NR_OPS; op++)
				fprintf(f, " %s %" PRIu64, op_name[op], s->reqs[op]);
			fprintf(f, "\n    bytes read %" PRIu64 "  written %" PRIu64 "  errors %" PRIu64
				"  in flight %u\n", s->bytes_read, s->bytes_written, s->errors,
				r->st ? r->st->nr_inflight : 0);
			fprintf(f, "    persistent grants %u/%u  hits %" PRIu64 "  misses %" PRIu64
				"  transient maps %" PRIu64 "\n", r->pg.count, r->pg.max, r->pg.hits,
				r->pg.misses, s->transient_maps);
		}
	}
}

void vbd_render(FILE *f, bool json, bool list_only)
{
	if (json)
		render_json(f, list_only);
	else
		render_text(f, list_only);
}
