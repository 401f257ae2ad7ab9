#!/bin/sh
# Default scenarios, first guest boot: multi-queue, verified fio I/O, flush, discard, read-only disk,
# and the writes that dom0 and the second boot check later (persistence, backing file).
# Disk layout of /dev/xvda (160 MiB), in MiB: 0-32 rand4k, 32-96 seq1m, 96 flush, 100-104 discard,
# 120 persist, 130 backing. /dev/xvdb is read-only and holds `pattern ro 4` from dom0.
set -eu
. /e2e/guest/lib.sh
dev=/dev/xvda

# Multi-queue: blkfront takes min(backend's multi-queue-max-queues, vCPUs, max_queues).
want=$(sed -n 's/.*xen_blkfront\.max_queues=\([0-9]*\).*/\1/p' /proc/cmdline)
got=$(ls /sys/block/xvda/mq | wc -l)
dmesg | grep 'blkfront: xvd' || true
if [ -n "$want" ]; then
    [ "$want" -le "$(nproc)" ] || want=$(nproc)
    if [ "$got" -eq "$want" ]; then result PASS multiqueue "$got queues"
    else result FAIL multiqueue "$got queues, expected $want"; fi
fi

# (a) verified I/O: random 4 KiB from several jobs (libaio), 1 MiB sequential (io_uring; spans
# indirect segments). fio writes the region, then reads it back and checks crc32c of every block.
if fio_run rand4k --filename=$dev --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
        --numjobs=4 --size=8m --offset_increment=8m --verify=crc32c --do_verify=1 --verify_fatal=1; then
    result PASS fio-rand4k-verify
else result FAIL fio-rand4k-verify; fi
if fio_run seq1m --filename=$dev --ioengine=io_uring --direct=1 --rw=write --bs=1m --iodepth=4 \
        --offset=32m --size=64m --verify=crc32c --do_verify=1 --verify_fatal=1; then
    result PASS fio-seq1m-verify
else result FAIL fio-seq1m-verify; fi

# (b) flush: fsync on the block device must reach the backend as cache flushes.
wc=$(cat /sys/block/xvda/queue/write_cache)
f0=$(blkstat xvda 16)
if fio_run flush --filename=$dev --ioengine=sync --direct=1 --rw=write --bs=4k --offset=96m --size=1m \
        --fsync=1; then
    f1=$(blkstat xvda 16)
    if [ "$wc" = "write back" ] && [ "$f1" -gt "$f0" ]; then result PASS flush "$((f1 - f0)) flushes"
    else result FAIL flush "write_cache=$wc flushes $f0 -> $f1"; fi
else result FAIL flush "fio failed"; fi

# (c) discard: the guest must see discard support; a discarded range reads back as zeros.
max=$(cat /sys/block/xvda/queue/discard_max_bytes)
if [ "$max" -eq 0 ]; then
    result FAIL discard "discard_max_bytes=0: backend offers no discard"
elif ! write_pattern $dev disc 100 4 || [ "$(region_md5 $dev 100 4 iflag=direct)" != "$(pattern_md5 disc 4)" ]; then
    result FAIL discard "pattern write/readback failed: $(cat /tmp/dd.err)"
else
    d0=$(blkstat xvda 12)
    if ! blkdiscard -o $((100 * 1048576)) -l $((4 * 1048576)) $dev; then
        result FAIL discard "blkdiscard failed"
    elif [ "$(region_md5 $dev 100 4 iflag=direct)" != "$(zero_md5 4)" ]; then
        result FAIL discard "discarded range does not read back as zeros"
    else
        result PASS discard "max=$max discards=$(($(blkstat xvda 12) - d0))"
    fi
fi

# (d) read-only disk: writes are refused, reads return dom0's pattern.
if [ ! -b /dev/xvdb ]; then
    result FAIL readonly "no /dev/xvdb"
elif dd if=/dev/zero of=/dev/xvdb bs=4k count=1 oflag=direct conv=fsync 2>/tmp/ro.err; then
    result FAIL readonly "a write to the read-only disk succeeded"
elif [ "$(region_md5 /dev/xvdb 0 4 iflag=direct)" != "$(pattern_md5 ro 4)" ]; then
    result FAIL readonly "read-back differs from dom0's pattern"
else
    result PASS readonly "ro=$(cat /sys/block/xvdb/ro), write refused: $(grep -m1 '^dd:' /tmp/ro.err)"
fi

# (e) part 1: data for the second boot (after xl destroy); (f) part 1: data dom0 checks in the file.
for tag_off in persist:120 backing:130; do
    tag=${tag_off%:*}; off=${tag_off#*:}
    if write_pattern $dev "$tag" "$off" 1; then
        echo "E2E-MD5 $tag $(region_md5 $dev "$off" 1 iflag=direct)"
    else result FAIL "$tag-write" "$(cat /tmp/dd.err)"; fi
done

exit "$(failures)"
