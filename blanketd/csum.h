/*
 * csum.h - the Internet checksum (RFC 1071) over bytes that arrive in
 * pieces, for the software offloads (sw_gso.c, sw_gro.c).
 */
#ifndef BLANKETD_CSUM_H
#define BLANKETD_CSUM_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A running sum; odd tracks a piece ending mid-word, so the next one
 * starts with a low byte. */
struct csum {
	uint64_t sum;
	bool odd;
};

static inline void csum_add(struct csum *c, const uint8_t *p, size_t len)
{
	if (!len)
		return;
	if (c->odd) {
		c->sum += *p++;
		len--;
		c->odd = false;
	}
	/* Big-endian 32-bit words: their sum folds to the 16-bit one
	 * (2^16 = 1 in ones' complement); 64 bits cannot overflow here. */
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		c->sum += be32toh(w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		c->sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len) {
		c->sum += (uint32_t)*p << 8;
		c->odd = true;
	}
}

/* The 16-bit ones' complement sum (not yet complemented). */
static inline uint16_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

#endif
