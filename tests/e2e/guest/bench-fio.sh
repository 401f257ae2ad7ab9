#!/bin/sh
# Guest side of bench.sh: four fio jobs on /dev/xvda (libaio, O_DIRECT), one "BENCH <job> <IOPS> <MB/s>"
# line each. Two fio jobs per workload (2 vCPUs, so both blkfront queues carry I/O); the queue depth
# is split between them. The first job also fills the sparse disk, so the reads hit written blocks.
# Seconds per job: e2e.bench_seconds= on the kernel command line (default 15).
set -eu
secs=$(sed -n 's/.*e2e\.bench_seconds=\([0-9]*\).*/\1/p' /proc/cmdline)
secs=${secs:-15}
grep . /sys/block/xvda/mq/*/nr_tags 2>/dev/null | sed 's|/sys/block/||' || true
# name rw bs total-iodepth
for job in seqwrite1m:write:1m:4 randread4k:randread:4k:32 randwrite4k:randwrite:4k:32 seqread1m:read:1m:4; do
    IFS=: read -r name rw bs qd <<EOF2
$job
EOF2
    fio --name="$name" --filename=/dev/xvda --ioengine=libaio --direct=1 --rw="$rw" --bs="$bs" \
        --numjobs=2 --iodepth=$((qd / 2)) --group_reporting --time_based --runtime="$secs" \
        --ramp_time=2 --output-format=terse --terse-version=3 >/tmp/fio.out 2>/tmp/fio.err ||
        { cat /tmp/fio.out /tmp/fio.err; exit 1; }
    # terse v3: 7/8 read KiB/s / IOPS, 48/49 write KiB/s / IOPS
    awk -F';' -v n="$name" '$1 == 3 {
        if ($8 + 0 > 0) { iops = $8; kb = $7 } else { iops = $49; kb = $48 }
        printf "BENCH %s %d %.1f\n", n, iops, kb / 1024 }' /tmp/fio.out
done
