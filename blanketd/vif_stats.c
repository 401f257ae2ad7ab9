/* vif_stats.c - the vif part of `blanketctl list`, `stats` and `fdb`. */
#include <inttypes.h>
#include <stdio.h>

#include "vif.h"

static const char *mac_str(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

/* A queue's state, or an empty one for a queue without (not open). */
static const struct vif_queue_state *qst(const struct vif_queue *q)
{
	static const struct vif_queue_state none;

	return q->st ? q->st : &none;
}

static unsigned ring_used(const void *sring, RING_IDX cons)
{
	const volatile struct netif_tx_sring *s = sring;

	/* Requests posted and not yet consumed (TX), or buffers posted and
	 * not used yet (RX): how full the guest keeps the ring. */
	return s ? (unsigned)(s->req_prod - cons) : 0;
}

/* A ring's indices, as netback's debugfs io_ring shows them: with both
 * sides' event indices, a stalled ring tells who waits for whom. */
static void ring_indices(FILE *f, const char *name, const void *sring, RING_IDX cons, RING_IDX rsp_pvt)
{
	const volatile struct netif_tx_sring *s = sring;

	if (s)
		fprintf(f, "    %s ring: req prod %u cons %u event %u  rsp pvt %u prod %u event %u\n", name,
			s->req_prod, cons, s->req_event, rsp_pvt, s->rsp_prod, s->rsp_event);
}

static void queue_json(FILE *f, const struct vif_queue *q)
{
	const struct vif_queue_stats *s = &q->stats;

	fprintf(f, "{\"queue\":%u,\"tx_pending\":%u,\"rx_buffers\":%u,\"backlog\":%u,"
		"\"backlog_max\":%u,\"tx_inflight\":%u,\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
		",\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"drops\":{", q->index,
		ring_used(q->tx_sring, qst(q)->tx_cons), ring_used(q->rx_sring, qst(q)->rx_cons),
		q->bl_len, q->bl_cap, qst(q)->tx_inflight, s->tx_pkts, s->tx_bytes, s->rx_pkts, s->rx_bytes);
	for (int i = 0; i < VIF_NR_DROPS; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", vif_drop_name[i], s->drops[i]);
	fprintf(f, "},\"tx_copy_calls\":%" PRIu64 ",\"tx_copy_segments\":%" PRIu64
		",\"rx_copy_segments\":%" PRIu64 ",\"rx_copy_calls\":%" PRIu64 ",\"rx_bounced\":%" PRIu64
		",\"credit_waits\":%" PRIu64 ",\"mcast_ops\":%" PRIu64 ",\"events\":%" PRIu64
		",\"notifies\":%" PRIu64 ",\"missed_events\":%" PRIu64 "}", s->tx_copy_calls,
		s->tx_copy_segs, s->rx_copy_segs, s->rx_copy_calls, s->rx_bounced, s->credit_waits,
		s->mcast_ops, s->events, s->notifies, s->missed_events);
}

static void render_json(FILE *f, bool list_only)
{
	bool first = true;
	char mac[18];

	fputs("{\"vifs\":[", f);
	for (const struct vif *v = vif_list(); v; v = vif_next(v)) {
		const struct sw_port_stats *ps = &v->port.stats;

		fprintf(f, "%s{\"domid\":%u,\"devid\":%u,\"frontend_domid\":%u,\"name\":\"%s\","
			"\"state\":\"%s\",\"mac\":\"%s\",\"queues_n\":%u,\"disabled\":%s",
			first ? "" : ",", v->xb.domid, v->xb.devid, v->xb.fe_domid, v->port.name,
			xb_state_name(v->xb.state), mac_str(v->mac, mac), v->nr_queues,
			v->disabled ? "true" : "false");
		first = false;
		if (v->xb.error) {
			fputs(",\"error\":\"", f);
			for (const char *c = v->xb.error; *c; c++)
				fprintf(f, (*c == '"' || *c == '\\') ? "\\%c" :
					((unsigned char)*c < 0x20 ? "?" : "%c"), *c);
			fputc('"', f);
		}
		if (!list_only) {
			fprintf(f, ",\"sg\":%s,\"gso_tcpv4\":%s,\"gso_tcpv6\":%s,\"multicast_control\":%s,"
				"\"multicast_addresses\":%u,\"ctrl_ring\":%s,\"ctrl_requests\":%" PRIu64
				",\"rate_bytes\":%" PRIu64 ",\"rate_usec\":%" PRIu64
				",\"switch\":{\"in_packets\":%" PRIu64 ",\"out_packets\":%" PRIu64
				",\"spoofed\":%" PRIu64 ",\"flooded\":%" PRIu64 ",\"mcast_filtered\":%" PRIu64
				"},\"queues\":[", v->sg ? "true" : "false", v->gso4 ? "true" : "false",
				v->gso6 ? "true" : "false", v->mcast_ctrl ? "true" : "false",
				v->port.nr_mcast, v->ctrl_sring ? "true" : "false", v->ctrl_reqs,
				v->rate_usec ? v->rate_bytes : 0, v->rate_usec, ps->in_pkts, ps->out_pkts,
				ps->drop_spoof, ps->flooded, ps->mcast_filtered);
			for (unsigned i = 0; i < v->nr_queues; i++) {
				if (i)
					fputc(',', f);
				queue_json(f, &v->queues[i]);
			}
			fputc(']', f);
		}
		fputc('}', f);
	}
	fputs("]", f);
	if (!list_only && sw_uplink()) {
		const struct net_uplink_stats *u = &sw_uplink()->stats;

		fprintf(f, ",\"uplink\":{\"kind\":\"%s\",\"name\":\"%s\",\"tx_packets\":%" PRIu64
			",\"tx_bytes\":%" PRIu64 ",\"tx_errors\":%" PRIu64 ",\"rx_packets\":%" PRIu64
			",\"rx_bytes\":%" PRIu64 ",\"rx_errors\":%" PRIu64 ",\"rx_pool_empty\":%" PRIu64
			",\"tx_grant_maps\":%" PRIu64 ",\"tx_pages_mapped\":%" PRIu64
			",\"tx_uplink_maps\":%" PRIu64 ",\"copies\":%" PRIu64,
			sw_uplink()->kind, sw_uplink()->name, u->tx_pkts, u->tx_bytes, u->tx_errors,
			u->rx_pkts, u->rx_bytes, u->rx_errors, u->rx_pool_empty, u->tx_maps,
			u->tx_map_pages, u->tx_uplink_maps, u->copies);
		/* A device uplink's costs: copies (0: zero-copy), per-frame and
		 * long-lived registrations, KICKs. */
		if (sw_uplink()->engine)
			fprintf(f, ",\"engine\":\"%s\",\"kicks\":%" PRIu64 ",\"tx_inflight\":%" PRIu64,
				sw_uplink()->engine, u->kicks, u->tx_inflight);
		if (sw_uplink()->ops->mem_register)
			fprintf(f, ",\"registrations\":%" PRIu64 ",\"mem_regions\":%" PRIu64
				",\"kicks\":%" PRIu64 ",\"interrupts_tx\":%" PRIu64 ",\"interrupts_rx\":%"
				PRIu64 ",\"tx_inflight\":%" PRIu64 ",\"rx_gro_frames\":%" PRIu64
				",\"rx_gro_segments\":%" PRIu64, u->registrations, u->mem_regions, u->kicks,
				u->irqs_tx, u->irqs_rx, u->tx_inflight, u->rx_gro_frames, u->rx_gro_segs);
		fputc('}', f);
	}
	fputs("}\n", f);
}

static void render_text(FILE *f, bool list_only)
{
	const struct vif *v = vif_list();
	char mac[18];

	if (!v)
		fputs("no vif devices\n", f);
	for (; v; v = vif_next(v)) {
		fprintf(f, "vif %u/%u  dom%u  %-12s %s mac %s  %u queue(s)%s%s%s\n", v->xb.domid, v->xb.devid,
			v->xb.fe_domid, xb_state_name(v->xb.state), v->port.name, mac_str(v->mac, mac),
			v->nr_queues, v->disabled ? "  DISABLED (protocol error)" : "",
			v->xb.error ? "  error: " : "", v->xb.error ? v->xb.error : "");
		if (list_only)
			continue;
		fprintf(f, "  switch: in %" PRIu64 "  out %" PRIu64 "  spoofed %" PRIu64 "  flooded %"
			PRIu64 "  multicast filtered %" PRIu64 " (%s, %u addresses)  ctrl requests %" PRIu64
			"\n", v->port.stats.in_pkts, v->port.stats.out_pkts, v->port.stats.drop_spoof,
			v->port.stats.flooded, v->port.stats.mcast_filtered,
			v->mcast_ctrl ? "filtering" : "no filter", v->port.nr_mcast, v->ctrl_reqs);
		for (unsigned i = 0; i < v->nr_queues; i++) {
			const struct vif_queue *q = &v->queues[i];
			const struct vif_queue_stats *s = &q->stats;

			fprintf(f, "  queue %u: tx %" PRIu64 " pkts %" PRIu64 " bytes  rx %" PRIu64
				" pkts %" PRIu64 " bytes\n", q->index, s->tx_pkts, s->tx_bytes, s->rx_pkts,
				s->rx_bytes);
			fprintf(f, "    ring: tx pending %u  rx buffers %u  backlog %u/%u  tx in flight %u\n",
				ring_used(q->tx_sring, qst(q)->tx_cons), ring_used(q->rx_sring, qst(q)->rx_cons),
				q->bl_len, q->bl_cap, qst(q)->tx_inflight);
			ring_indices(f, "tx", q->tx_sring, qst(q)->tx_cons, qst(q)->tx_rsp_pvt);
			ring_indices(f, "rx", q->rx_sring, qst(q)->rx_cons, qst(q)->rx_rsp_pvt);
			fprintf(f, "    grants: tx header copies %" PRIu64 " segments in %" PRIu64
				" calls  rx copy segments %" PRIu64 " in %" PRIu64 " calls  bounced %"
				PRIu64 "\n", s->tx_copy_segs, s->tx_copy_calls, s->rx_copy_segs, s->rx_copy_calls, s->rx_bounced);
			fputs("    drops:", f);
			for (int d = 0; d < VIF_NR_DROPS; d++)
				if (s->drops[d])
					fprintf(f, " %s %" PRIu64, vif_drop_name[d], s->drops[d]);
			fprintf(f, "\n    events in %" PRIu64 "  notifications out %" PRIu64
				"  credit waits %" PRIu64 "  multicast ops %" PRIu64 "\n", s->events,
				s->notifies, s->credit_waits, s->mcast_ops);
			if (s->missed_events)
				fprintf(f, "    missed events %" PRIu64 " (TX requests found waiting by the watchdog)\n",
					s->missed_events);
		}
	}
	if (!list_only && sw_uplink()) {
		const struct net_uplink_stats *u = &sw_uplink()->stats;

		fprintf(f, "uplink %s:%s: tx %" PRIu64 " pkts %" PRIu64 " bytes (%" PRIu64 " errors)  rx %"
			PRIu64 " pkts %" PRIu64 " bytes (%" PRIu64 " errors, pool empty %" PRIu64 "x)\n",
			sw_uplink()->kind, sw_uplink()->name, u->tx_pkts, u->tx_bytes, u->tx_errors,
			u->rx_pkts, u->rx_bytes, u->rx_errors, u->rx_pool_empty);
		fprintf(f, "  guests' frames mapped: %" PRIu64 " pages in %" PRIu64
			" calls (%" PRIu64 " by the uplink itself)  bytes copied %" PRIu64 "\n",
			u->tx_map_pages, u->tx_maps, u->tx_uplink_maps, u->copies);
		if (sw_uplink()->engine)
			fprintf(f, "  %s: kicks %" PRIu64 "  tx in flight %" PRIu64 "\n",
				sw_uplink()->engine, u->kicks, u->tx_inflight);
		if (sw_uplink()->ops->mem_register)
			fprintf(f, "  registrations %" PRIu64 " (long-lived %" PRIu64 ")  kicks %"
				PRIu64 "  interrupts tx %" PRIu64 " rx %" PRIu64 "  tx in flight %"
				PRIu64 "  rx coalesced %" PRIu64 " segments into %" PRIu64 " frames\n",
				u->registrations, u->mem_regions, u->kicks, u->irqs_tx, u->irqs_rx,
				u->tx_inflight, u->rx_gro_segs, u->rx_gro_frames);
	}
}

void vif_render(FILE *f, bool json, bool list_only)
{
	if (json)
		render_json(f, list_only);
	else
		render_text(f, list_only);
}

void vif_render_fdb(FILE *f, bool json)
{
	if (vif_switch())
		sw_fdb_render(vif_switch(), f, json);
	else
		fputs(json ? "{\"fdb\":[]}\n" : "(no switch)\n", f);
}
