#!/bin/bash
# make demo: the nested stack (QEMU -> Xen 4.17 -> dom0 running blanketd -> a PV guest) with the guest
# making a file system on its blanketd-served disk and doing I/O; dom0 prints blanketctl stats.
# Extra arguments go to run.sh (e.g. --backend blkback to see the same with the kernel's backend).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/run.sh" --backend blanketd --guest-script "$here/guest/demo.sh" "$@"
