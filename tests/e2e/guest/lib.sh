# Helpers for the guest-side scenario scripts (sourced as /e2e/guest/lib.sh).
. /e2e/common.sh

# result PASS|FAIL NAME [DETAIL]: dom0 collects these lines from the guest console log.
# FAILs are counted so the script can exit non-zero.
result() {
    echo "E2E-RESULT $1 $2${3:+ $3}"
    [ "$1" = PASS ] || echo "$2" >>/tmp/e2e-failed
}
failures() { [ -f /tmp/e2e-failed ] && wc -l </tmp/e2e-failed || echo 0; }

# Field N of /sys/block/DEV/stat (12: discards completed, 16: flushes completed).
blkstat() { awk -v n="$2" '{ print $n }' "/sys/block/$1/stat"; }

# Write pattern TAG (MIB MiB) at OFFSET MiB of DEV with O_DIRECT, and make it durable.
write_pattern() {
    pattern "$2" "$4" | dd of="$1" bs=1M seek="$3" iflag=fullblock oflag=direct conv=fsync 2>/tmp/dd.err
}

# fio with terse output; prints "<name>: read <iops> IOPS <MB/s> MB/s, write ..." or the errors.
# Terse v3 fields: 3 jobname, 7/8 read KiB/s/IOPS, 48/49 write KiB/s/IOPS. fio also prints warnings
# on stdout: only lines starting with the terse version are results.
fio_run() {
    name=$1; shift
    if fio --name="$name" --output-format=terse --terse-version=3 --group_reporting "$@" \
            >/tmp/fio.out 2>/tmp/fio.err; then
        awk -F';' '$1 == 3 { printf "fio %s: read %d IOPS %.1f MB/s, write %d IOPS %.1f MB/s\n",
                     $3, $8, $7 / 1024, $49, $48 / 1024 }' /tmp/fio.out
        return 0
    fi
    cat /tmp/fio.out /tmp/fio.err
    return 1
}
