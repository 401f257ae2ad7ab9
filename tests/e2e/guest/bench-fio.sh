#!/bin/sh
# Guest side of bench.sh: four fio jobs on /dev/xvda (libaio, O_DIRECT), one "BENCH <job> <IOPS> <MB/s>"
# line each. Two fio jobs per workload (2 vCPUs, so both blkfront queues carry I/O); the queue depth
# is split between them. The first job also fills the sparse disk, so the reads hit written blocks.
# Seconds per job: e2e.bench_seconds= on the kernel command line (default 15).
set -eu
secs=$(sed -n 's/.*e2e\.bench_seconds=\([0-9]*\).*/\1/p' /proc/cmdline)
secs=${secs:-15}
grep . /sys/block/xvda/mq/*/nr_tags 2>/dev/null | sed 's|/sys/block/||' || true
# Interrupts blkfront took so far (every CPU, every queue): what a backend's notifications cost the guest.
blkif_irqs() { awk '/blkif/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' /proc/interrupts; }
# name rw bs total-iodepth
for job in seqwrite1m:write:1m:4 randread4k:randread:4k:32 randwrite4k:randwrite:4k:32 seqread1m:read:1m:4; do
    IFS=: read -r name rw bs qd <<EOF2
$job
EOF2
    irq0=$(blkif_irqs)
    echo "E2E-MARK begin $name"
    fio --name="$name" --filename=/dev/xvda --ioengine=libaio --direct=1 --rw="$rw" --bs="$bs" \
        --numjobs=2 --iodepth=$((qd / 2)) --group_reporting --time_based --runtime="$secs" \
        --output-format=terse --terse-version=3 >/tmp/fio.out 2>/tmp/fio.err ||
        { cat /tmp/fio.out /tmp/fio.err; exit 1; }
    echo "E2E-MARK end $name"
    echo "BENCH-IRQ $name $(($(blkif_irqs) - irq0))"
    # terse v3: 6/7/8 read total KiB, KiB/s, IOPS; 47/48/49 the same for writes.
    # "BENCH job IOPS MB/s requests" (dom0 prints the job's CPU seconds as E2E-CPU).
    awk -F';' -v n="$name" -v bs="$bs" '$1 == 3 {
        if ($8 + 0 > 0) { iops = $8; kb = $7; tot = $6 } else { iops = $49; kb = $48; tot = $47 }
        printf "BENCH %s %d %.1f %d\n", n, iops, kb / 1024, tot / (bs == "4k" ? 4 : 1024) }' /tmp/fio.out
done
