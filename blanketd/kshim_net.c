/* kshim_net.c - see kshim_net.h. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "kshim_net.h"
#include "netif.h"
#include "vnet_hdr.h"

#define HAS(f, bit) (((f) >> (bit)) & 1)

int knet_tx_hdr(const struct net_meta *m, uint64_t features, struct virtio_net_hdr_v1 *h)
{
	struct virtio_net_hdr v;

	if ((m->csum_blank && !HAS(features, VIRTIO_NET_F_CSUM)) ||
	    (m->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && !HAS(features, VIRTIO_NET_F_HOST_TSO4)) ||
	    (m->gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && !HAS(features, VIRTIO_NET_F_HOST_TSO6)))
		return -EOPNOTSUPP;
	vnet_hdr_from_meta(m, &v);
	/* DATA_VALID is receive-only in virtio (the driver MUST NOT set it on
	 * transmit); a TAP takes it, a device need not. */
	v.flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
	memset(h, 0, sizeof(*h));
	h->flags = v.flags;
	h->gso_type = v.gso_type;
	h->hdr_len = htole16(v.hdr_len);
	h->gso_size = htole16(v.gso_size);
	h->csum_start = htole16(v.csum_start);
	h->csum_offset = htole16(v.csum_offset);
	return 0;
}

int knet_rx_meta(const struct virtio_net_hdr_v1 *h, struct net_meta *m)
{
	struct virtio_net_hdr v = {
		.flags = h->flags,
		.gso_type = h->gso_type,
		.hdr_len = le16toh(h->hdr_len),
		.gso_size = le16toh(h->gso_size),
		.csum_start = le16toh(h->csum_start),
		.csum_offset = le16toh(h->csum_offset),
	};

	return vnet_meta_from_hdr(&v, m);
}

#define PAGE KCHAIN_PAGE

static bool in_spans(const struct knet_span *s, unsigned n, uintptr_t a, unsigned *which)
{
	for (unsigned i = 0; i < n; i++)
		if (a >= s[i].addr && a - s[i].addr < s[i].len) {
			*which = i;
			return true;
		}
	return false;
}

int knet_tx_spans(const struct kmap *m, const struct iovec *iov, unsigned n,
		  struct knet_span *spans, unsigned max)
{
	unsigned ns = 0, w;

	for (unsigned i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)iov[i].iov_base & ~(uintptr_t)(PAGE - 1);
		uintptr_t end = (uintptr_t)iov[i].iov_base + iov[i].iov_len;

		for (; iov[i].iov_len && a < end; a += PAGE) {
			if ((m && kmap_find(m, a)) || in_spans(spans, ns, a, &w))
				continue;
			if (ns && spans[ns - 1].addr + spans[ns - 1].len == a) {
				spans[ns - 1].len += PAGE;
				continue;
			}
			if (ns == max)
				return -E2BIG;
			spans[ns++] = (struct knet_span){ .addr = a, .len = PAGE };
		}
	}
	return (int)ns;
}

int knet_tx_segs(const struct kmap *m, const struct knet_span *spans, unsigned nspans,
		 const struct iovec *iov, unsigned n, struct kshim_seg *segs, unsigned max)
{
	unsigned ns = 0, w;

	for (unsigned i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			size_t piece = PAGE - (a & (PAGE - 1));
			const struct kmap_entry *e;
			uint32_t region;
			uint64_t off;

			if (piece > left)
				piece = left;
			if (in_spans(spans, nspans, a, &w)) {
				region = spans[w].region;
				off = a - spans[w].addr;
			} else if (m && (e = kmap_find(m, a))) {
				region = e->region;
				off = e->roff + (a & (PAGE - 1));
			} else {
				return -ENOENT;
			}
			if (ns && segs[ns - 1].region == region &&
			    segs[ns - 1].offset + segs[ns - 1].len == off) {
				segs[ns - 1].len += (uint32_t)piece;
			} else {
				if (ns == max)
					return -E2BIG;
				segs[ns++] = (struct kshim_seg){ .region = region, .offset = off,
								 .len = (uint32_t)piece };
			}
			a += piece;
			left -= piece;
		}
	}
	return (int)ns;
}

enum knet_rx_verdict knet_rx_add(struct knet_rxframe *f, bool mrg, uint16_t buf,
				 uint8_t *data, uint32_t len)
{
	uint32_t skip = 0;

	f->buf[f->nbufs++] = buf;
	if (len > KNET_BUF)
		return KNET_RX_BAD;
	if (f->nbufs == 1) {
		if (len < KNET_HDR_LEN)
			return KNET_RX_BAD;
		memcpy(&f->hdr, data, KNET_HDR_LEN);
		/* Without MRG_RXBUF the device sets num_buffers to 1 (or
		 * leaves it): a frame is one buffer either way. */
		f->want = mrg ? le16toh(f->hdr.num_buffers) : 1;
		if (f->want == 0 || f->want > NET_UPLINK_MAX_FRAGS)
			return KNET_RX_BAD;
		skip = KNET_HDR_LEN;
	} else if (len == 0) {
		return KNET_RX_BAD;
	}
	if (len > skip) {
		f->frag[f->nfrags++] = (struct iovec){ .iov_base = data + skip, .iov_len = len - skip };
		f->len += len - skip;
	}
	if (f->nbufs < f->want)
		return KNET_RX_MORE;
	return f->len >= NETIF_ETH_HLEN ? KNET_RX_FRAME : KNET_RX_BAD;
}
