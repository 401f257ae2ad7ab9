#!/bin/sh
# Default scenarios, second guest boot (a new domain on the same disk after xl destroy): the disk
# reconnects, data written and flushed in the first boot is there, and I/O works again.
set -eu
. /e2e/guest/lib.sh
dev=/dev/xvda

if [ "$(region_md5 $dev 120 1 iflag=direct)" = "$(pattern_md5 persist 1)" ]; then
    result PASS reconnect-persist
else result FAIL reconnect-persist "data written before xl destroy is not there"; fi
if fio_run reio --filename=$dev --ioengine=libaio --direct=1 --rw=randrw --bs=4k --iodepth=8 \
        --offset=140m --size=8m --verify=crc32c --do_verify=1 --verify_fatal=1; then
    result PASS reconnect-io
else result FAIL reconnect-io; fi

exit "$(failures)"
