#!/bin/bash
# make demo: the nested stack (QEMU -> Xen 4.17 -> dom0 running blanketd -> a PV guest) with the guest
# making a file system on its blanketd-served disk and doing I/O; dom0 prints blanketctl stats. The
# disk is QEMU's (L0) virtio-blk, which blanketd drives through kshim: the guest's pages go to the
# device's DMA, no copy in dom0 (blanketctl's "copies 0"). Extra arguments go to run.sh (a later
# --backend wins: --backend blanketd for image files on dom0, --backend blkback for the kernel's).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/run.sh" --backend blanketd-kshim --guest-script "$here/guest/demo.sh" "$@"
