# Helpers for the guest-side scenario scripts (sourced as /e2e/guest/lib.sh).
. /e2e/common.sh

# result PASS|FAIL NAME [DETAIL]: dom0 collects these lines from the guest console log.
# FAILs are counted (in $E2E_FAILED) so the script can exit non-zero.
result() {
    echo "E2E-RESULT $1 $2${3:+ $3}"
    [ "$1" = PASS ] || echo "$2" >>"${E2E_FAILED:-/tmp/e2e-failed}"
}
failures() { [ -f "${E2E_FAILED:-/tmp/e2e-failed}" ] && wc -l <"${E2E_FAILED:-/tmp/e2e-failed}" || echo 0; }

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

# --- network (the services are net-serve.sh's, see common.sh) -------------------------------------
# One transfer may take this long (32 MiB need ~1-10 s under emulation): a stalled backend costs
# a bounded time per scenario, and the run goes on.
NET_XFER_TIMEOUT=45
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# MB/s for BYTES moved since uptime T0
rate() { awk -v b="$1" -v t0="$2" -v t1="$(uptime_s)" 'BEGIN { d = t1 - t0; if (d <= 0) d = 0.01; printf "%.1f", b / d / 1e6 }'; }

# net_to HOST FILE: send FILE (made by net_source_file: FILE.md5 has its md5) to HOST's sink;
# prints "ok <MB/s>" or "FAIL <why>". Retried while the service is not listening yet (the peer may
# still be booting), up to 60 s.
net_to() {
    size=$(wc -c <"$2")
    want=$(cat "$2.md5")
    deadline=$(($(date +%s) + 60))
    while :; do
        rm -f /tmp/net.reply
        t0=$(uptime_s)
        timeout $NET_XFER_TIMEOUT nc "$1" $NET_SINK_PORT -e /e2e/net-serve.sh send "$2" /tmp/net.reply 2>/tmp/nc.err
        rc=$?
        [ ! -s /tmp/net.reply ] && grep -q "can't connect" /tmp/nc.err && [ "$(date +%s)" -lt $deadline ] ||
            break
        sleep 1
    done
    reply=$(cat /tmp/net.reply 2>/dev/null)
    if [ "$reply" = "got $want" ]; then echo "ok $(rate "$size" "$t0")"
    elif [ $rc = 143 ]; then echo "FAIL $size bytes not through after $NET_XFER_TIMEOUT s (stalled, or under 0.7 MB/s)"
    else echo "FAIL sent $size bytes md5 $want, sink answered '${reply:-nothing}' $(head -c 200 /tmp/nc.err)"; fi
}

# net_from HOST: fetch HOST's source; prints "ok <MB/s>" or "FAIL <why>".
net_from() {
    deadline=$(($(date +%s) + 60))
    while :; do
        rm -f /tmp/net.reply
        t0=$(uptime_s)
        timeout $NET_XFER_TIMEOUT nc "$1" $NET_SOURCE_PORT -e /e2e/net-serve.sh fetch /tmp/net.reply 2>/tmp/nc.err
        rc=$?
        [ ! -s /tmp/net.reply ] && grep -q "can't connect" /tmp/nc.err && [ "$(date +%s)" -lt $deadline ] ||
            break
        sleep 1
    done
    set -- $(cat /tmp/net.reply 2>/dev/null)
    if [ $# = 3 ] && [ "$1" = "$3" ]; then echo "ok $(rate "$2" "$t0")"
    elif [ $rc = 143 ]; then echo "FAIL not all received after $NET_XFER_TIMEOUT s (stalled, or under 0.7 MB/s)"
    else echo "FAIL source said '${1:-} ${2:-}', received md5 ${3:-none} $(head -c 200 /tmp/nc.err)"; fi
}

# net_barrier HOST PHASE INDEX COUNT: tell HOST's barrier that INDEX is done with PHASE, wait until
# COUNT indexes are (at most 120 s). Keeps this guest (and its services) up while peers still use them.
net_barrier() {
    deadline=$(($(date +%s) + 120))
    while [ "$(date +%s)" -lt $deadline ]; do
        n=$(echo "$2 $3" | timeout 10 nc "$1" $NET_BARRIER_PORT 2>/dev/null)
        [ "${n:-0}" -lt "$4" ] || return 0
        sleep 1
    done
    echo "E2E-GUEST: barrier $2: peers not done after 120 s"
    return 1
}
