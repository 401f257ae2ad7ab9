/*
 * fuzz_gro.c - libFuzzer target for sw_gro.c, whose input is frames from the network outside
 * the host (what the L0 NIC receives).
 *
 * The input is up to four frames (a length byte pair before each; its top bit asks for the
 * frame's checksums to be made right first, so the fuzzer gets past them). Each is copied into a
 * buffer of exactly its length, so AddressSanitizer catches a read past its end. The first frame that
 * parses starts a merged frame; each later one that sw_gro_follows takes is appended as the
 * uplink does it, and sw_gro_finish rewrites the result. Checked: what sw_gro_parse accepts
 * lies within the frame and carries a valid TCP checksum (verified here independently), and a
 * finished frame's IP length covers exactly its headers and the payloads merged.
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Ilibblanket -Iblanketd \
 *         tests/fuzz/fuzz_gro.c blanketd/sw_gro.c -o fuzz_gro
 *   ./fuzz_gro -max_total_time=60
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sw_gro.h"

/* The TCP checksum of the segment s describes, checked without sw_gro's helpers. */
static void check_segment(const uint8_t *f, size_t len, const struct sw_gro_seg *s)
{
	size_t tcp_len = (size_t)s->hlen - s->l4_off + s->payload;
	const uint8_t *ip = f + s->l3_off;
	uint32_t p;

	CHECK(s->l3_off < s->l4_off && s->l4_off + 20u <= s->hlen);
	CHECK((size_t)s->hlen + s->payload <= len);
	CHECK(!s->mergeable || (size_t)s->hlen + s->payload == len);
	p = s->ipv6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);
	p += (uint32_t)(tcp_len >> 16) + (uint32_t)(tcp_len & 0xffff) + 6;
	CHECK(sum16(f + s->l4_off, tcp_len, p) == 0xffff);
}

/* Makes the IP header and TCP checksums of frame f right where its lengths allow, so the fuzzer
 * gets past them to the merging rules (random bytes almost never carry a good checksum). */
static void repair(uint8_t *f, size_t len)
{
	size_t l3 = 14, ip_len, l4;
	uint32_t p;

	if (len < 14)
		return;
	if (f[12] == 0x81 && f[13] == 0x00)
		l3 = 18;
	if (len < l3 + 40)
		return;
	if ((f[l3] >> 4) == 4) {
		l4 = l3 + (size_t)(f[l3] & 15) * 4;
		ip_len = (size_t)(f[l3 + 2] << 8 | f[l3 + 3]);
		f[l3 + 10] = f[l3 + 11] = 0;
		p = ~sum16(f + l3, 20, 0);
		f[l3 + 10] = (uint8_t)(p >> 8);
		f[l3 + 11] = (uint8_t)p;
		p = sum16(f + l3 + 12, 8, 0);
	} else {
		l4 = l3 + 40;
		ip_len = 40 + (size_t)(f[l3 + 4] << 8 | f[l3 + 5]);
		p = sum16(f + l3 + 8, 32, 0);
	}
	if (l4 + 20 > l3 + ip_len || l3 + ip_len > len)
		return;
	p += (uint32_t)(l3 + ip_len - l4) + 6;
	f[l4 + 16] = f[l4 + 17] = 0;
	p = ~sum16(f + l4, l3 + ip_len - l4, p);
	f[l4 + 16] = (uint8_t)(p >> 8);
	f[l4 + 17] = (uint8_t)p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t merged[65536 + 2048];
	struct sw_gro_seg first, s;
	size_t mlen = 0, payload = 0;
	unsigned nsegs = 0;
	uint32_t next = 0;
	bool psh = false, ended = false;

	for (int i = 0; i < 4 && size >= 2; i++) {
		/* the length's top bit: repair the checksums first */
		bool fix = data[0] & 0x80;
		size_t len = (size_t)((data[0] & 0x7f) << 8 | data[1]) % 2048;
		uint8_t *f;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		f = malloc(len ? len : 1);
		memcpy(f, data, len);
		if (fix)
			repair(f, len);
		data += len;
		size -= len;
		if (sw_gro_parse(f, len, &s) == 0) {
			check_segment(f, len, &s);
			if (!nsegs) {
				memcpy(merged, f, len);
				mlen = len;
				first = s;
				payload = s.payload;
				next = s.seq + s.payload;
				nsegs = 1;
				psh = s.flags & 0x08;
				ended = sw_gro_ends(&first, &s);
			} else if (!ended && sw_gro_follows(merged, &first, nsegs, next, f, &s)) {
				CHECK(s.payload <= first.payload && s.hlen == first.hlen);
				memcpy(merged + first.hlen + payload, f + s.hlen, s.payload);
				payload += s.payload;
				next += s.payload;
				nsegs++;
				psh |= s.flags & 0x08;
				ended = sw_gro_ends(&first, &s);
			}
		}
		free(f);
	}
	if (nsegs) {
		struct net_meta m;
		const uint8_t *ip = merged + first.l3_off;

		(void)mlen;
		if (sw_gro_finish(merged, &first, payload, psh, &m) == 0) {
			size_t tcp_len = (size_t)first.hlen - first.l4_off + payload;

			CHECK(m.csum_start == first.l4_off && m.hdr_len == first.hlen);
			if (first.ipv6)
				CHECK((size_t)(ip[4] << 8 | ip[5]) == tcp_len);
			else
				CHECK((size_t)(ip[2] << 8 | ip[3]) == 20 + tcp_len &&
				      sum16(ip, 20, 0) == 0xffff);
		}
	}
	return 0;
}
