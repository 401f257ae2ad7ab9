/*
 * csum.h - the Internet checksum (RFC 1071) over bytes that arrive in
 * pieces, and the IP parts of TCP/UDP checksums, for the software offloads
 * (sw_gso.c, sw_gro.c).
 */
#ifndef BLANKETD_CSUM_H
#define BLANKETD_CSUM_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"

/* A running sum; odd tracks a piece ending mid-word, so the next one
 * starts with a low byte. */
struct csum {
	uint64_t sum;
	bool odd;
};

/* The 16-bit ones' complement sum (not yet complemented). */
static inline uint16_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The ones' complement sum of n 8-byte words at p in the host's byte order,
 * with end-around carry: 3 instructions per 8 bytes where a big-endian
 * 32-bit walk takes 7 per 4.  It runs over every payload byte that software
 * GSO sends and software GRO takes (an L0 NIC without offloads), and in the
 * test bed's dom0 every instruction is emulated. */
static inline uint64_t csum_words(const uint8_t *p, size_t n)
{
	uint64_t s = 0, w;

	for (; n >= 4; n -= 4, p += 32) {
		uint64_t a, b, d;

		memcpy(&w, p, 8);
		memcpy(&a, p + 8, 8);
		memcpy(&b, p + 16, 8);
		memcpy(&d, p + 24, 8);
		s += w;
		s += s < w;
		s += a;
		s += s < a;
		s += b;
		s += s < b;
		s += d;
		s += s < d;
	}
	for (; n; n--, p += 8) {
		memcpy(&w, p, 8);
		s += w;
		s += s < w;
	}
	return s;
}

static inline void csum_add(struct csum *c, const uint8_t *p, size_t len)
{
	if (!len)
		return;
	if (c->odd) {
		c->sum += *p++;
		len--;
		c->odd = false;
	}
	if (len >= 8) {
		/* The sum is independent of byte order up to a swap of its
		 * folded 16 bits (RFC 1071, 2.B), and p is at an even offset of
		 * the checksummed bytes here. */
		/* folded, then as big-endian words */
		c->sum += be16toh(csum_fold(csum_words(p, len / 8)));
		p += len & ~(size_t)7;
		len &= 7;
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		c->sum += be32toh(w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		c->sum += get16(p);
		p += 2;
		len -= 2;
	}
	if (len) {
		c->sum += (uint32_t)*p << 8;
		c->odd = true;
	}
}

/* Adds the pseudo-header of an L4 segment of l4_len bytes and protocol
 * proto below IP header ip (IPv6's if ipv6): the addresses, the protocol
 * and the length.  c must be at a word boundary (not odd). */
static inline void csum_pseudo(struct csum *c, const uint8_t *ip, bool ipv6, uint8_t proto,
			       uint32_t l4_len)
{
	if (ipv6)
		csum_add(c, ip + 8, 32);        /* source, destination */
	else
		csum_add(c, ip + 12, 8);
	/* 32 bits for IPv6: its halves' sum and it fold alike (2^16 = 1) */
	c->sum += proto + (uint64_t)l4_len;
}

/* Writes the checksum of the IPv4 header at ip, ihl bytes long. */
static inline void csum_set_ipv4(uint8_t *ip, size_t ihl)
{
	struct csum c = { 0, false };

	put16(ip + 10, 0);
	csum_add(&c, ip, ihl);
	put16(ip + 10, (uint16_t)~csum_fold(c.sum));
}

#endif
