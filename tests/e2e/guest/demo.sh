#!/bin/sh
# Guest side of demo.sh: a file system on the disk that blanketd serves, files written, the file
# system remounted and the files checked, then a short fio run.
set -eu
echo "== /dev/xvda: $(($(cat /sys/block/xvda/size) / 2048)) MiB, $(ls /sys/block/xvda/mq | wc -l) queue(s)"
dmesg | grep 'blkfront: xvda' || true
mke2fs /dev/xvda >/dev/null
mkdir -p /mnt
mount -t ext4 /dev/xvda /mnt
for i in 1 2 3 4; do
    dd if=/dev/urandom of=/mnt/file$i bs=1M count=8 2>/dev/null
done
md5sum /mnt/file* >/tmp/sums
umount /mnt
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 /dev/xvda /mnt
echo "== files after remount:"
md5sum -c /tmp/sums
df -h /mnt | tail -n1
umount /mnt
echo "== fio, 10 s of 4 KiB random read/write, QD16"
fio --name=demo --filename=/dev/xvda --ioengine=libaio --direct=1 --rw=randrw --bs=4k --iodepth=16 \
    --time_based --runtime=10 --offset=64m --size=64m 2>&1 | grep -E 'IOPS|lat \(usec\): min'
