/*
 * sw_gso.h - checksum and TCP segmentation offload done in software, for
 * an uplink whose device did not negotiate them (an L0 virtio-net on a
 * QEMU hub offers neither VIRTIO_NET_F_CSUM nor HOST_TSO4/6).
 *
 * Guests send what netback promises them they may: partial checksums
 * (csum_blank) and TCP frames of up to 64 KiB (feature-gso-tcpv4/v6).
 * netback never sees the problem because the Linux stack segments and
 * checksums in software for a device without those offloads; this is the
 * same fallback for blanketd's uplinks.
 *
 * Zero copy of payload: the frame's bytes are the guest's granted pages,
 * mapped read-only, and stay where they are.  Only the headers are copied
 * (once, at sw_gso_prepare, into a private template the guest cannot
 * change afterwards); each outgoing packet is a fixed-up copy of that
 * template, written where the caller wants it (a registered dom0 buffer),
 * followed by pieces of the guest's iovecs.  Checksums read the payload
 * in place.
 *
 *   csum_blank, no GSO: one packet; the header copy runs to the end of the
 *     L4 header (m->hdr_len) or of the checksum field, whichever is later,
 *     and gets the checksum (over csum_start .. end of frame, the field
 *     holding the pseudo-header sum as Linux's CHECKSUM_PARTIAL leaves it).
 *   GSO TCPV4/TCPV6: ceil(payload / gso_size) packets.  Each: IPv4 total
 *     length, id + i and header checksum, or IPv6 payload length; TCP
 *     seq + i * gso_size, FIN/PSH on the last only, CWR on the first only,
 *     and the TCP checksum computed from scratch (pseudo-header, header,
 *     payload), as Linux's tcp_gso_segment does.
 *
 * Everything is checked against the frame's length and the copy: a
 * hostile guest controls every field.  Handled: Ethernet with one 802.1Q
 * tag, IPv4 with options, IPv6 with TCP as its next header.  Refused
 * (the frame is dropped): IP fragments, IPv6 extension headers, non-TCP
 * GSO, offsets outside the frame, more than SW_GSO_MAX_SEGS packets.
 */
#ifndef BLANKETD_SW_GSO_H
#define BLANKETD_SW_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "uplink.h"

/* Header bytes copied at most: Ethernet + VLAN (18) + IPv4 with options
 * (60) + TCP with options (60) = 138 fit with room for a csum_blank UDP
 * or IPv6 frame's checksum field further in. */
#define SW_GSO_HDR_MAX 240u
/* Packets one frame may become: a 64 KiB frame at an MSS of 256. */
#define SW_GSO_MAX_SEGS 256u

struct sw_gso {
	uint8_t hdr[SW_GSO_HDR_MAX];     /* the frame's headers, copied once */
	uint16_t hlen;                   /* bytes of hdr every packet starts with */
	bool gso;                        /* segmenting (else: checksum only) */
	bool ipv6;
	uint16_t l3_off, l4_off;         /* GSO: IP and TCP headers in hdr */
	uint16_t csum_start, csum_field; /* checksum only: sum from, store at */
	uint16_t mss;
	size_t frame_len;
	size_t payload;                  /* frame_len - hlen */
	unsigned nsegs;                  /* packets to send */
};

/* Check the frame (iov[0 .. n), m) and copy its headers into g.  0, or
 * -EINVAL (malformed: offsets past the frame, bad headers, gso_size 0),
 * -EOPNOTSUPP (well formed but not handled: non-TCP GSO, IPv6 extension
 * headers, IP fragments, headers beyond SW_GSO_HDR_MAX), -E2BIG (more than
 * SW_GSO_MAX_SEGS packets).  Frames that need neither (no csum_blank, no
 * GSO) are -EINVAL: the caller sends those as they are. */
int sw_gso_prepare(struct sw_gso *g, const struct iovec *iov, unsigned n,
		   const struct net_meta *m);

/* Packet i (< g->nsegs) of the frame g was prepared from (the same iov):
 * its g->hlen header bytes into hdr, its payload as pieces of iov into
 * piece[0 .. max).  Reads the guest's payload for the checksum, never
 * writes it.  The number of pieces (0: a header-only packet), or -E2BIG
 * (more than max), -EINVAL (i out of range). */
int sw_gso_segment(const struct sw_gso *g, unsigned i, const struct iovec *iov, unsigned n,
		   uint8_t *hdr, struct iovec *piece, unsigned max);

#endif
