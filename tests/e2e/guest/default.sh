#!/bin/sh
# The default scenarios in every guest (dom0 boots all guests twice, phases 1 and 2): guest 1 runs
# the disk scenarios of its phase (default-1.sh, default-2.sh) while every guest, guest 1 included,
# runs the network scenarios (net.sh). Exits non-zero if either did.
set -u
disk_pid=""
if [ "$GUEST_INDEX" = 1 ]; then
    sh "/e2e/guest/default-$E2E_PHASE.sh" &
    disk_pid=$!
fi
rc=0
sh /e2e/guest/net.sh || rc=1
if [ -n "$disk_pid" ]; then
    wait "$disk_pid" || rc=1
fi
exit $rc
