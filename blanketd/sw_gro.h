/*
 * sw_gro.h - receive coalescing in software, for an uplink whose device
 * does not coalesce (an L0 virtio-net on a QEMU hub negotiates neither
 * GUEST_TSO4/6 nor GUEST_CSUM).
 *
 * netback never sees 1448-byte segments from dom0's NIC: Linux's GRO has
 * merged the consecutive segments of each TCP flow into one large frame
 * before the bridge hands it on, and the guest's stack then handles one
 * frame where it would handle dozens.  This is the same for the frames
 * blanketd's uplink receives: consecutive TCP segments of one flow that
 * arrive together become one GSO frame (gso_size = the first segment's
 * payload), its headers rewritten, its checksum left partial (netfront's
 * csum_blank + data_validated), as Linux's tcp_gro_complete leaves it.
 *
 * The rules are Linux's (inet_gro_receive, tcp_gro_receive), kept to the
 * plain case: Ethernet with at most one 802.1Q tag; IPv4 without options
 * or fragmentation, or IPv6 with TCP as its next header; the same
 * addresses, ports, TOS/traffic class, TTL/hop limit, ACK number, window
 * and TCP options; sequence numbers following each other; flags ACK, PSH
 * only on the last; no segment longer than the first; IPv4 IDs counting
 * up unless DF is set.  A segment with PSH, or shorter than the first,
 * ends the frame.
 *
 * Every frame comes from the network outside: it is bounds-checked, and
 * its IP header and TCP checksums verified, before it is merged or
 * marked validated.
 */
#ifndef BLANKETD_SW_GRO_H
#define BLANKETD_SW_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uplink.h"

#define SW_GRO_TCP_PSH 0x08

/* A TCP segment, as sw_gro_parse found it in its frame. */
struct sw_gro_seg {
	uint16_t l3_off, l4_off;         /* IP and TCP headers in the frame */
	uint16_t hlen;                   /* bytes of headers (to the payload) */
	uint16_t payload;                /* TCP payload bytes */
	uint32_t seq;
	uint8_t flags;                   /* the TCP flags byte */
	bool ipv6;
	bool mergeable;                  /* data, flags ACK (+PSH), no padding */
};

/* f[0 .. len): a TCP/IP frame with good checksums?  0 and *s filled, or
 * -1 (not TCP over plain IPv4/IPv6, malformed, or a bad checksum: the
 * frame goes as it is and the guest decides). */
int sw_gro_parse(const uint8_t *f, size_t len, struct sw_gro_seg *s);

/* Whether segment s (in frame f) extends the frame being built from
 * first (in frame ff), which has nsegs segments so far and whose next
 * byte is at sequence number next_seq.  Both were parsed by sw_gro_parse;
 * the caller checks that the last one added did not end the frame
 * (sw_gro_ends). */
bool sw_gro_follows(const uint8_t *ff, const struct sw_gro_seg *first, unsigned nsegs,
		    uint32_t next_seq, const uint8_t *f, const struct sw_gro_seg *s);

/* Whether segment s, once added, ends the frame begun by first. */
bool sw_gro_ends(const struct sw_gro_seg *first, const struct sw_gro_seg *s);

/* Rewrites the headers in ff (the first segment's frame) for a frame of
 * first->hlen header bytes and payload bytes of TCP payload, PSH set if
 * psh, and fills m for the guest (GSO, partial checksum).  -1, nothing
 * changed, if the total is too long for the IP length field. */
int sw_gro_finish(uint8_t *ff, const struct sw_gro_seg *first, size_t payload, bool psh,
		  struct net_meta *m);

#endif
