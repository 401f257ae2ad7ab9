/* vnet_hdr.c - see vnet_hdr.h. */
#include <string.h>

#include "netif.h"
#include "vnet_hdr.h"

void vnet_hdr_from_meta(const struct net_meta *m, struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (m->csum_blank) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = m->csum_start;
		h->csum_offset = m->csum_offset;
	} else if (m->data_validated) {
		h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (m->gso_type == XEN_NETIF_GSO_TYPE_TCPV4)
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	else if (m->gso_type == XEN_NETIF_GSO_TYPE_TCPV6)
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	if (h->gso_type) {
		h->gso_size = m->gso_size;
		h->hdr_len = m->hdr_len;
	}
}

int vnet_meta_from_hdr(const struct virtio_net_hdr *h, struct net_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->csum_blank = (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
	m->data_validated = (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) != 0;
	m->csum_start = h->csum_start;
	m->csum_offset = h->csum_offset;
	/* netif has no ECN bit: the segments keep what the headers say. */
	switch (h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		m->gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		m->gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
		break;
	default:
		return -1; /* UDP fragmentation offload: netif has none */
	}
	if (!h->gso_size)
		return -1;
	m->gso_size = h->gso_size;
	m->hdr_len = h->hdr_len;
	return 0;
}
