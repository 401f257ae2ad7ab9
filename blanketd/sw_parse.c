/*
 * sw_parse.c - where a frame's L3 and L4 headers are, read from the
 * switch's private copy of its first bytes (never from guest memory).
 *
 * Used for the partial-checksum offsets a TAP uplink's virtio_net_hdr
 * needs (netback's skb_checksum_setup does the same walk) and for the flow
 * a Toeplitz hash is computed over.
 */
#include <netinet/in.h>
#include <string.h>

#include "bytes.h"
#include "switch.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6_ 0x86dd
#define ETH_P_VLAN 0x8100

static void parse_l4(const uint8_t *hdr, unsigned len, struct sw_l34 *o, unsigned off)
{
	if (o->fragment)
		return;
	if (o->l4_proto == IPPROTO_TCP && off + 20 <= len) {
		unsigned doff = (unsigned)(hdr[off + 12] >> 4) * 4;

		if (doff >= 20) {
			o->l4_off = (uint16_t)off;
			o->l4_hdr_len = (uint16_t)doff;
		}
	} else if (o->l4_proto == IPPROTO_UDP && off + 8 <= len) {
		o->l4_off = (uint16_t)off;
		o->l4_hdr_len = 8;
	}
}

void sw_parse(const uint8_t *hdr, unsigned len, struct sw_l34 *o)
{
	unsigned off = 12;

	memset(o, 0, sizeof(*o));
	if (len < 14)
		return;
	o->ethertype = get16(hdr + off);
	off += 2;
	if (o->ethertype == ETH_P_VLAN) {
		if (len < off + 4)
			return;
		o->ethertype = get16(hdr + off + 2);
		off += 4;
	}
	if (o->ethertype == ETH_P_IPV4) {
		unsigned ihl;

		if (len < off + 20 || hdr[off] >> 4 != 4 || (ihl = (hdr[off] & 15u) * 4) < 20)
			return;
		o->l3_off = (uint16_t)off;
		o->fragment = (get16(hdr + off + 6) & 0x3fff) != 0;
		o->l4_proto = hdr[off + 9];
		parse_l4(hdr, len, o, off + ihl);
	} else if (o->ethertype == ETH_P_IPV6_) {
		uint8_t nh;

		if (len < off + 40 || hdr[off] >> 4 != 6)
			return;
		o->l3_off = (uint16_t)off;
		o->ipv6 = true;
		nh = hdr[off + 6];
		off += 40;
		/* Hop-by-hop, routing and destination options: skip; a
		 * fragment header ends the walk (ipv6_skip_exthdr). */
		for (int i = 0; i < 8; i++) {
			if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
				if (len < off + 8)
					return;
				nh = hdr[off];
				off += (hdr[off + 1] + 1u) * 8;
			} else if (nh == IPPROTO_FRAGMENT) {
				o->fragment = true;
				break;
			} else {
				break;
			}
		}
		o->l4_proto = nh;
		parse_l4(hdr, len, o, off);
	}
}

int sw_csum_offsets(const struct sw_l34 *l, uint16_t *start, uint16_t *offset)
{
	if (!l->l4_off)
		return -1;
	*start = l->l4_off;
	*offset = l->l4_proto == IPPROTO_TCP ? 16 : 6;
	return 0;
}

int sw_offload_meta(const uint8_t *hdr, unsigned len, struct net_meta *m)
{
	struct sw_l34 l;

	if (!m->csum_blank && m->gso_type == XEN_NETIF_GSO_TYPE_NONE)
		return 0;
	sw_parse(hdr, len, &l);
	if (sw_csum_offsets(&l, &m->csum_start, &m->csum_offset))
		return -1;
	m->hdr_len = (uint16_t)(l.l4_off + l.l4_hdr_len);
	return 0;
}

bool sw_flow(const uint8_t *hdr, unsigned len, const struct sw_l34 *l, struct netif_flow *f)
{
	memset(f, 0, sizeof(*f));
	if (!l->l3_off)
		return false;
	f->ipv6 = l->ipv6;
	if (l->ipv6) {
		memcpy(f->saddr, hdr + l->l3_off + 8, 16);
		memcpy(f->daddr, hdr + l->l3_off + 24, 16);
	} else {
		memcpy(f->saddr, hdr + l->l3_off + 12, 4);
		memcpy(f->daddr, hdr + l->l3_off + 16, 4);
	}
	if (l->l4_proto == IPPROTO_TCP && l->l4_off && l->l4_off + 4u <= len) {
		f->tcp = true;
		memcpy(f->sport, hdr + l->l4_off, 2);
		memcpy(f->dport, hdr + l->l4_off + 2, 2);
	}
	return true;
}
