#!/bin/sh
# Guest side of demo.sh: a file system on the disk that blanketd serves, files written, the file
# system remounted and the files checked, then a short fio run; then the network that blanketd
# serves: a file fetched over HTTP from dom0 (dom0/demo-httpd.sh), over IPv4 and IPv6, and checked.
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

echo "== network: eth0 $(cat /sys/class/net/eth0/address 2>/dev/null || echo absent), $GUEST_IP and $GUEST_IP6, mtu $MTU"
if [ "$E2E_NET" != 1 ]; then
    echo "no vif: the backend serves none (see dom0's vif-backend line)"
    exit 1
fi
ping -c 3 -w 10 "$DOM0_IP" | tail -n 2
# dom0's httpd may still be making its file.
deadline=$(($(date +%s) + 30))
until timeout 5 wget -q -O /tmp/blob.md5 "http://$DOM0_IP/blob.md5" 2>/dev/null; do
    [ "$(date +%s)" -lt $deadline ] || { echo "no answer from httpd on $DOM0_IP in 30 s"; exit 1; }
    sleep 1
done
for url in "http://$DOM0_IP/blob" "http://[$DOM0_IP6]/blob"; do
    t0=$(cut -d' ' -f1 /proc/uptime)
    # Bounded: a data path that stalls fails the demo instead of hanging it. (Not wget -T: the
    # busybox 1.35 of bookworm segfaults with it.)
    timeout 60 wget -q -O /tmp/blob "$url" || { echo "$url: no complete transfer in 60 s"; exit 1; }
    t1=$(cut -d' ' -f1 /proc/uptime)
    got=$(md5sum </tmp/blob | cut -d' ' -f1)
    echo "$url: $(wc -c </tmp/blob) bytes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, md5 $got $([ "$got" = "$(cat /tmp/blob.md5)" ] && echo "(matches dom0's)" || echo "(dom0's is $(cat /tmp/blob.md5): MISMATCH)")"
    [ "$got" = "$(cat /tmp/blob.md5)" ]
    rm -f /tmp/blob
done
