/* uplink_tap.h - the TAP uplink's header translation, for tests. */
#ifndef BLANKETD_UPLINK_TAP_H
#define BLANKETD_UPLINK_TAP_H

#include <linux/virtio_net.h>

#include "uplink.h"

/* netif's offload state as the virtio_net_hdr a TAP device takes. */
void uplink_tap_hdr_from_meta(const struct net_meta *m, struct virtio_net_hdr *h);
/* And back; -1 for what netif cannot carry (UDP GSO, GSO without a size). */
int uplink_tap_meta_from_hdr(const struct virtio_net_hdr *h, struct net_meta *m);

#endif
