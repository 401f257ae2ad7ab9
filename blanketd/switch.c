/*
 * switch.c - the learning switch; see switch.h.
 *
 * The MAC table is a fixed pool of fdb_size entries hashed into chains, so
 * its memory is bounded whatever source addresses guests make up: when it
 * is full, expired entries go first, then the least recently seen one.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "switch.h"

static const uint8_t bcast[SW_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void sw_buf_take_hdr(struct sw_buf *b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < b->nr_frags && n < SW_HDR_MAX; i++) {
		uint32_t k = b->frag[i].len < SW_HDR_MAX - n ? b->frag[i].len : SW_HDR_MAX - n;

		if (!b->frag[i].addr)
			break;
		memcpy(b->hdr + n, b->frag[i].addr, k);
		n += k;
	}
	b->hdr_len = n;
}

bool sw_mac_parse(const char *s, uint8_t *mac)
{
	unsigned v[SW_ETH_ALEN];
	int n = -1;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4],
			 &v[5], &n) != 6 || s[n])
		return false;
	for (int i = 0; i < SW_ETH_ALEN; i++)
		mac[i] = (uint8_t)v[i];
	return true;
}

/* --- the MAC table ------------------------------------------------------------ */

static unsigned mac_hash(const struct sw *s, const uint8_t *mac)
{
	uint64_t v = 0;

	/* One multiply by 2^64/phi (Fibonacci hashing) mixes all 48 bits
	 * into the high half: a tenth of the instructions of a bytewise
	 * hash, and two lookups per frame are made. */
	memcpy(&v, mac, SW_ETH_ALEN);
	return (unsigned)((v * 0x9e3779b97f4a7c15ull) >> 32) & (s->nbuckets - 1);
}

struct sw *sw_create(unsigned fdb_size, double ageing_s)
{
	struct sw *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fdb_size = fdb_size ? fdb_size : 1;
	s->nbuckets = 1;
	while (s->nbuckets < s->fdb_size)
		s->nbuckets *= 2;
	s->fdb = calloc(s->fdb_size, sizeof(*s->fdb));
	s->bucket = malloc(s->nbuckets * sizeof(*s->bucket));
	if (!s->fdb || !s->bucket) {
		sw_destroy(s);
		return NULL;
	}
	for (unsigned i = 0; i < s->nbuckets; i++)
		s->bucket[i] = -1;
	for (unsigned i = 0; i < s->fdb_size; i++)
		s->fdb[i].next = i + 1 < s->fdb_size ? (int32_t)(i + 1) : -1;
	s->free = 0;
	s->ageing = ageing_s;
	return s;
}

void sw_destroy(struct sw *s)
{
	if (!s)
		return;
	free(s->fdb);
	free(s->bucket);
	free(s);
}

static void fdb_remove(struct sw *s, int32_t idx)
{
	struct sw_fdb_entry *e = &s->fdb[idx];

	for (int32_t *l = &s->bucket[mac_hash(s, e->mac)]; *l >= 0; l = &s->fdb[*l].next)
		if (*l == idx) {
			*l = e->next;
			break;
		}
	e->used = false;
	e->port = NULL;
	e->next = s->free;
	s->free = idx;
	s->fdb_count--;
}

static int32_t fdb_find(struct sw *s, const uint8_t *mac)
{
	for (int32_t i = s->bucket[mac_hash(s, mac)]; i >= 0; i = s->fdb[i].next)
		if (!memcmp(s->fdb[i].mac, mac, SW_ETH_ALEN))
			return i;
	return -1;
}

static bool expired(const struct sw *s, const struct sw_fdb_entry *e)
{
	return s->now - e->seen > s->ageing;
}

void sw_age(struct sw *s)
{
	for (unsigned i = 0; i < s->fdb_size; i++)
		if (s->fdb[i].used && expired(s, &s->fdb[i])) {
			fdb_remove(s, (int32_t)i);
			s->aged++;
		}
}

/* A free entry: from the free list, else by ageing, else the oldest. */
static int32_t fdb_alloc(struct sw *s)
{
	int32_t idx;

	if (s->free < 0)
		sw_age(s);
	if (s->free < 0) {
		int32_t oldest = 0;

		for (unsigned i = 1; i < s->fdb_size; i++)
			if (s->fdb[i].seen < s->fdb[oldest].seen)
				oldest = (int32_t)i;
		fdb_remove(s, oldest);
		s->evicted++;
	}
	idx = s->free;
	s->free = s->fdb[idx].next;
	return idx;
}

static void fdb_learn(struct sw *s, const uint8_t *mac, struct sw_port *p)
{
	int32_t i = fdb_find(s, mac);
	struct sw_fdb_entry *e;
	unsigned h;

	if (i >= 0) {
		e = &s->fdb[i];
		if (e->port != p)
			s->moved++;
		e->port = p;
		e->seen = s->now;
		return;
	}
	i = fdb_alloc(s);
	e = &s->fdb[i];
	memcpy(e->mac, mac, SW_ETH_ALEN);
	e->used = true;
	e->port = p;
	e->seen = s->now;
	h = mac_hash(s, mac);
	e->next = s->bucket[h];
	s->bucket[h] = i;
	s->fdb_count++;
	s->learned++;
}

struct sw_port *sw_fdb_lookup(struct sw *s, const uint8_t *mac)
{
	int32_t i = fdb_find(s, mac);

	if (i < 0)
		return NULL;
	if (expired(s, &s->fdb[i])) {
		fdb_remove(s, i);
		s->aged++;
		return NULL;
	}
	return s->fdb[i].port;
}

/* --- ports ------------------------------------------------------------------------ */

void sw_port_add(struct sw *s, struct sw_port *p)
{
	p->sw = s;
	p->next = s->ports;
	s->ports = p;
}

void sw_port_del(struct sw *s, struct sw_port *p)
{
	for (struct sw_port **l = &s->ports; *l; l = &(*l)->next)
		if (*l == p) {
			*l = p->next;
			break;
		}
	for (unsigned i = 0; i < s->fdb_size; i++)
		if (s->fdb[i].used && s->fdb[i].port == p)
			fdb_remove(s, (int32_t)i);
	p->sw = NULL;
	p->next = NULL;
}

int sw_mcast_add(struct sw_port *p, const uint8_t *mac)
{
	for (unsigned i = 0; i < p->nr_mcast; i++)
		if (!memcmp(p->mcast[i], mac, SW_ETH_ALEN))
			return 0;
	/* netback's xenvif_mcast_add: a full list refuses the address. */
	if (p->nr_mcast == NETIF_MCAST_MAX)
		return -1;
	memcpy(p->mcast[p->nr_mcast++], mac, SW_ETH_ALEN);
	return 0;
}

void sw_mcast_del(struct sw_port *p, const uint8_t *mac)
{
	for (unsigned i = 0; i < p->nr_mcast; i++)
		if (!memcmp(p->mcast[i], mac, SW_ETH_ALEN)) {
			memmove(p->mcast[i], p->mcast[i + 1], (p->nr_mcast - i - 1) * SW_ETH_ALEN);
			p->nr_mcast--;
			return;
		}
}

static bool mcast_accepts(const struct sw_port *p, const uint8_t *mac)
{
	if (!p->mcast_filter)
		return true;
	for (unsigned i = 0; i < p->nr_mcast; i++)
		if (!memcmp(p->mcast[i], mac, SW_ETH_ALEN))
			return true;
	return false;
}

/* --- forwarding -------------------------------------------------------------------- */

static void deliver(struct sw_port *p, struct sw_buf *b)
{
	p->stats.out_pkts++;
	p->stats.out_bytes += b->len;
	p->ops->deliver(p, b);
}

void sw_input(struct sw *s, struct sw_port *in, struct sw_buf *b)
{
	const uint8_t *dst = b->hdr, *src = b->hdr + SW_ETH_ALEN;
	struct sw_port *to;
	bool mcast;

	in->stats.in_pkts++;
	in->stats.in_bytes += b->len;
	b->in = in;
	if (b->hdr_len < NETIF_ETH_HLEN) {
		in->stats.drop_runt++;
		return;
	}
	if (in->check_src && memcmp(src, in->mac, SW_ETH_ALEN)) {
		in->stats.drop_spoof++;
		return;
	}
	/* A multicast source is bogus: never learn it. */
	if (!sw_mac_is_multicast(src))
		fdb_learn(s, src, in);
	mcast = sw_mac_is_multicast(dst);
	if (!mcast) {
		to = sw_fdb_lookup(s, dst);
		if (to) {
			/* Never back out of the port it came in by. */
			if (to != in)
				deliver(to, b);
			return;
		}
		in->stats.flooded++;
	}
	for (struct sw_port *p = s->ports; p; p = p->next) {
		if (p == in)
			continue;
		if (mcast && memcmp(dst, bcast, SW_ETH_ALEN) && !mcast_accepts(p, dst)) {
			p->stats.mcast_filtered++;
			continue;
		}
		deliver(p, b);
	}
}

/* --- blanketctl fdb ------------------------------------------------------------------ */

void sw_fdb_render(struct sw *s, FILE *f, bool json)
{
	bool first = true;

	if (json)
		fputs("{\"fdb\":[", f);
	else
		fprintf(f, "%-17s  %-20s  %s\n", "MAC", "PORT", "AGE(s)");
	for (unsigned i = 0; i < s->fdb_size; i++) {
		const struct sw_fdb_entry *e = &s->fdb[i];
		char mac[18];

		if (!e->used || expired(s, e))
			continue;
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0], e->mac[1],
			 e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
		if (json)
			fprintf(f, "%s{\"mac\":\"%s\",\"port\":\"%s\",\"age\":%.1f}", first ? "" : ",",
				mac, e->port->name, s->now - e->seen);
		else
			fprintf(f, "%-17s  %-20s  %.1f\n", mac, e->port->name, s->now - e->seen);
		first = false;
	}
	if (json)
		fprintf(f, "],\"entries\":%u,\"size\":%u,\"ageing\":%.0f,\"learned\":%" PRIu64
			",\"moved\":%" PRIu64 ",\"evicted\":%" PRIu64 ",\"aged\":%" PRIu64 "}\n",
			s->fdb_count, s->fdb_size, s->ageing, s->learned, s->moved, s->evicted, s->aged);
	else if (first)
		fputs("(no entries)\n", f);
}
