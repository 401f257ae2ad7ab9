#!/bin/sh
# Guest side of bench.sh's network part (run with --guests 2 --dom0-script dom0/bench-net.sh): iperf3
# TCP throughput with 1 and 4 streams and a 64-byte UDP packet rate, guest->dom0, dom0->guest
# (iperf3 -R) and guest->guest. Guest 1 measures; guest 2 serves and waits for guest 1's "done".
# One "BENCHNET <test> <value> <unit>" line per measurement. Seconds per test: e2e.bench_seconds=
# on the kernel command line (default 10).
set -u
secs=$(sed -n 's/.*e2e\.bench_seconds=\([0-9]*\).*/\1/p' /proc/cmdline)
secs=${secs:-10}
# e2e.bench_tests=NAME,NAME...: only those tests (ab.sh); all of them without it.
only=$(sed -n 's/.*e2e\.bench_tests=\([a-z0-9,-]*\).*/\1/p' /proc/cmdline)
port=5201

if [ "$GUEST_INDEX" != 1 ]; then
    iperf3 -s -p $port >/tmp/iperf3-server.log 2>&1 &
    # Until guest 1 says it is done (a file its last client run creates through the server's
    # control connection is not available: poll the peer's "done" port instead).
    nc -l -p 5299 >/dev/null 2>&1
    exit 0
fi

peer=${PEER_IPS%% *}
# wait_server HOST: up to 60 s for its iperf3 server
wait_server() {
    deadline=$(($(date +%s) + 60))
    until iperf3 -c "$1" -p $port -t 1 -P 1 >/dev/null 2>&1; do
        [ "$(date +%s)" -lt $deadline ] || return 1
        sleep 1
    done
}
want() { [ -z "$only" ] || case ",$only," in *",$1,"*) ;; *) return 1 ;; esac; }
# tcp NAME HOST STREAMS [-R]: receiver's Mbit/s
tcp() {
    want "$1" || return 0
    name=$1 host=$2 streams=$3; shift 3
    if iperf3 -c "$host" -p $port -t "$secs" -P "$streams" -f m "$@" >/tmp/iperf3.out 2>&1; then
        awk -v n="$name" '/receiver/ { r = $0 } END {
            split(r, f, " "); for (i = 1; i in f; i++) if (f[i] == "Mbits/sec") v = f[i - 1]
            printf "BENCHNET %s %s Mbit/s\n", n, v }' /tmp/iperf3.out
    else
        echo "BENCHNET-FAIL $name"; cat /tmp/iperf3.out; rc=1
    fi
}
# udp NAME HOST [-R]: 64-byte datagrams as fast as the sender can; packets/s the receiver got
udp() {
    want "$1" || return 0
    name=$1 host=$2; shift 2
    if iperf3 -c "$host" -p $port -t "$secs" -u -l 64 -b 0 -f m "$@" >/tmp/iperf3.out 2>&1; then
        # "... 0.012 ms  LOST/TOTAL (P%)  receiver"
        awk -v n="$name" -v s="$secs" '/receiver/ { r = $0 } END {
            split(r, f, " "); for (i = 1; i in f; i++) if (f[i] ~ /^[0-9]+\/[0-9]+$/) { split(f[i], lt, "/"); got = lt[2] - lt[1] }
            printf "BENCHNET %s %.0f pkt/s\n", n, got / s }' /tmp/iperf3.out
    else
        echo "BENCHNET-FAIL $name"; cat /tmp/iperf3.out; rc=1
    fi
}

rc=0
wait_server "$DOM0_IP" || { echo "BENCHNET-FAIL dom0 iperf3 server not reachable"; rc=1; }
wait_server "$peer" || { echo "BENCHNET-FAIL guest 2 iperf3 server not reachable"; rc=1; }
if [ $rc = 0 ]; then
    tcp tcp1-g2d "$DOM0_IP" 1
    tcp tcp4-g2d "$DOM0_IP" 4
    tcp tcp1-d2g "$DOM0_IP" 1 -R
    tcp tcp4-d2g "$DOM0_IP" 4 -R
    tcp tcp1-g2g "$peer" 1
    tcp tcp4-g2g "$peer" 4
    udp udp64-g2d "$DOM0_IP"
    udp udp64-d2g "$DOM0_IP" -R
    udp udp64-g2g "$peer"
fi
echo done | nc "$peer" 5299 2>/dev/null
exit $rc
