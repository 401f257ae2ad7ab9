#!/bin/bash
# make demo: the nested stack (QEMU -> Xen 4.17 -> dom0 running blanketd -> a PV guest) with the guest
# making a file system on its blanketd-served disk and doing I/O, then fetching a file over HTTP
# from dom0 (busybox httpd, dom0/demo-httpd.sh) through its blanketd-served vif; dom0 prints
# blanketctl stats. The disk is QEMU's (L0) virtio-blk, which blanketd drives through kshim: the
# guest's pages go to the device's DMA, no copy in dom0 (blanketctl's "copies 0"); the vif's uplink
# is QEMU's virtio-net, also through kshim, on the same QEMU hub as dom0's own NIC (10.0.0.1).
# Extra arguments go to run.sh (a later --backend wins: --backend blanketd for image files on dom0
# and a TAP uplink, --backend kernel for blkback and netback).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/run.sh" --backend blanketd-kshim --guest-script "$here/guest/demo.sh" \
    --dom0-script "$here/dom0/demo-httpd.sh" "$@"
