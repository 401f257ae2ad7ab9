/*
 * test_kshim_net.c - the kshim-net uplink's kernel-free part: the
 * virtio_net_hdr_v1 both ways (through the translation shared with the
 * TAP), a TX frame's pages as kshim segments (per-frame spans and
 * long-lived registrations), and receive buffers put together into frames.
 *
 * TX addresses are fake (never dereferenced): the builders only name
 * memory to kshim.  RX buffers are real (the header is read from them).
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <linux/virtio_config.h>

#include "kshim_net.h"
#include "netif.h"

#define PG KCHAIN_PAGE
#define A(n) ((uintptr_t)0x7f0000000000ull + (uintptr_t)(n) * PG)
#define ALL_OFFLOADS (1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_HOST_TSO4 | \
		      1ull << VIRTIO_NET_F_HOST_TSO6)

static struct iovec iov_at(uintptr_t a, size_t len)
{
	return (struct iovec){ .iov_base = (void *)a, .iov_len = len };
}

/* A guest's TSO frame keeps its GSO and partial checksum; the header is
 * little-endian, 12 bytes, num_buffers 0. */
static void test_tx_hdr_gso(void **state)
{
	struct net_meta m = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448,
			      .csum_blank = true, .csum_start = 34, .csum_offset = 16, .hdr_len = 66 };
	struct virtio_net_hdr_v1 h;

	(void)state;
	assert_int_equal(sizeof(h), KNET_HDR_LEN);
	assert_int_equal(knet_tx_hdr(&m, ALL_OFFLOADS, &h), 0);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(le16toh(h.gso_size), 1448);
	assert_int_equal(le16toh(h.hdr_len), 66);
	assert_int_equal(le16toh(h.csum_start), 34);
	assert_int_equal(le16toh(h.csum_offset), 16);
	assert_int_equal(h.num_buffers, 0);
	m.gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
	assert_int_equal(knet_tx_hdr(&m, ALL_OFFLOADS, &h), 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
}

/* DATA_VALID is receive-only in virtio: not sent to the device. */
static void test_tx_hdr_no_data_valid(void **state)
{
	struct net_meta m = { .data_validated = true };
	struct virtio_net_hdr_v1 h;

	(void)state;
	assert_int_equal(knet_tx_hdr(&m, 0, &h), 0);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

/* An offload the device did not negotiate cannot be sent. */
static void test_tx_hdr_refused(void **state)
{
	struct net_meta csum = { .csum_blank = true, .csum_start = 34, .csum_offset = 6 };
	struct net_meta tso4 = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448,
				 .csum_blank = true };
	struct net_meta tso6 = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV6, .gso_size = 1428,
				 .csum_blank = true };
	struct virtio_net_hdr_v1 h;
	uint64_t csum_only = 1ull << VIRTIO_NET_F_CSUM;

	(void)state;
	assert_int_equal(knet_tx_hdr(&csum, 0, &h), -EOPNOTSUPP);
	assert_int_equal(knet_tx_hdr(&csum, csum_only, &h), 0);
	assert_int_equal(knet_tx_hdr(&tso4, csum_only, &h), -EOPNOTSUPP);
	assert_int_equal(knet_tx_hdr(&tso6, csum_only | 1ull << VIRTIO_NET_F_HOST_TSO4, &h),
			 -EOPNOTSUPP);
	assert_int_equal(knet_tx_hdr(&tso6, ALL_OFFLOADS, &h), 0);
}

/* What the device hands in: offloads as netif carries them; UDP GSO and
 * GSO without a size are refused (the TAP's rules, shared code). */
static void test_rx_meta(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN,
				       .hdr_len = htole16(86), .gso_size = htole16(1428),
				       .csum_start = htole16(54), .csum_offset = htole16(16),
				       .num_buffers = htole16(3) };
	struct net_meta m;

	(void)state;
	assert_int_equal(knet_rx_meta(&h, &m), 0);
	assert_true(m.csum_blank);
	assert_int_equal(m.gso_type, XEN_NETIF_GSO_TYPE_TCPV6);
	assert_int_equal(m.gso_size, 1428);
	assert_int_equal(m.csum_start, 54);
	assert_int_equal(m.csum_offset, 16);
	assert_int_equal(m.hdr_len, 86);
	h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	assert_int_equal(knet_rx_meta(&h, &m), 0);
	assert_true(m.data_validated);
	assert_false(m.csum_blank);
	assert_int_equal(m.gso_type, XEN_NETIF_GSO_TYPE_NONE);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(knet_rx_meta(&h, &m), -1);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	assert_int_equal(knet_rx_meta(&h, &m), -1);
}

/* A device without GUEST_CSUM (QEMU's on a hub) hands frames in whole, a
 * zero header: their checksums are complete but unchecked, so the guest
 * must verify them (neither csum_blank nor data_validated). */
static void test_rx_meta_no_offload(void **state)
{
	struct virtio_net_hdr_v1 h = { .num_buffers = htole16(1) };
	struct net_meta m;

	(void)state;
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(knet_rx_meta(&h, &m), 0);
	assert_false(m.csum_blank);
	assert_false(m.data_validated);
	assert_int_equal(m.gso_type, XEN_NETIF_GSO_TYPE_NONE);
	assert_int_equal(m.gso_size, 0);
}

/* A packet as vif_ring.c maps it: its slots' pages side by side (one
 * mapping), each slot in its own page.  One span to register; each slot a
 * segment of that region (separate: the offsets are not contiguous). */
static void test_tx_one_mapping(void **state)
{
	struct iovec iov[3] = { iov_at(A(0) + 100, 1000), iov_at(A(1), 4096), iov_at(A(2) + 10, 50) };
	struct knet_span sp[KNET_TX_MAX_SPANS];
	struct kshim_seg sg[KNET_TX_MAX_SEGS];
	int n;

	(void)state;
	n = knet_tx_spans(NULL, iov, 3, sp, KNET_TX_MAX_SPANS);
	assert_int_equal(n, 1);
	assert_true(sp[0].addr == A(0));
	assert_int_equal(sp[0].len, 3 * PG);
	sp[0].region = 9;
	n = knet_tx_segs(NULL, sp, 1, iov, 3, sg, KNET_TX_MAX_SEGS);
	assert_int_equal(n, 3);
	assert_int_equal(sg[0].region, 9);
	assert_int_equal(sg[0].offset, 100);
	assert_int_equal(sg[0].len, 1000);
	assert_int_equal(sg[0].flags, 0); /* the device reads it */
	assert_int_equal(sg[1].offset, PG);
	assert_int_equal(sg[1].len, 4096);
	assert_int_equal(sg[2].offset, 2 * PG + 10);
	assert_int_equal(sg[2].len, 50);
}

/* Pieces contiguous in one region merge into one segment, across a page
 * boundary too (kshim splits by page itself). */
static void test_tx_merge(void **state)
{
	struct iovec iov[2] = { iov_at(A(4) + 4000, 96), iov_at(A(5), 200) };
	struct knet_span sp[KNET_TX_MAX_SPANS];
	struct kshim_seg sg[KNET_TX_MAX_SEGS];
	int n;

	(void)state;
	n = knet_tx_spans(NULL, iov, 2, sp, KNET_TX_MAX_SPANS);
	assert_int_equal(n, 1);
	sp[0].region = 3;
	n = knet_tx_segs(NULL, sp, 1, iov, 2, sg, KNET_TX_MAX_SEGS);
	assert_int_equal(n, 1);
	assert_int_equal(sg[0].offset, 4000);
	assert_int_equal(sg[0].len, 296);
}

/* Pages a long-lived registration covers (persistent TX mappings) need no
 * per-frame span; the others do, in runs of neighbouring pages. */
static void test_tx_persistent_and_transient(void **state)
{
	struct iovec iov[4] = { iov_at(A(10) + 8, 100), iov_at(A(20), 60), iov_at(A(21), 60),
				iov_at(A(30) + 5, 70) };
	struct knet_span sp[KNET_TX_MAX_SPANS];
	struct kshim_seg sg[KNET_TX_MAX_SEGS];
	struct kmap m;
	int n;

	(void)state;
	assert_int_equal(kmap_init(&m), 0);
	assert_int_equal(kmap_add(&m, A(10), PG, 5, false), 0);
	assert_int_equal(kmap_add(&m, A(30), PG, 6, false), 0);
	n = knet_tx_spans(&m, iov, 4, sp, KNET_TX_MAX_SPANS);
	assert_int_equal(n, 1);
	assert_true(sp[0].addr == A(20));
	assert_int_equal(sp[0].len, 2 * PG);
	sp[0].region = 11;
	n = knet_tx_segs(&m, sp, 1, iov, 4, sg, KNET_TX_MAX_SEGS);
	assert_int_equal(n, 4);
	assert_int_equal(sg[0].region, 5);
	assert_int_equal(sg[0].offset, 8);
	assert_int_equal(sg[1].region, 11);
	assert_int_equal(sg[1].offset, 0);
	assert_int_equal(sg[2].region, 11);
	assert_int_equal(sg[2].offset, PG);
	assert_int_equal(sg[3].region, 6);
	assert_int_equal(sg[3].offset, 5);
	/* Everything registered long-lived: nothing to register per frame. */
	assert_int_equal(knet_tx_spans(&m, iov, 1, sp, KNET_TX_MAX_SPANS), 0);
	/* A page in neither is an error, not a wild segment. */
	assert_int_equal(knet_tx_segs(&m, NULL, 0, iov, 2, sg, KNET_TX_MAX_SEGS), -ENOENT);
	kmap_destroy(&m);
}

static void test_tx_limits(void **state)
{
	struct iovec iov[3] = { iov_at(A(0), 10), iov_at(A(2), 10), iov_at(A(4), 10) };
	struct knet_span sp[2];
	struct kshim_seg sg[2];

	(void)state;
	assert_int_equal(knet_tx_spans(NULL, iov, 3, sp, 2), -E2BIG);
	assert_int_equal(knet_tx_spans(NULL, iov, 2, sp, 2), 2);
	sp[0].region = 1;
	sp[1].region = 2;
	assert_int_equal(knet_tx_segs(NULL, sp, 2, iov, 2, sg, 1), -E2BIG);
	assert_int_equal(knet_tx_segs(NULL, sp, 2, iov, 2, sg, 2), 2);
}

static uint8_t rxbuf[4][KNET_BUF];

static void put_hdr(unsigned b, uint16_t num_buffers, uint8_t flags)
{
	struct virtio_net_hdr_v1 h = { .flags = flags, .num_buffers = htole16(num_buffers) };

	memcpy(rxbuf[b], &h, sizeof(h));
}

/* Without MRG_RXBUF a frame is one buffer, its data after the header. */
static void test_rx_one_buffer(void **state)
{
	struct knet_rxframe f = { 0 };

	(void)state;
	put_hdr(0, 0, VIRTIO_NET_HDR_F_DATA_VALID); /* num_buffers ignored */
	assert_int_equal(knet_rx_add(&f, false, 0, rxbuf[0], KNET_HDR_LEN + 60), KNET_RX_FRAME);
	assert_int_equal(f.nbufs, 1);
	assert_int_equal(f.nfrags, 1);
	assert_ptr_equal(f.frag[0].iov_base, rxbuf[0] + KNET_HDR_LEN);
	assert_int_equal(f.frag[0].iov_len, 60);
	assert_int_equal(f.len, 60);
	assert_int_equal(f.hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
}

/* With MRG_RXBUF a 64 KiB-class frame spans num_buffers page buffers. */
static void test_rx_merged(void **state)
{
	struct knet_rxframe f = { 0 };

	(void)state;
	put_hdr(2, 3, 0);
	assert_int_equal(knet_rx_add(&f, true, 2, rxbuf[2], KNET_BUF), KNET_RX_MORE);
	assert_int_equal(knet_rx_add(&f, true, 0, rxbuf[0], KNET_BUF), KNET_RX_MORE);
	assert_int_equal(knet_rx_add(&f, true, 3, rxbuf[3], 500), KNET_RX_FRAME);
	assert_int_equal(f.nbufs, 3);
	assert_int_equal(f.buf[0], 2);
	assert_int_equal(f.buf[1], 0);
	assert_int_equal(f.buf[2], 3);
	assert_int_equal(f.nfrags, 3);
	assert_int_equal(f.frag[0].iov_len, KNET_BUF - KNET_HDR_LEN);
	assert_ptr_equal(f.frag[1].iov_base, rxbuf[0]);
	assert_int_equal(f.frag[2].iov_len, 500);
	assert_int_equal(f.len, 2 * KNET_BUF - KNET_HDR_LEN + 500);
}

/* A device that lies: the buffers come back, nothing is handed on. */
static void test_rx_bad(void **state)
{
	struct knet_rxframe f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(knet_rx_add(&f, true, 0, rxbuf[0], 8), KNET_RX_BAD); /* no header */
	assert_int_equal(f.nbufs, 1);
	memset(&f, 0, sizeof(f));
	put_hdr(0, 0, 0);
	assert_int_equal(knet_rx_add(&f, true, 0, rxbuf[0], 100), KNET_RX_BAD); /* 0 buffers */
	memset(&f, 0, sizeof(f));
	put_hdr(0, NET_UPLINK_MAX_FRAGS + 1, 0);
	assert_int_equal(knet_rx_add(&f, true, 0, rxbuf[0], 100), KNET_RX_BAD); /* too many */
	memset(&f, 0, sizeof(f));
	put_hdr(0, 1, 0);
	assert_int_equal(knet_rx_add(&f, true, 0, rxbuf[0], KNET_BUF + 1), KNET_RX_BAD);
	memset(&f, 0, sizeof(f));
	assert_int_equal(knet_rx_add(&f, true, 0, rxbuf[0], KNET_HDR_LEN + 10), KNET_RX_BAD); /* runt */
	memset(&f, 0, sizeof(f));
	put_hdr(0, 2, 0);
	assert_int_equal(knet_rx_add(&f, true, 0, rxbuf[0], 100), KNET_RX_MORE);
	assert_int_equal(knet_rx_add(&f, true, 1, rxbuf[1], 0), KNET_RX_BAD); /* empty follower */
	assert_int_equal(f.nbufs, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_hdr_gso),
		cmocka_unit_test(test_tx_hdr_no_data_valid),
		cmocka_unit_test(test_tx_hdr_refused),
		cmocka_unit_test(test_rx_meta),
		cmocka_unit_test(test_tx_one_mapping),
		cmocka_unit_test(test_tx_merge),
		cmocka_unit_test(test_tx_persistent_and_transient),
		cmocka_unit_test(test_tx_limits),
		cmocka_unit_test(test_rx_meta_no_offload),
		cmocka_unit_test(test_rx_one_buffer),
		cmocka_unit_test(test_rx_merged),
		cmocka_unit_test(test_rx_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
