/* sw_gro.c - see sw_gro.h. */
#include <netinet/in.h>
#include <string.h>

#include "bytes.h"
#include "csum.h"
#include "netif.h"
#include "sw_gro.h"

#define ETH_HLEN_ 14u
#define VLAN_HLEN_ 4u
#define ETH_P_IPV4_ 0x0800
#define ETH_P_IPV6_ 0x86dd
#define ETH_P_VLAN_ 0x8100
#define IPV4_HLEN 20u
#define IPV6_HLEN 40u
#define IPV4_DF 0x4000
#define TCP_HLEN_MIN 20u
#define TCP_ACK 0x10
#define TCP_CSUM_OFF 16u

int sw_gro_parse(const uint8_t *f, size_t len, struct sw_gro_seg *s)
{
	size_t l3 = ETH_HLEN_, ip_len, l4, thlen;
	uint16_t proto;
	struct csum c = { 0, false };

	memset(s, 0, sizeof(*s));
	if (len < ETH_HLEN_)
		return -1;
	proto = get16(f + 12);
	if (proto == ETH_P_VLAN_) {
		if (len < ETH_HLEN_ + VLAN_HLEN_)
			return -1;
		proto = get16(f + 16);
		l3 += VLAN_HLEN_;
	}
	if (proto == ETH_P_IPV4_) {
		const uint8_t *ip = f + l3;
		struct csum ipc = { 0, false };

		/* No options (0x45), no fragment: Linux's GRO takes no other. */
		if (len < l3 + IPV4_HLEN || ip[0] != 0x45 || ip[9] != IPPROTO_TCP ||
		    (get16(ip + 6) & ~IPV4_DF))
			return -1;
		csum_add(&ipc, ip, IPV4_HLEN);
		if (csum_fold(ipc.sum) != 0xffff)
			return -1;
		ip_len = get16(ip + 2);
		if (ip_len < IPV4_HLEN || l3 + ip_len > len)
			return -1;
		l4 = l3 + IPV4_HLEN;
	} else if (proto == ETH_P_IPV6_) {
		const uint8_t *ip = f + l3;

		if (len < l3 + IPV6_HLEN || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_TCP)
			return -1;
		ip_len = IPV6_HLEN + (size_t)get16(ip + 4);
		if (l3 + ip_len > len)
			return -1;
		l4 = l3 + IPV6_HLEN;
		s->ipv6 = true;
	} else {
		return -1;
	}
	/* the TCP segment: l4 .. l3 + ip_len (what follows is padding) */
	if (l3 + ip_len < l4 + TCP_HLEN_MIN)
		return -1;
	thlen = (size_t)(f[l4 + 12] >> 4) * 4;
	if (thlen < TCP_HLEN_MIN || l4 + thlen > l3 + ip_len)
		return -1;
	csum_pseudo(&c, f + l3, s->ipv6, IPPROTO_TCP, (uint32_t)(l3 + ip_len - l4));
	csum_add(&c, f + l4, l3 + ip_len - l4);
	if (csum_fold(c.sum) != 0xffff)
		return -1;
	s->l3_off = (uint16_t)l3;
	s->l4_off = (uint16_t)l4;
	s->hlen = (uint16_t)(l4 + thlen);
	s->payload = (uint16_t)(l3 + ip_len - s->hlen);
	s->seq = get32(f + l4 + 4);
	s->flags = f[l4 + 13];
	s->mergeable = s->payload > 0 && (s->flags & ~SW_GRO_TCP_PSH) == TCP_ACK && l3 + ip_len == len;
	return 0;
}

bool sw_gro_ends(const struct sw_gro_seg *first, const struct sw_gro_seg *s)
{
	return (s->flags & SW_GRO_TCP_PSH) || s->payload < first->payload;
}

bool sw_gro_follows(const uint8_t *ff, const struct sw_gro_seg *first, unsigned nsegs,
		    uint32_t next_seq, const uint8_t *f, const struct sw_gro_seg *s)
{
	const uint8_t *ip0 = ff + first->l3_off, *ip = f + s->l3_off;
	const uint8_t *t0 = ff + first->l4_off, *t = f + s->l4_off;

	if (!first->mergeable || !s->mergeable || s->ipv6 != first->ipv6 ||
	    s->l4_off != first->l4_off || s->hlen != first->hlen ||
	    s->payload > first->payload || s->seq != next_seq)
		return false;
	/* Ethernet header (MACs, tag, type) */
	if (memcmp(ff, f, first->l3_off))
		return false;
	if (first->ipv6) {
		/* version, traffic class, flow label; next header, hop limit; addresses */
		if (memcmp(ip0, ip, 4) || memcmp(ip0 + 6, ip + 6, 34))
			return false;
	} else {
		/* TOS; DF; TTL, protocol; addresses; the ID counting up unless DF */
		if (ip0[1] != ip[1] || memcmp(ip0 + 6, ip + 6, 4) || memcmp(ip0 + 12, ip + 12, 8))
			return false;
		if (!(get16(ip0 + 6) & IPV4_DF) && get16(ip + 4) != (uint16_t)(get16(ip0 + 4) + nsegs))
			return false;
	}
	/* ports; ACK number and data offset; window; urgent pointer and options */
	return !memcmp(t0, t, 4) && !memcmp(t0 + 8, t + 8, 5) && !memcmp(t0 + 14, t + 14, 2) &&
	       !memcmp(t0 + 18, t + 18, first->hlen - first->l4_off - 18u);
}

int sw_gro_finish(uint8_t *ff, const struct sw_gro_seg *first, size_t payload, bool psh,
		  struct net_meta *m)
{
	uint8_t *ip = ff + first->l3_off, *t = ff + first->l4_off;
	size_t tcp_len = first->hlen - first->l4_off + payload;
	struct csum c = { 0, false };

	if (first->ipv6) {
		if (tcp_len > 0xffff)
			return -1;
		put16(ip + 4, (uint16_t)tcp_len);
	} else {
		if (IPV4_HLEN + tcp_len > 0xffff)
			return -1;
		put16(ip + 2, (uint16_t)(IPV4_HLEN + tcp_len));
		csum_set_ipv4(ip, IPV4_HLEN);
	}
	if (psh)
		t[13] |= SW_GRO_TCP_PSH;
	/* Partial: the field holds the pseudo-header's sum, the receiver's
	 * stack adds the rest if it ever needs it (data_validated: it won't). */
	csum_pseudo(&c, ip, first->ipv6, IPPROTO_TCP, (uint32_t)tcp_len);
	put16(t + TCP_CSUM_OFF, csum_fold(c.sum));
	*m = (struct net_meta){
		.gso_type = first->ipv6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4,
		.gso_size = first->payload,
		.csum_blank = true,
		.data_validated = true,
		.csum_start = first->l4_off,
		.csum_offset = TCP_CSUM_OFF,
		.hdr_len = first->hlen,
	};
	return 0;
}
