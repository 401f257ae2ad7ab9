/*
 * fuzz_gso.c - libFuzzer target for what blanketd parses out of a guest's TX frame besides the
 * netif slots: the switch's header walk (sw_parse.c: checksum offsets, the hash's flow) and the
 * software checksum and TCP segmentation for an uplink without those offloads (sw_gso.c).  The
 * guest controls every byte and every offload field.
 *
 * The input: a flags byte (csum_blank, data_validated, the GSO type: none, TCPv4, TCPv6 or an
 * unknown one; whether the checksum offsets and hdr_len are the switch's, sw_offload_meta's, or
 * the input's), gso_size, csum_start, csum_offset, hdr_len, how many pieces the frame comes in (as
 * a guest's slots do) and where they split, then the frame.  Each piece is copied into a buffer of
 * exactly its length, so AddressSanitizer catches a read past it.
 *
 * Checked, independently of sw_gso's own helpers: every packet sw_gso_segment makes lies within
 * the frame's pieces and its header copy; the packets' payloads are the frame's payload, in order,
 * each at most the MSS; a GSO packet's IPv4 header checksum and total length (or IPv6 payload
 * length) are right, its TCP checksum verifies over the pseudo-header, and its sequence number
 * advances by the payload before it; a checksum-only packet's field makes the sum from csum_start
 * verify against the pseudo-header sum the field held.  What sw_parse finds lies within the bytes
 * it was given.
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Ilibblanket -Iblanketd \
 *         tests/fuzz/fuzz_gso.c blanketd/sw_gso.c blanketd/sw_parse.c -o fuzz_gso
 *   ./fuzz_gso -max_total_time=60
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "netif.h"
#include "sw_gso.h"
#include "switch.h"

#define MAX_PIECES 19u
#define MAX_FRAME 65600u

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* sw_parse and what the switch builds on it, over the first len bytes (its private copy). */
static void check_parse(const uint8_t *f, unsigned len)
{
	struct sw_l34 l;
	struct netif_flow fl;
	uint16_t start, off;

	sw_parse(f, len, &l);
	if (l.l3_off) {
		CHECK(l.l3_off == 14 || l.l3_off == 18);
		CHECK((size_t)l.l3_off + (l.ipv6 ? 40 : 20) <= len);
	}
	if (l.l4_off) {
		CHECK(l.l3_off && l.l4_off > l.l3_off && !l.fragment);
		CHECK((size_t)l.l4_off + (l.l4_proto == 6 ? 20 : 8) <= len);
		CHECK(l.l4_proto == 6 ? l.l4_hdr_len >= 20 : l.l4_hdr_len == 8);
		CHECK(sw_csum_offsets(&l, &start, &off) == 0 && start == l.l4_off);
	} else {
		CHECK(sw_csum_offsets(&l, &start, &off) < 0);
	}
	CHECK(sw_flow(f, len, &l, &fl) == (l.l3_off != 0));
	CHECK(!fl.tcp || (l.l4_proto == 6 && l.l4_off));
}

/* Packet i of g: its header (hlen bytes) and payload pieces, gathered into pkt. */
static size_t gather(const struct sw_gso *g, const uint8_t *hdr, const struct iovec *piece, int np,
		     uint8_t *pkt)
{
	size_t len = g->hlen;

	memcpy(pkt, hdr, g->hlen);
	for (int j = 0; j < np; j++) {
		memcpy(pkt + len, piece[j].iov_base, piece[j].iov_len);
		len += piece[j].iov_len;
	}
	return len;
}

static bool within(const struct iovec *iov, unsigned n, const struct iovec *p)
{
	for (unsigned k = 0; k < n; k++) {
		const uint8_t *b = iov[k].iov_base;

		if ((const uint8_t *)p->iov_base >= b &&
		    (const uint8_t *)p->iov_base + p->iov_len <= b + iov[k].iov_len)
			return true;
	}
	return false;
}

static void check_gso(const uint8_t *frame, size_t flen, const struct iovec *iov, unsigned n,
		      const struct net_meta *m)
{
	static uint8_t pkt[SW_GSO_HDR_MAX + MAX_FRAME];
	struct sw_gso g;
	uint8_t hdr[SW_GSO_HDR_MAX];
	struct iovec piece[MAX_PIECES + 1];
	size_t done = 0;
	uint16_t pseudo0 = 0;
	int rc = sw_gso_prepare(&g, iov, n, m);

	if (rc) {
		CHECK(rc == -EINVAL || rc == -EOPNOTSUPP || rc == -E2BIG);
		return;
	}
	CHECK(g.hlen > 0 && g.hlen <= SW_GSO_HDR_MAX && g.hlen <= flen);
	CHECK(g.frame_len == flen && g.payload == flen - g.hlen);
	CHECK(memcmp(g.hdr, frame, g.hlen) == 0);
	CHECK(g.nsegs >= 1 && g.nsegs <= SW_GSO_MAX_SEGS);
	if (g.gso) {
		CHECK(g.mss == m->gso_size && g.mss > 0);
		CHECK(g.payload > 0 && g.nsegs == (g.payload + g.mss - 1) / g.mss);
		CHECK(g.l3_off < g.l4_off && g.l4_off + 20u <= g.hlen);
	} else {
		CHECK(g.nsegs == 1);
		CHECK(g.csum_start >= 14 && g.csum_field + 2u <= g.hlen);
		pseudo0 = be16(frame + g.csum_field);
	}
	for (unsigned i = 0; i < g.nsegs; i++) {
		int np = sw_gso_segment(&g, i, iov, n, hdr, piece, MAX_PIECES + 1);
		size_t plen = 0, len;

		CHECK(np >= 0);
		for (int j = 0; j < np; j++) {
			CHECK(within(iov, n, &piece[j]));
			plen += piece[j].iov_len;
		}
		/* the payload, in order */
		len = gather(&g, hdr, piece, np, pkt);
		CHECK(memcmp(pkt + g.hlen, frame + g.hlen + done, plen) == 0);
		if (!g.gso) {
			CHECK(plen == g.payload);
			/* the field's pseudo-header sum, then the checksum over csum_start..end
			 * (a field at an odd distance from csum_start straddles the sum's byte
			 * pairs: Linux's skb_checksum_help writes such a field as blindly; the
			 * switch never asks for one, its offsets come from sw_parse) */
			if ((g.csum_field - g.csum_start) % 2 == 0)
				CHECK(sum16(pkt + g.csum_start, len - g.csum_start, pseudo0) == 0xffff);
			CHECK(memcmp(pkt, frame, g.csum_field) == 0);
			CHECK(memcmp(pkt + g.csum_field + 2, frame + g.csum_field + 2,
				     g.hlen - g.csum_field - 2u) == 0);
		} else {
			const uint8_t *ip = pkt + g.l3_off, *tcp = pkt + g.l4_off;
			size_t l4len = len - g.l4_off;
			uint32_t p;

			CHECK(plen == (i + 1 < g.nsegs ? g.mss : g.payload - done));
			CHECK(plen <= g.mss);
			if (g.ipv6) {
				CHECK(be16(ip + 4) == len - g.l3_off - 40);
				p = sum16(ip + 8, 32, 0);
			} else {
				size_t ihl = (ip[0] & 15u) * 4;

				CHECK(ihl == (size_t)(g.l4_off - g.l3_off));
				CHECK(be16(ip + 2) == len - g.l3_off);
				CHECK(sum16(ip, ihl, 0) == 0xffff);
				p = sum16(ip + 12, 8, 0);
			}
			p += (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff) + 6;
			CHECK(sum16(tcp, l4len, p) == 0xffff);
			CHECK(be32(tcp + 4) == be32(frame + g.l4_off + 4) + (uint32_t)done);
		}
		done += plen;
	}
	CHECK(done == g.payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[MAX_FRAME];
	struct net_meta m = { 0 };
	struct iovec iov[MAX_PIECES];
	uint8_t *buf[MAX_PIECES];
	size_t flen, at = 0;
	unsigned n, hlen;

	if (size < 11)
		return 0;
	m.csum_blank = data[0] & 1;
	m.data_validated = data[0] >> 1 & 1;
	m.gso_type = (uint8_t[]){ XEN_NETIF_GSO_TYPE_NONE, XEN_NETIF_GSO_TYPE_TCPV4,
				  XEN_NETIF_GSO_TYPE_TCPV6, 7 }[data[0] >> 2 & 3];
	m.gso_size = (uint16_t)(data[1] | data[2] << 8);
	m.csum_start = (uint16_t)(data[3] | data[4] << 8);
	m.csum_offset = (uint16_t)(data[5] | data[6] << 8);
	m.hdr_len = (uint16_t)(data[7] | data[8] << 8);
	n = 1 + data[9] % MAX_PIECES;
	if (size < 10 + n || size - 10 - (n - 1) > MAX_FRAME)
		return 0;
	flen = size - 10 - (n - 1);
	memcpy(frame, data + 10 + (n - 1), flen);
	/* the switch's private copy of the frame's first bytes */
	hlen = flen < SW_HDR_MAX ? (unsigned)flen : SW_HDR_MAX;
	check_parse(frame, hlen);
	/* The offloads set up as the switch does (sw_uplink.c's frame_meta), or the raw fields. */
	if (data[0] & 0x10 && sw_offload_meta(frame, hlen, &m))
		return 0;       /* dropped, as netback would */

	/* the pieces: cut where the split bytes say, each in a buffer of its own */
	for (unsigned k = 0; k < n; k++) {
		size_t left = flen - at, len = k + 1 < n ? left * data[10 + k] / 255 : left;

		buf[k] = malloc(len ? len : 1);
		CHECK(buf[k]);
		memcpy(buf[k], frame + at, len);
		iov[k] = (struct iovec){ .iov_base = buf[k], .iov_len = len };
		at += len;
	}
	check_gso(frame, flen, iov, n, &m);
	for (unsigned k = 0; k < n; k++)
		free(buf[k]);
	return 0;
}
