/*
 * vnet_hdr.h - netif offload state <-> struct virtio_net_hdr, for both
 * network uplinks: the TAP device's IFF_VNET_HDR header and the L0
 * virtio-net device's header (kshim) share its first 10 bytes, so one
 * translation keeps GSO and partial checksums identical on both paths.
 */
#ifndef BLANKETD_VNET_HDR_H
#define BLANKETD_VNET_HDR_H

#include <linux/virtio_net.h>

#include "uplink.h"

/* netif's offload state as a virtio_net_hdr (host byte order). */
void vnet_hdr_from_meta(const struct net_meta *m, struct virtio_net_hdr *h);
/* And back; -1 for what netif cannot carry (UDP GSO, GSO without a size). */
int vnet_meta_from_hdr(const struct virtio_net_hdr *h, struct net_meta *m);

#endif
