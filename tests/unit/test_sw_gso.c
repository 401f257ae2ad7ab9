/*
 * test_sw_gso.c - software checksum and TCP segmentation (sw_gso.c).
 *
 * Frames live in read-only pages that end at an inaccessible guard page:
 * a write into the "guest's" frame or a read past its end kills the test.
 * Each frame is handed over as several iovecs cut at awkward places
 * (inside headers, odd lengths).  Checksums are verified with a separate,
 * byte-at-a-time implementation over the packet as it would be on the
 * wire (header copy + the pieces' bytes).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "csum.h"
#include "netif.h"
#include "sw_gso.h"

/* The hostile cases start from a good net_meta and override a field. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define PG 4096u
#define MAXF (80u * 1024u)

/* --- a "guest" frame: read-only, a guard page right after its last byte --- */

struct gframe {
	uint8_t *map;
	size_t maplen;
	const uint8_t *data;
	size_t len;
	struct iovec iov[19];
	unsigned n;
};

/* Put bytes[0 .. len) at the end of fresh pages, then cut them at cuts[]
 * (lengths of the first pieces; the rest is the last piece). */
static void gframe_make(struct gframe *f, const uint8_t *bytes, size_t len, const size_t *cuts,
			unsigned ncuts)
{
	size_t pages = (len + PG - 1) / PG + 1, off = 0;
	uint8_t *d;

	f->maplen = (pages + 1) * PG;
	f->map = mmap(NULL, f->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(f->map != MAP_FAILED);
	assert_int_equal(mprotect(f->map + pages * PG, PG, PROT_NONE), 0);
	d = f->map + pages * PG - len;
	memcpy(d, bytes, len);
	assert_int_equal(mprotect(f->map, pages * PG, PROT_READ), 0);
	f->data = d;
	f->len = len;
	f->n = 0;
	for (unsigned i = 0; i < ncuts && off + cuts[i] < len; i++) {
		f->iov[f->n++] = (struct iovec){ .iov_base = d + off, .iov_len = cuts[i] };
		off += cuts[i];
	}
	f->iov[f->n++] = (struct iovec){ .iov_base = d + off, .iov_len = len - off };
}

static void gframe_free(struct gframe *f)
{
	munmap(f->map, f->maplen);
}

/* --- building frames --------------------------------------------------------- */

static void p16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, v >> 16); p16(p + 2, v & 0xffff); }
static unsigned g16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t g32(const uint8_t *p) { return (uint32_t)g16(p) << 16 | g16(p + 2); }

/* Reference checksum: one byte at a time, even offsets high. */
static uint32_t ref_add(uint32_t s, const uint8_t *p, size_t len, size_t start)
{
	for (size_t i = 0; i < len; i++)
		s += ((start + i) % 2 == 0) ? (uint32_t)p[i] << 8 : p[i];
	return s;
}

static uint16_t ref_fold(uint32_t s)
{
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

struct spec {
	bool ipv6, vlan;
	unsigned ip_opts;        /* IPv4 option bytes (multiple of 4) */
	unsigned tcp_opts;       /* TCP option bytes (multiple of 4) */
	uint8_t proto;           /* IPPROTO_TCP unless set */
	uint8_t v6_nh;           /* IPv6 next header, 0: proto */
	unsigned frag;           /* IPv4 frag_off field */
	uint8_t flags;           /* TCP flags */
	uint32_t seq;
	uint16_t id;
	size_t payload;
};

/* Offsets of what build() made. */
struct layout {
	size_t l3, l4, hlen, len;
};

static void pseudo_sum_fill(uint8_t *f, const struct layout *l, bool ipv6, size_t l4len,
			    uint8_t proto)
{
	uint32_t s = ipv6 ? ref_add(0, f + l->l3 + 8, 32, 0) : ref_add(0, f + l->l3 + 12, 8, 0);

	s += proto + (uint32_t)l4len;
	p16(f + l->l4 + (proto == 17 ? 6 : 16), ref_fold(s));
}

static size_t build(uint8_t *f, const struct spec *sp, struct layout *l)
{
	size_t off = 12;
	uint8_t proto = sp->proto ? sp->proto : 6;
	size_t l4h = proto == 17 ? 8 : 20 + sp->tcp_opts;

	memset(f, 0, 256);
	memcpy(f, "\x00\x16\x3e\x00\x00\x02\x00\x16\x3e\x00\x00\x01", 12);
	if (sp->vlan) {
		p16(f + off, 0x8100);
		p16(f + off + 2, 42);
		off += 4;
	}
	p16(f + off, sp->ipv6 ? 0x86dd : 0x0800);
	off += 2;
	l->l3 = off;
	if (sp->ipv6) {
		f[off] = 0x60;
		p16(f + off + 4, (unsigned)(l4h + sp->payload));
		f[off + 6] = sp->v6_nh ? sp->v6_nh : proto;
		f[off + 7] = 64;
		for (int i = 0; i < 16; i++) {
			f[off + 8 + i] = (uint8_t)(0xfd + i * 3);
			f[off + 24 + i] = (uint8_t)(0xfd + i * 5 + 1);
		}
		off += 40;
	} else {
		size_t ihl = 20 + sp->ip_opts;

		f[off] = (uint8_t)(0x40 | ihl / 4);
		p16(f + off + 2, (unsigned)(ihl + l4h + sp->payload));
		p16(f + off + 4, sp->id);
		p16(f + off + 6, sp->frag ? sp->frag : 0x4000);
		f[off + 8] = 64;
		f[off + 9] = proto;
		p32(f + off + 12, 0x0a000002);
		p32(f + off + 16, 0x0a000001);
		for (unsigned i = 0; i < sp->ip_opts; i++)
			f[off + 20 + i] = i + 1 == sp->ip_opts ? 0 : 1;   /* NOPs, then EOL */
		off += ihl;
	}
	l->l4 = off;
	if (proto == 17) {
		p16(f + off, 5353);
		p16(f + off + 2, 53);
		p16(f + off + 4, (unsigned)(8 + sp->payload));
	} else {
		p16(f + off, 40000);
		p16(f + off + 2, 80);
		p32(f + off + 4, sp->seq);
		p32(f + off + 8, 0x01020304);
		f[off + 12] = (uint8_t)(((20 + sp->tcp_opts) / 4) << 4);
		f[off + 13] = sp->flags;
		p16(f + off + 14, 501);
		p16(f + off + 16, 0xdead);       /* GSO: whatever the guest left */
		for (unsigned i = 0; i < sp->tcp_opts; i++)
			f[off + 20 + i] = 1;
	}
	off += l4h;
	l->hlen = off;
	for (size_t i = 0; i < sp->payload; i++)
		f[off + i] = (uint8_t)(i * 7 + 3 + i / 251);
	l->len = off + sp->payload;
	return l->len;
}

static uint8_t frame_buf[MAXF];

/* --- verifying what came out ------------------------------------------------- */

/* The packet's bytes: header copy, then the pieces (which must lie in the
 * guest's frame, at the right place). */
static size_t wire(const struct gframe *gf, const uint8_t *hdr, size_t hlen,
		   const struct iovec *piece, int np, size_t payload_off, uint8_t *out)
{
	size_t len = hlen, want = payload_off;

	memcpy(out, hdr, hlen);
	for (int i = 0; i < np; i++) {
		const uint8_t *p = piece[i].iov_base;

		/* Zero copy: a reference into the guest's frame, in order. */
		assert_true(p >= gf->data && p + piece[i].iov_len <= gf->data + gf->len);
		assert_int_equal((size_t)(p - gf->data), want);
		assert_true(piece[i].iov_len > 0);
		want += piece[i].iov_len;
		memcpy(out + len, p, piece[i].iov_len);
		len += piece[i].iov_len;
	}
	return len;
}

static void check_ipv4_csum(const uint8_t *ip)
{
	size_t ihl = (ip[0] & 15u) * 4;

	assert_int_equal(ref_fold(ref_add(0, ip, ihl, 0)), 0xffff);
}

static void check_l4_csum(const uint8_t *pkt, const struct layout *l, bool ipv6, size_t pktlen,
			  uint8_t proto)
{
	size_t l4len = pktlen - l->l4;
	uint32_t s = ipv6 ? ref_add(0, pkt + l->l3 + 8, 32, 0) : ref_add(0, pkt + l->l3 + 12, 8, 0);

	s += proto + (uint32_t)l4len;
	s = ref_add(s, pkt + l->l4, l4len, 0);
	assert_int_equal(ref_fold(s), 0xffff);
}

/* Segment a GSO frame and check every packet against an independent
 * model of what Linux's GSO makes. */
static void run_gso(const struct spec *sp, uint16_t mss, const size_t *cuts, unsigned ncuts,
		    unsigned want_segs)
{
	struct layout l;
	size_t len = build(frame_buf, sp, &l);
	struct gframe gf;
	struct sw_gso g;
	struct net_meta m = { .gso_type = sp->ipv6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4,
			      .gso_size = mss, .csum_blank = true, .csum_start = (uint16_t)l.l4,
			      .csum_offset = 16, .hdr_len = (uint16_t)l.hlen };
	static uint8_t pkt[MAXF], hdr[SW_GSO_HDR_MAX];
	size_t done = 0;

	gframe_make(&gf, frame_buf, len, cuts, ncuts);
	assert_true(gf.n > 1);
	assert_int_equal(sw_gso_prepare(&g, gf.iov, gf.n, &m), 0);
	assert_int_equal(g.nsegs, want_segs);
	assert_int_equal(g.hlen, l.hlen);
	for (unsigned i = 0; i < g.nsegs; i++) {
		struct iovec piece[19];
		int np = sw_gso_segment(&g, i, gf.iov, gf.n, hdr, piece, 19);
		size_t plen = sp->payload - done < mss ? sp->payload - done : mss, pl;
		const uint8_t *ip, *tcp;
		uint8_t want_flags = sp->flags;

		assert_true(np >= 1);
		pl = wire(&gf, hdr, g.hlen, piece, np, l.hlen + done, pkt);
		assert_int_equal(pl, l.hlen + plen);
		if (i + 1 == g.nsegs)
			assert_true(plen <= mss);
		ip = pkt + l.l3;
		tcp = pkt + l.l4;
		/* Everything before the IP header is the frame's. */
		assert_memory_equal(pkt, frame_buf, l.l3);
		if (sp->ipv6) {
			assert_int_equal(g16(ip + 4), pl - l.l3 - 40);
			assert_memory_equal(ip, frame_buf + l.l3, 4);
			assert_memory_equal(ip + 6, frame_buf + l.l3 + 6, 34);
		} else {
			assert_int_equal(g16(ip + 2), pl - l.l3);
			assert_int_equal(g16(ip + 4), (uint16_t)(sp->id + i));
			assert_memory_equal(ip + 6, frame_buf + l.l3 + 6, 4);   /* frag, ttl, proto */
			assert_memory_equal(ip + 12, frame_buf + l.l3 + 12, l.l4 - l.l3 - 12);
			check_ipv4_csum(ip);
		}
		assert_int_equal(g32(tcp + 4), (uint32_t)(sp->seq + done));
		if (i + 1 < g.nsegs)
			want_flags &= (uint8_t)~0x09;   /* FIN, PSH: the last only */
		if (i > 0)
			want_flags &= (uint8_t)~0x80;   /* CWR: the first only */
		assert_int_equal(tcp[13], want_flags);
		assert_memory_equal(tcp, frame_buf + l.l4, 4);
		assert_memory_equal(tcp + 8, frame_buf + l.l4 + 8, 5);
		assert_memory_equal(tcp + 14, frame_buf + l.l4 + 14, 2);
		assert_memory_equal(tcp + 18, frame_buf + l.l4 + 18, l.hlen - l.l4 - 18);
		check_l4_csum(pkt, &l, sp->ipv6, pl, 6);
		assert_memory_equal(pkt + l.hlen, frame_buf + l.hlen + done, plen);
		done += plen;
	}
	assert_int_equal(done, sp->payload);
	/* Out of range. */
	{
		struct iovec piece[19];

		assert_int_equal(sw_gso_segment(&g, g.nsegs, gf.iov, gf.n, hdr, piece, 19), -EINVAL);
	}
	gframe_free(&gf);
}

/* --- the tests ---------------------------------------------------------------- */

/* TCPv4 TSO: 5000 bytes at MSS 1448, cut inside the headers and at odd
 * places; the last packet is shorter; the IP id wraps. */
static void test_tcp4(void **state)
{
	struct spec sp = { .flags = 0x10 | 0x08 | 0x01 | 0x80, .seq = 0xfffff000u, .id = 0xfffe,
			   .payload = 5000 };
	size_t cuts[] = { 10, 27, 1001, 1, 2000, 3 };

	(void)state;
	run_gso(&sp, 1448, cuts, 6, 4);
}

/* TCPv6 with a VLAN tag and TCP options (timestamps), 64 KiB. */
static void test_tcp6(void **state)
{
	struct spec sp = { .ipv6 = true, .vlan = true, .tcp_opts = 12, .flags = 0x18, .seq = 77,
			   .payload = 65000 };
	size_t cuts[] = { 90, 4006, 4096, 4096, 4095, 4097, 4096, 4096, 4096, 4096, 4096, 4096,
			  4096, 4096, 4096, 4096 };

	(void)state;
	run_gso(&sp, 1428, cuts, 16, 46);
}

/* IPv4 options are copied into every packet and covered by its checksum;
 * the payload is an exact multiple of the MSS. */
static void test_tcp4_ip_options(void **state)
{
	struct spec sp = { .ip_opts = 8, .flags = 0x10, .seq = 1, .id = 5, .payload = 3 * 1000 };
	size_t cuts[] = { 40, 500 };

	(void)state;
	run_gso(&sp, 1000, cuts, 2, 3);
}

/* gso_size beyond the payload: one packet, still fixed up. */
static void test_gso_one_segment(void **state)
{
	struct spec sp = { .flags = 0x19, .seq = 9, .id = 1, .payload = 700 };
	size_t cuts[] = { 60 };

	(void)state;
	run_gso(&sp, 1448, cuts, 1, 1);
}

/* A partial checksum without GSO: only the headers are copied, the
 * checksum goes into the copy, the payload stays the guest's. */
static void csum_only(bool ipv6, uint8_t proto, size_t payload)
{
	struct spec sp = { .ipv6 = ipv6, .proto = proto, .flags = 0x18, .seq = 1000, .id = 3,
			   .payload = payload };
	struct layout l;
	size_t len = build(frame_buf, &sp, &l), pl;
	size_t cuts[] = { 20, 33, 7 };
	struct net_meta m = { .csum_blank = true, .csum_start = (uint16_t)l.l4,
			      .csum_offset = proto == 17 ? 6 : 16, .hdr_len = (uint16_t)l.hlen };
	static uint8_t pkt[MAXF], hdr[SW_GSO_HDR_MAX];
	struct iovec piece[19];
	struct gframe gf;
	struct sw_gso g;
	int np;

	pseudo_sum_fill(frame_buf, &l, ipv6, len - l.l4, proto);
	gframe_make(&gf, frame_buf, len, cuts, 3);
	assert_int_equal(sw_gso_prepare(&g, gf.iov, gf.n, &m), 0);
	assert_int_equal(g.nsegs, 1);
	assert_int_equal(g.hlen, l.hlen);
	np = sw_gso_segment(&g, 0, gf.iov, gf.n, hdr, piece, 19);
	assert_true(np >= (payload ? 1 : 0));
	pl = wire(&gf, hdr, g.hlen, piece, np, l.hlen, pkt);
	assert_int_equal(pl, len);
	check_l4_csum(pkt, &l, ipv6, pl, proto);
	/* Only the checksum changed. */
	assert_memory_equal(pkt, frame_buf, m.csum_start + m.csum_offset);
	assert_memory_equal(pkt + m.csum_start + m.csum_offset + 2,
			    frame_buf + m.csum_start + m.csum_offset + 2,
			    len - m.csum_start - m.csum_offset - 2);
	assert_int_equal(sw_gso_segment(&g, 1, gf.iov, gf.n, hdr, piece, 19), -EINVAL);
	gframe_free(&gf);
}

static void test_csum_tcp4(void **state)
{
	(void)state;
	csum_only(false, 6, 1000);
	csum_only(false, 6, 0);     /* a bare ACK: header only */
	csum_only(false, 6, 1);     /* odd length */
}

static void test_csum_tcp6_udp(void **state)
{
	(void)state;
	csum_only(true, 6, 1333);
	csum_only(false, 17, 99);
	csum_only(true, 17, 8000);
}

/* Too few pieces allowed: -E2BIG, nothing half done. */
static void test_pieces_limit(void **state)
{
	struct spec sp = { .flags = 0x10, .payload = 3000 };
	struct layout l;
	size_t len = build(frame_buf, &sp, &l);
	size_t cuts[] = { 54, 100, 100, 100 };
	struct net_meta m = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448 };
	uint8_t hdr[SW_GSO_HDR_MAX];
	struct iovec piece[3];
	struct gframe gf;
	struct sw_gso g;

	(void)state;
	gframe_make(&gf, frame_buf, len, cuts, 4);
	assert_int_equal(sw_gso_prepare(&g, gf.iov, gf.n, &m), 0);
	assert_int_equal(sw_gso_segment(&g, 0, gf.iov, gf.n, hdr, piece, 3), -E2BIG);
	assert_int_equal(sw_gso_segment(&g, 1, gf.iov, gf.n, hdr, piece, 3), 1);
	gframe_free(&gf);
}

/* prepare's verdict on a frame built from sp, edited by edit(), with m. */
static int verdict(const struct spec *sp, void (*edit)(uint8_t *f, struct layout *l, size_t *len),
		   struct net_meta *m, const size_t *cuts, unsigned ncuts)
{
	struct layout l;
	size_t len = build(frame_buf, sp, &l);
	struct gframe gf;
	struct sw_gso g;
	int rc;

	if (edit)
		edit(frame_buf, &l, &len);
	if (m->gso_type && !m->csum_start) {
		m->csum_start = (uint16_t)l.l4;
		m->csum_offset = 16;
	}
	gframe_make(&gf, frame_buf, len, cuts, ncuts);
	rc = sw_gso_prepare(&g, gf.iov, gf.n, m);
	gframe_free(&gf);
	return rc;
}

static void cut_tcp(uint8_t *f, struct layout *l, size_t *len)
{
	(void)f;
	*len = l->l4 + 10;         /* a TCP header cut short */
}

static void big_doff(uint8_t *f, struct layout *l, size_t *len)
{
	f[l->l4 + 12] = 0xf0;      /* 60 bytes of TCP header claimed, 30 there */
	*len = l->l4 + 30;
}

static void small_doff(uint8_t *f, struct layout *l, size_t *len)
{
	(void)len;
	f[l->l4 + 12] = 0x40;
}

static void small_ihl(uint8_t *f, struct layout *l, size_t *len)
{
	(void)len;
	f[l->l3] = 0x44;
}

static void bad_version(uint8_t *f, struct layout *l, size_t *len)
{
	(void)len;
	f[l->l3] = 0x55;
}

static void v4_ethertype(uint8_t *f, struct layout *l, size_t *len)
{
	(void)len;
	f[l->l3 - 2] = 0x08;       /* an IPv6 header behind IPv4's ethertype */
	f[l->l3 - 1] = 0x00;
}

static void only_eth(uint8_t *f, struct layout *l, size_t *len)
{
	(void)f, (void)l;
	*len = 14;
}

static void no_payload(uint8_t *f, struct layout *l, size_t *len)
{
	(void)f;
	*len = l->hlen;
}

/* Hostile and unsupported GSO frames are refused, without reading past
 * the frame (the guard page) or writing into it (read-only). */
static void test_hostile_gso(void **state)
{
	struct spec tcp4 = { .flags = 0x10, .payload = 4000 };
	struct spec tcp6 = { .ipv6 = true, .flags = 0x10, .payload = 4000 };
	size_t cuts[] = { 7, 30, 30 };
	struct net_meta m;

	(void)state;
#define GSO4(...) (m = (struct net_meta){ .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448, \
					   .csum_blank = true, __VA_ARGS__ }, &m)
#define GSO6(...) (m = (struct net_meta){ .gso_type = XEN_NETIF_GSO_TYPE_TCPV6, .gso_size = 1428, \
					   .csum_blank = true, __VA_ARGS__ }, &m)
	/* The baselines are accepted. */
	assert_int_equal(verdict(&tcp4, NULL, GSO4(), cuts, 3), 0);
	assert_int_equal(verdict(&tcp6, NULL, GSO6(), cuts, 3), 0);
	/* gso_size 0; hdr_len past the frame; csum offsets not TCP's. */
	assert_int_equal(verdict(&tcp4, NULL, GSO4(.gso_size = 0), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp4, NULL, GSO4(.hdr_len = 5000), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp4, NULL, GSO4(.csum_start = 4000, .csum_offset = 16), cuts, 3),
			 -EINVAL);
	assert_int_equal(verdict(&tcp4, NULL, GSO4(.csum_start = 34, .csum_offset = 60000), cuts, 3),
			 -EINVAL);
	/* Too many packets: an MSS of 1 on 4000 bytes. */
	assert_int_equal(verdict(&tcp4, NULL, GSO4(.gso_size = 1), cuts, 3), -E2BIG);
	/* Truncated and lying headers. */
	assert_int_equal(verdict(&tcp4, cut_tcp, GSO4(), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp6, cut_tcp, GSO6(), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp4, big_doff, GSO4(), cuts, 0), -EINVAL);
	assert_int_equal(verdict(&tcp4, small_doff, GSO4(), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp4, small_ihl, GSO4(), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp4, bad_version, GSO4(), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp4, only_eth, GSO4(), cuts, 0), -EINVAL);
	assert_int_equal(verdict(&tcp4, no_payload, GSO4(), cuts, 3), -EINVAL);
	/* The wrong family for the GSO type. */
	assert_int_equal(verdict(&tcp4, NULL, GSO6(), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp6, NULL, GSO4(), cuts, 3), -EINVAL);
	assert_int_equal(verdict(&tcp6, v4_ethertype, GSO6(), cuts, 3), -EINVAL);
	/* Not TCP, a fragment, an IPv6 extension header: refused. */
	{
		struct spec udp4 = { .proto = 17, .payload = 4000 };
		struct spec frag = { .frag = 0x2000, .payload = 4000 };
		struct spec ext6 = { .ipv6 = true, .v6_nh = 0 /* hop-by-hop */, .payload = 4000 };
		struct spec ext6b = { .ipv6 = true, .v6_nh = 43 /* routing */, .payload = 4000 };

		assert_int_equal(verdict(&udp4, NULL, GSO4(.csum_start = 34, .csum_offset = 6), cuts, 3),
				 -EOPNOTSUPP);
		assert_int_equal(verdict(&frag, NULL, GSO4(), cuts, 3), -EOPNOTSUPP);
		ext6.v6_nh = 0;
		/* build() treats v6_nh 0 as "proto": make it hop-by-hop by hand. */
		{
			struct layout l;
			size_t len = build(frame_buf, &ext6, &l);
			struct gframe gf;
			struct sw_gso g;

			frame_buf[l.l3 + 6] = 0;
			gframe_make(&gf, frame_buf, len, cuts, 3);
			assert_int_equal(sw_gso_prepare(&g, gf.iov, gf.n,
							GSO6(.csum_start = (uint16_t)l.l4, .csum_offset = 16)),
					 -EOPNOTSUPP);
			gframe_free(&gf);
		}
		assert_int_equal(verdict(&ext6b, NULL, GSO6(), cuts, 3), -EOPNOTSUPP);
	}
	/* A GSO type netif does not have. */
	assert_int_equal(verdict(&tcp4, NULL, GSO4(.gso_type = 7), cuts, 3), -EOPNOTSUPP);
#undef GSO4
#undef GSO6
}

/* Hostile checksum-only frames. */
static void test_hostile_csum(void **state)
{
	struct spec tcp4 = { .flags = 0x10, .payload = 100 };
	size_t cuts[] = { 5, 50 };
	size_t len = 14 + 20 + 20 + 100;
	struct net_meta m;

	(void)state;
#define CS(...) (m = (struct net_meta){ .csum_blank = true, __VA_ARGS__ }, &m)
	assert_int_equal(verdict(&tcp4, NULL, CS(.csum_start = 34, .csum_offset = 16, .hdr_len = 54),
				 cuts, 2), 0);
	/* The checksum field past the frame, or straddling its end. */
	assert_int_equal(verdict(&tcp4, NULL, CS(.csum_start = (uint16_t)len, .csum_offset = 0), cuts, 2),
			 -EINVAL);
	assert_int_equal(verdict(&tcp4, NULL, CS(.csum_start = 34, .csum_offset = (uint16_t)(len - 35)),
				 cuts, 2), -EINVAL);
	assert_int_equal(verdict(&tcp4, NULL, CS(.csum_start = 65535, .csum_offset = 65535), cuts, 2),
			 -EINVAL);
	/* Inside the Ethernet header. */
	assert_int_equal(verdict(&tcp4, NULL, CS(.csum_start = 2, .csum_offset = 16), cuts, 2), -EINVAL);
	/* hdr_len past the frame. */
	assert_int_equal(verdict(&tcp4, NULL, CS(.csum_start = 34, .csum_offset = 16,
						 .hdr_len = (uint16_t)(len + 1)), cuts, 2), -EINVAL);
	/* Within the frame but beyond what is copied. */
	{
		struct spec big = { .flags = 0x10, .payload = 1000 };

		assert_int_equal(verdict(&big, NULL, CS(.csum_start = 34, .csum_offset = 500), cuts, 2),
				 -EOPNOTSUPP);
	}
	/* Neither a checksum nor GSO to do. */
	m = (struct net_meta){ 0 };
	assert_int_equal(verdict(&tcp4, NULL, &m, cuts, 2), -EINVAL);
#undef CS
}

/* csum_add over pieces of any length and address alignment, odd ones
 * included, against the byte-wise reference; all-ones words make the
 * end-around carries of its 64-bit sum fire. */
static void test_csum_pieces(void **state)
{
	static uint8_t buf[4096 + 64];
	uint32_t seed = 12345;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct csum c = { 0, false };
		size_t at = 0, len, off;
		uint32_t ref = 0;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 8) % 4096;
		off = (seed >> 4) % 16;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[off + i] = round % 3 == 0 ? 0xff : round % 7 == 0 ? 0 : (uint8_t)(seed >> 16);
		}
		while (at < len) {
			size_t take;

			seed = seed * 1103515245u + 12345u;
			take = (seed >> 16) % 300 + 1;
			if (take > len - at)
				take = len - at;
			csum_add(&c, buf + off + at, take);
			ref = ref_fold(ref_add(ref, buf + off + at, take, at));
			at += take;
		}
		assert_int_equal(c.odd, len % 2);
		/* equal in ones' complement: the same folded sum, 0 only for no
		 * set bit at all */
		assert_int_equal(csum_fold(c.sum), ref_fold(ref));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_pieces),
		cmocka_unit_test(test_tcp4),
		cmocka_unit_test(test_tcp6),
		cmocka_unit_test(test_tcp4_ip_options),
		cmocka_unit_test(test_gso_one_segment),
		cmocka_unit_test(test_csum_tcp4),
		cmocka_unit_test(test_csum_tcp6_udp),
		cmocka_unit_test(test_pieces_limit),
		cmocka_unit_test(test_hostile_gso),
		cmocka_unit_test(test_hostile_csum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
