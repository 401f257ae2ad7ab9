/* sw_gso.c - see sw_gso.h. */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "bytes.h"
#include "csum.h"
#include "netif.h"
#include "sw_gso.h"

#define ETH_HLEN_ 14u
#define ETH_P_IPV4_ 0x0800
#define ETH_P_IPV6_ 0x86dd
#define ETH_P_VLAN_ 0x8100
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

static size_t iov_len(const struct iovec *iov, unsigned n)
{
	size_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* Frame bytes [off, off + len) as pieces of iov. */
static int pieces(const struct iovec *iov, unsigned n, size_t off, size_t len,
		  struct iovec *piece, unsigned max)
{
	unsigned np = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len, take;

		if (off >= l) {
			off -= l;
			continue;
		}
		take = l - off < len ? l - off : len;
		if (np == max)
			return -E2BIG;
		piece[np++] = (struct iovec){ .iov_base = (uint8_t *)iov[i].iov_base + off,
					      .iov_len = take };
		len -= take;
		off = 0;
	}
	return len ? -EINVAL : (int)np;
}

/* Frame bytes [off, off + len) into dst: the one read of the guest's
 * headers.  false if the frame is shorter. */
static bool gather(const struct iovec *iov, unsigned n, size_t off, uint8_t *dst, size_t len)
{
	struct iovec piece[n ? n : 1];   /* a range has at most one piece per iovec */
	int np = pieces(iov, n, off, len, piece, n);

	if (np < 0)
		return false;
	for (int i = 0; i < np; i++) {
		memcpy(dst, piece[i].iov_base, piece[i].iov_len);
		dst += piece[i].iov_len;
	}
	return true;
}

static int prepare_csum(struct sw_gso *g, const struct iovec *iov, unsigned n,
			const struct net_meta *m)
{
	size_t field = (size_t)m->csum_start + m->csum_offset;
	size_t hlen = field + 2;

	/* The checksum field within the frame, after the Ethernet header. */
	if (m->csum_start < ETH_HLEN_ || field + 2 > g->frame_len)
		return -EINVAL;
	if (m->hdr_len > hlen)
		hlen = m->hdr_len;
	if (hlen > g->frame_len)
		return -EINVAL;
	if (hlen > SW_GSO_HDR_MAX)
		return -EOPNOTSUPP;
	if (!gather(iov, n, 0, g->hdr, hlen))
		return -EINVAL;
	g->hlen = (uint16_t)hlen;
	g->csum_start = m->csum_start;
	g->csum_field = (uint16_t)field;
	g->payload = g->frame_len - hlen;
	g->nsegs = 1;
	return 0;
}

/* Copy [off, off + len) of the frame into the template, in bounds. */
static int take(struct sw_gso *g, const struct iovec *iov, unsigned n, size_t off, size_t len)
{
	if (off + len > g->frame_len)
		return -EINVAL;
	if (off + len > SW_GSO_HDR_MAX)
		return -EOPNOTSUPP;
	return gather(iov, n, off, g->hdr + off, len) ? 0 : -EINVAL;
}

static int prepare_gso(struct sw_gso *g, const struct iovec *iov, unsigned n,
		       const struct net_meta *m)
{
	size_t off = ETH_HLEN_, l3len, doff, nsegs;
	uint16_t proto;
	int rc;

	if (m->gso_type != XEN_NETIF_GSO_TYPE_TCPV4 && m->gso_type != XEN_NETIF_GSO_TYPE_TCPV6)
		return -EOPNOTSUPP;
	if (!m->gso_size)
		return -EINVAL;
	if ((rc = take(g, iov, n, 0, ETH_HLEN_)))
		return rc;
	proto = get16(g->hdr + 12);
	if (proto == ETH_P_VLAN_) {
		if ((rc = take(g, iov, n, off, 4)))
			return rc;
		proto = get16(g->hdr + off + 2);
		off += 4;
	}
	g->l3_off = (uint16_t)off;
	if (m->gso_type == XEN_NETIF_GSO_TYPE_TCPV4) {
		uint8_t *ip = g->hdr + off;

		if (proto != ETH_P_IPV4_)
			return -EINVAL;
		if ((rc = take(g, iov, n, off, 20)))
			return rc;
		l3len = (ip[0] & 15u) * 4;
		if (ip[0] >> 4 != 4 || l3len < 20)
			return -EINVAL;
		if (ip[9] != IPPROTO_TCP)
			return -EOPNOTSUPP;
		/* A fragment has no TCP header to segment by. */
		if (get16(ip + 6) & 0x3fff)
			return -EOPNOTSUPP;
		if ((rc = take(g, iov, n, off + 20, l3len - 20)))
			return rc;
	} else {
		if (proto != ETH_P_IPV6_)
			return -EINVAL;
		if ((rc = take(g, iov, n, off, 40)))
			return rc;
		if (g->hdr[off] >> 4 != 6)
			return -EINVAL;
		/* Extension headers (the routing header changes the
		 * pseudo-header's destination): not handled, refused. */
		if (g->hdr[off + 6] != IPPROTO_TCP)
			return -EOPNOTSUPP;
		l3len = 40;
		g->ipv6 = true;
	}
	off += l3len;
	g->l4_off = (uint16_t)off;
	if ((rc = take(g, iov, n, off, 20)))
		return rc;
	doff = (size_t)(g->hdr[off + 12] >> 4) * 4;
	if (doff < 20)
		return -EINVAL;
	if ((rc = take(g, iov, n, off + 20, doff - 20)))
		return rc;
	off += doff;
	/* A partial checksum, if asked for, must be TCP's own. */
	if (m->csum_blank && (m->csum_start != g->l4_off || m->csum_offset != 16))
		return -EINVAL;
	if (m->hdr_len > g->frame_len)
		return -EINVAL;
	g->hlen = (uint16_t)off;
	g->payload = g->frame_len - off;
	if (!g->payload)
		return -EINVAL;
	g->mss = m->gso_size;
	/* Each packet's IP length field must hold it. */
	if (off - g->l3_off - (g->ipv6 ? 40 : 0) +
	    (g->payload < g->mss ? g->payload : g->mss) > 0xffff)
		return -EINVAL;
	nsegs = (g->payload + g->mss - 1) / g->mss;
	if (nsegs > SW_GSO_MAX_SEGS)
		return -E2BIG;
	g->nsegs = (unsigned)nsegs;
	g->gso = true;
	return 0;
}

int sw_gso_prepare(struct sw_gso *g, const struct iovec *iov, unsigned n,
		   const struct net_meta *m)
{
	memset(g, 0, sizeof(*g));
	g->frame_len = iov_len(iov, n);
	if (g->frame_len > 0x20000)
		return -EINVAL;
	if (m->gso_type != XEN_NETIF_GSO_TYPE_NONE)
		return prepare_gso(g, iov, n, m);
	if (m->csum_blank)
		return prepare_csum(g, iov, n, m);
	return -EINVAL;
}

static void sum_pieces(struct csum *c, const struct iovec *piece, unsigned np)
{
	for (unsigned i = 0; i < np; i++)
		csum_add(c, piece[i].iov_base, piece[i].iov_len);
}

int sw_gso_segment(const struct sw_gso *g, unsigned i, const struct iovec *iov, unsigned n,
		   uint8_t *hdr, struct iovec *piece, unsigned max)
{
	size_t off, plen, l4len;
	struct csum c = { 0, false };
	uint8_t *ip, *tcp;
	uint16_t sum;
	int np;

	if (i >= g->nsegs || !g->hlen)
		return -EINVAL;
	if (!g->gso) {
		np = pieces(iov, n, g->hlen, g->payload, piece, max);
		if (np < 0)
			return np;
		memcpy(hdr, g->hdr, g->hlen);
		csum_add(&c, hdr + g->csum_start, g->hlen - g->csum_start);
		sum_pieces(&c, piece, (unsigned)np);
		/* 0 means "no checksum" to UDP: ~0 is the same sum (Linux's
		 * skb_checksum_help writes CSUM_MANGLED_0 likewise). */
		sum = (uint16_t)~csum_fold(c.sum);
		put16(hdr + g->csum_field, sum ? sum : 0xffff);
		return np;
	}
	off = (size_t)i * g->mss;
	plen = g->payload - off < g->mss ? g->payload - off : g->mss;
	np = pieces(iov, n, g->hlen + off, plen, piece, max);
	if (np < 0)
		return np;
	memcpy(hdr, g->hdr, g->hlen);
	ip = hdr + g->l3_off;
	tcp = hdr + g->l4_off;
	l4len = g->hlen - g->l4_off + plen;
	if (g->ipv6) {
		put16(ip + 4, (uint16_t)(g->l4_off - g->l3_off - 40 + l4len));
	} else {
		size_t ihl = g->l4_off - g->l3_off;

		put16(ip + 2, (uint16_t)(ihl + l4len));
		put16(ip + 4, (uint16_t)(get16(ip + 4) + i));
		csum_set_ipv4(ip, ihl);
	}
	csum_pseudo(&c, ip, g->ipv6, IPPROTO_TCP, (uint32_t)l4len);
	put32(tcp + 4, get32(tcp + 4) + (uint32_t)off);
	if (i + 1 < g->nsegs)
		tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		tcp[13] &= (uint8_t)~TCP_CWR;
	put16(tcp + 16, 0);
	csum_add(&c, tcp, g->hlen - g->l4_off);
	sum_pieces(&c, piece, (unsigned)np);
	put16(tcp + 16, (uint16_t)~csum_fold(c.sum));
	return np;
}
