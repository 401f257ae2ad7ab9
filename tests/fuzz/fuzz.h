/* fuzz.h - what the libFuzzer targets share: an invariant check that stops the run, and the
 * Internet checksum computed without the daemon's helpers (an independent oracle). */
#ifndef BLANKET_FUZZ_H
#define BLANKET_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,    \
				__LINE__, #cond);                                     \
			abort();                                                      \
		}                                                                     \
	} while (0)

/* The ones' complement sum s plus p[0 .. len) as big-endian 16-bit words (a last odd byte as the
 * high half), folded: 0xffff over a packet whose checksum is right. */
static inline uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

#endif
