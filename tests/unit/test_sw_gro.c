/* sw_gro.c: which received frames are TCP segments it may merge, which segments follow which,
 * and the merged frame's headers and metadata. Frames are built here with checksums computed
 * independently of sw_gro's own code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netif.h"
#include "sw_gro.h"

static const uint8_t dst_mac[6] = { 0x00, 0x16, 0x3e, 0, 0, 1 };
static const uint8_t src_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x08 };

/* The ones' complement sum of 16-bit big-endian words, plainly. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t pseudo(const uint8_t *ip, bool v6, size_t tcp_len)
{
	return v6 ? sum16(ip + 8, 32, 0) + (uint32_t)tcp_len + 6 : sum16(ip + 12, 8, 0) + (uint32_t)tcp_len + 6;
}

/* What a frame looks like: tweak fields before build(). */
struct spec {
	bool v6, vlan;
	uint32_t seq, ack;
	uint16_t ip_id, window, payload;
	uint8_t flags, ttl, ip0;     /* ip0: IPv4's first byte (0x45) */
	uint16_t frag;               /* IPv4 flags + fragment offset */
	uint8_t proto;
	uint32_t tsval;
	size_t pad;                  /* bytes after the IP packet */
};

static struct spec seg4(uint32_t seq, uint16_t payload)
{
	return (struct spec){ .seq = seq, .ack = 777, .ip_id = 100, .window = 500, .payload = payload,
			      .flags = 0x10, .ttl = 64, .ip0 = 0x45, .frag = 0x4000, .proto = 6,
			      .tsval = 42 };
}

/* Builds the frame into f; its length. TCP header: 20 bytes + NOP NOP timestamps (12). */
static size_t build(uint8_t *f, const struct spec *s)
{
	size_t l3 = s->vlan ? 18 : 14, iph = s->v6 ? 40 : 20, l4 = l3 + iph, th = 32;
	size_t tcp_len = th + s->payload, len;
	uint8_t *ip = f + l3, *t = f + l4;

	memset(f, 0, l4 + tcp_len + s->pad);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	if (s->vlan) {
		put16(f + 12, 0x8100);
		put16(f + 14, 5);
	}
	put16(f + l3 - 2, s->v6 ? 0x86dd : 0x0800);
	if (s->v6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)tcp_len);
		ip[6] = s->proto;
		ip[7] = s->ttl;
		ip[8] = 0xfd;
		ip[23] = 2;
		ip[24] = 0xfd;
		ip[39] = 1;
	} else {
		ip[0] = s->ip0;
		put16(ip + 2, (uint16_t)(iph + tcp_len));
		put16(ip + 4, s->ip_id);
		put16(ip + 6, s->frag);
		ip[8] = s->ttl;
		ip[9] = s->proto;
		put32(ip + 12, 0x0a000001);
		put32(ip + 16, 0x0a000002);
		put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
	}
	put16(t, 5201);
	put16(t + 2, 40000);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)(th / 4) << 4;
	t[13] = s->flags;
	put16(t + 14, s->window);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	put32(t + 24, s->tsval);
	put32(t + 28, 9);
	for (size_t i = 0; i < s->payload; i++)
		t[th + i] = (uint8_t)(s->seq + i);
	put16(t + 16, (uint16_t)~fold(sum16(t, tcp_len, pseudo(ip, s->v6, tcp_len))));
	len = l4 + tcp_len + s->pad;
	return len;
}

static uint8_t fa[2048], fb[2048];

static void test_parse_ipv4(void **state)
{
	struct spec sp = seg4(1000, 1448);
	size_t len = build(fa, &sp);
	struct sw_gro_seg s;

	(void)state;
	assert_int_equal(sw_gro_parse(fa, len, &s), 0);
	assert_int_equal(s.l3_off, 14);
	assert_int_equal(s.l4_off, 34);
	assert_int_equal(s.hlen, 66);
	assert_int_equal(s.payload, 1448);
	assert_int_equal(s.seq, 1000);
	assert_false(s.ipv6);
	assert_true(s.mergeable);
	sp.vlan = true;
	len = build(fa, &sp);
	assert_int_equal(sw_gro_parse(fa, len, &s), 0);
	assert_int_equal(s.l3_off, 18);
	assert_true(s.mergeable);
}

static void test_parse_ipv6(void **state)
{
	struct spec sp = seg4(5, 1428);
	struct sw_gro_seg s;
	size_t len;

	(void)state;
	sp.v6 = true;
	len = build(fa, &sp);
	assert_int_equal(sw_gro_parse(fa, len, &s), 0);
	assert_true(s.ipv6);
	assert_int_equal(s.l4_off, 54);
	assert_int_equal(s.payload, 1428);
	assert_true(s.mergeable);
}

/* Not TCP over plain IP, or damaged: -1. */
static void test_parse_refuses(void **state)
{
	struct sw_gro_seg s;
	struct spec sp;
	size_t len;

	(void)state;
	sp = seg4(1, 100);
	len = build(fa, &sp);
	fa[len - 1] ^= 1;                               /* payload byte: TCP checksum */
	assert_int_equal(sw_gro_parse(fa, len, &s), -1);
	len = build(fa, &sp);
	fa[14 + 8] = 63;                                /* TTL: IP header checksum */
	assert_int_equal(sw_gro_parse(fa, len, &s), -1);
	sp = seg4(1, 100);
	sp.ip0 = 0x46;                                  /* IP options */
	assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), -1);
	sp = seg4(1, 100);
	sp.frag = 0x2000;                               /* more fragments */
	assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), -1);
	sp = seg4(1, 100);
	sp.proto = 17;
	assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), -1);
	sp = seg4(1, 100);
	len = build(fa, &sp);
	assert_int_equal(sw_gro_parse(fa, len - 1, &s), -1);  /* shorter than the IP length */
	assert_int_equal(sw_gro_parse(fa, 40, &s), -1);
	assert_int_equal(sw_gro_parse(fa, 13, &s), -1);
	len = build(fa, &sp);
	fa[34 + 12] = 4 << 4;                           /* data offset below 5 */
	assert_int_equal(sw_gro_parse(fa, len, &s), -1);
	sp = seg4(1, 10);
	len = build(fa, &sp);
	fa[34 + 12] = 15 << 4;                          /* 60 header bytes in a 42-byte segment */
	assert_int_equal(sw_gro_parse(fa, len, &s), -1);
	len = build(fa, &sp);
	put16(fa + 14 + 2, 20 + 8);                     /* IP length cuts the TCP header */
	put16(fa + 14 + 10, 0);
	{
		uint16_t c = (uint16_t)~fold(sum16(fa + 14, 20, 0));

		put16(fa + 14 + 10, c);
	}
	assert_int_equal(sw_gro_parse(fa, len, &s), -1);
	put16(fa + 12, 0x0806);                         /* ARP */
	assert_int_equal(sw_gro_parse(fa, len, &s), -1);
	sp = seg4(1, 100);
	sp.v6 = true;
	sp.proto = 0;                                   /* hop-by-hop extension header */
	assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), -1);
}

/* Good TCP, but not for merging: the guest gets it alone (validated). */
static void test_parse_not_mergeable(void **state)
{
	static const uint8_t flags[] = { 0x02, 0x12, 0x11, 0x04, 0x30, 0x50, 0x90 };
	struct sw_gro_seg s;
	struct spec sp;

	(void)state;
	for (unsigned i = 0; i < sizeof(flags); i++) {
		sp = seg4(1, 100);
		sp.flags = flags[i];
		assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), 0);
		assert_false(s.mergeable);
	}
	sp = seg4(1, 0);                                /* a pure ACK */
	assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), 0);
	assert_false(s.mergeable);
	sp = seg4(1, 6);
	sp.pad = 4;                                     /* Ethernet padding to 60 bytes */
	assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), 0);
	assert_int_equal(s.payload, 6);
	assert_false(s.mergeable);
	sp = seg4(1, 100);
	sp.flags = 0x18;                                /* ACK + PSH: may end a frame */
	assert_int_equal(sw_gro_parse(fa, build(fa, &sp), &s), 0);
	assert_true(s.mergeable);
}

/* Does b (built from spec b) follow a (seg4(1000, 1000)) as the second segment? */
static bool follows(struct spec b)
{
	struct spec a = seg4(1000, 1000);
	struct sw_gro_seg sa, sb;
	size_t la = build(fa, &a), lb = build(fb, &b);

	assert_int_equal(sw_gro_parse(fa, la, &sa), 0);
	if (sw_gro_parse(fb, lb, &sb))
		return false;
	return sw_gro_follows(fa, &sa, 1, 2000, fb, &sb);
}

static void test_follows(void **state)
{
	struct spec b;

	(void)state;
	assert_true(follows(seg4(2000, 1000)));
	assert_true(follows(seg4(2000, 10)));           /* shorter: the last one */
	assert_false(follows(seg4(2001, 1000)));        /* a gap */
	assert_false(follows(seg4(1000, 1000)));        /* a repeat */
	assert_false(follows(seg4(2000, 1001)));        /* longer than the first */
	b = seg4(2000, 1000);
	b.ack = 778;
	assert_false(follows(b));
	b = seg4(2000, 1000);
	b.window = 501;
	assert_false(follows(b));
	b = seg4(2000, 1000);
	b.tsval = 43;                                   /* options differ */
	assert_false(follows(b));
	b = seg4(2000, 1000);
	b.ttl = 63;
	assert_false(follows(b));
	b = seg4(2000, 1000);
	b.vlan = true;
	assert_false(follows(b));
	b = seg4(2000, 1000);
	b.v6 = true;
	assert_false(follows(b));
	b = seg4(2000, 1000);
	b.ip_id = 555;                                  /* DF: the ID may be anything */
	assert_true(follows(b));
	b = seg4(2000, 1000);
	b.flags = 0x18;                                 /* PSH on the last one */
	assert_true(follows(b));
	b = seg4(2000, 1000);
	b.flags = 0x11;                                 /* FIN */
	assert_false(follows(b));
}

/* Without DF the IDs must count up, as Linux's GRO wants. */
static void test_follows_ip_id(void **state)
{
	struct spec a = seg4(1000, 1000), b = seg4(2000, 1000);
	struct sw_gro_seg sa, sb;

	(void)state;
	a.frag = b.frag = 0;
	b.ip_id = 101;
	assert_int_equal(sw_gro_parse(fa, build(fa, &a), &sa), 0);
	assert_int_equal(sw_gro_parse(fb, build(fb, &b), &sb), 0);
	assert_true(sw_gro_follows(fa, &sa, 1, 2000, fb, &sb));
	b.ip_id = 100;
	assert_int_equal(sw_gro_parse(fb, build(fb, &b), &sb), 0);
	assert_false(sw_gro_follows(fa, &sa, 1, 2000, fb, &sb));
	/* another destination MAC */
	b.ip_id = 101;
	build(fb, &b);
	fb[5] = 9;
	assert_false(sw_gro_follows(fa, &sa, 1, 2000, fb, &sb));
}

static void test_ends(void **state)
{
	struct sw_gro_seg first = { .payload = 1000 }, s = { .payload = 1000, .flags = 0x10 };

	(void)state;
	assert_false(sw_gro_ends(&first, &s));
	s.flags = 0x18;
	assert_true(sw_gro_ends(&first, &s));
	s.flags = 0x10;
	s.payload = 999;
	assert_true(sw_gro_ends(&first, &s));
}

/* Merges n segments of mss (the last one last_len) the way the uplink does: the first frame
 * whole, then each further payload; checks what the guest gets. */
static void merge_and_check(bool v6, unsigned n, uint16_t mss, uint16_t last_len)
{
	static uint8_t merged[65536];
	struct spec sp = seg4(7000, mss);
	struct sw_gro_seg first, s;
	struct net_meta m;
	size_t len, total = 0, tcp_len, l3;
	uint32_t next = 7000;

	sp.v6 = v6;
	len = build(merged, &sp);
	assert_int_equal(sw_gro_parse(merged, len, &first), 0);
	total = first.payload;
	next += first.payload;
	for (unsigned i = 1; i < n; i++) {
		struct spec b = seg4(next, i == n - 1 ? last_len : mss);
		size_t lb;

		b.v6 = v6;
		b.flags = i == n - 1 ? 0x18 : 0x10;
		lb = build(fb, &b);
		assert_int_equal(sw_gro_parse(fb, lb, &s), 0);
		assert_true(sw_gro_follows(merged, &first, i, next, fb, &s));
		memcpy(merged + first.hlen + total, fb + s.hlen, s.payload);
		total += s.payload;
		next += s.payload;
	}
	assert_int_equal(sw_gro_finish(merged, &first, total, true, &m), 0);
	assert_int_equal(m.gso_type, v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(m.gso_size, mss);
	assert_true(m.csum_blank);
	assert_true(m.data_validated);
	assert_int_equal(m.csum_start, first.l4_off);
	assert_int_equal(m.csum_offset, 16);
	assert_int_equal(m.hdr_len, first.hlen);
	l3 = first.l3_off;
	tcp_len = first.hlen - first.l4_off + total;
	if (v6) {
		assert_int_equal(merged[l3 + 4] << 8 | merged[l3 + 5], tcp_len);
	} else {
		assert_int_equal(merged[l3 + 2] << 8 | merged[l3 + 3], 20 + tcp_len);
		assert_int_equal(fold(sum16(merged + l3, 20, 0)), 0xffff);
	}
	assert_true(merged[first.l4_off + 13] & 0x08);
	/* Complete the partial checksum as a NIC would: the sum from csum_start on, the field
	 * holding the pseudo-header's; then the segment must check with its pseudo-header. */
	{
		uint8_t *t = merged + first.l4_off;
		uint16_t c = (uint16_t)~fold(sum16(t, tcp_len, 0));

		put16(t + 16, c);
		assert_int_equal(fold(sum16(t, tcp_len, pseudo(merged + l3, v6, tcp_len))), 0xffff);
		/* the payload is the segments' bytes in order */
		for (size_t i = 0; i < total; i++)
			if (t[32 + i] != (uint8_t)(7000 + i))
				fail_msg("payload byte %zu", i);
	}
}

static void test_finish_ipv4(void **state)
{
	(void)state;
	merge_and_check(false, 3, 1448, 1448);
	merge_and_check(false, 19, 1448, 700);
}

static void test_finish_ipv6(void **state)
{
	(void)state;
	merge_and_check(true, 5, 1428, 1);
}

static void test_finish_too_long(void **state)
{
	struct spec sp = seg4(1, 1000);
	struct sw_gro_seg s;
	struct net_meta m;
	size_t len = build(fa, &sp);
	uint8_t before[2048];

	(void)state;
	assert_int_equal(sw_gro_parse(fa, len, &s), 0);
	memcpy(before, fa, len);
	assert_int_equal(sw_gro_finish(fa, &s, 65536 - 52, false, &m), -1);
	assert_memory_equal(fa, before, len);
	assert_int_equal(sw_gro_finish(fa, &s, 65535 - 52, false, &m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_parse_ipv6),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_not_mergeable),
		cmocka_unit_test(test_follows),
		cmocka_unit_test(test_follows_ip_id),
		cmocka_unit_test(test_ends),
		cmocka_unit_test(test_finish_ipv4),
		cmocka_unit_test(test_finish_ipv6),
		cmocka_unit_test(test_finish_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
