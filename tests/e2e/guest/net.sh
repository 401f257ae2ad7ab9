#!/bin/sh
# Default network scenarios, run in every guest of both default phases (default.sh starts it).
# dom0 serves net-serve.sh's sink, source and barrier on 10.0.0.1 / fd00::1; every guest serves a
# sink. Scenario names carry the guest (gI); phase 2 (new domains after xl destroy, MTU 9000 unless
# --mtu says otherwise) prefixes them with "mtuMTU-".
#   net-up-gI        eth0 has the vif's MAC 00:16:3e:00:00:0I, the MTU, carrier and its addresses
#   net-queues-gI    netfront uses min(xen_netfront.max_queues, vCPUs) queues (when the parameter is given)
#   ping-gI          dom0 and every peer answer over IPv4 and IPv6 (phase 2: frames of the full MTU)
#   tcp4-gI-to-dom0 ... TCP transfers of NET_MIB MiB of random data (e2e.netmib, default 32), md5
#                    checked by the receiver: to dom0, from dom0, to the next guest; IPv4 and IPv6
#   reconnect-net-gI (phase 2) the new domain's vif passes traffic to dom0 at once
set -u
E2E_FAILED=/tmp/e2e-net-failed
. /e2e/guest/lib.sh
g=g$GUEST_INDEX
[ "$E2E_NET" != off ] || exit 0   # run.sh --net off
if [ "$E2E_NET" != 1 ]; then
    result FAIL "net-$g" "vif backend not available: dom0 created this guest without a vif"
    exit 1
fi
mib=$(sed -n 's/.*e2e\.netmib=\([0-9]*\).*/\1/p' /proc/cmdline)
mib=${mib:-32}
pre=""
[ "$E2E_PHASE" = 1 ] || pre="mtu$MTU-"

# Our sink first (peers may already be sending), then the data we send.
mkdir -p /tmp/net
net_services sink /tmp/net/src /tmp/net
net_source_file /tmp/net/src "$mib"

# ping_wait HOST SIZE: up to 60 s for a first answer (a peer may still be booting), then 3 more.
ping_wait() {
    p=ping
    case "$1" in *:*) p=ping6 ;; esac
    deadline=$(($(date +%s) + 60))
    until $p -c 1 -w 2 -s "$2" "$1" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt $deadline ] || return 1
    done
    $p -c 3 -w 10 -s "$2" "$1" >/tmp/ping.out 2>&1
}

# --- the interface --------------------------------------------------------------------------------
mac=$(cat /sys/class/net/eth0/address 2>/dev/null)
want_mac=$(guest_mac "$GUEST_INDEX")
addrs=$(ip addr show dev eth0 2>/dev/null)
mtu=$(cat /sys/class/net/eth0/mtu 2>/dev/null)
carrier=$(cat /sys/class/net/eth0/carrier 2>/dev/null)
why=""
[ "$mac" = "$want_mac" ] || why="$why mac ${mac:-none} (want $want_mac)"
[ "$mtu" = "$MTU" ] || why="$why mtu ${mtu:-none} (want $MTU)"
[ "$carrier" = 1 ] || why="$why no carrier"
echo "$addrs" | grep -q "inet $GUEST_IP/24" || why="$why no $GUEST_IP/24"
echo "$addrs" | grep -q "inet6 $GUEST_IP6/64" || why="$why no $GUEST_IP6/64"
if [ -z "$why" ]; then result PASS "${pre}net-up-$g" "$mac mtu $mtu $GUEST_IP $GUEST_IP6"
else result FAIL "${pre}net-up-$g" "$why"; fi

want=$(sed -n 's/.*xen_netfront\.max_queues=\([0-9]*\).*/\1/p' /proc/cmdline)
got=$(ls -d /sys/class/net/eth0/queues/tx-* 2>/dev/null | wc -l)
if [ -n "$want" ]; then
    [ "$want" -le "$(nproc)" ] || want=$(nproc)
    if [ "$got" -eq "$want" ]; then result PASS "${pre}net-queues-$g" "$got queues"
    else result FAIL "${pre}net-queues-$g" "$got queues, expected $want"; fi
fi

# --- reachability ---------------------------------------------------------------------------------
# Phase 1 pings with the default size; with a larger MTU, with frames of the full MTU (busybox ping
# has no "don't fragment", but the sender's MTU is the path's: a smaller hop drops the frame).
s4=56 s6=56
[ "$MTU" -le 1500 ] || { s4=$((MTU - 28)); s6=$((MTU - 48)); }
if [ "$E2E_PHASE" != 1 ]; then
    t0=$(uptime_s)
    if ping_wait "$DOM0_IP" 56; then
        result PASS "reconnect-net-$g" "dom0 answers $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }') s into the script"
    else result FAIL "reconnect-net-$g" "no answer from dom0 ($DOM0_IP) in 60 s"; fi
fi
bad=""
for h in $DOM0_IP $DOM0_IP6 $PEER_IPS $PEER_IP6S; do
    case "$h" in *:*) s=$s6 ;; *) s=$s4 ;; esac
    ping_wait "$h" "$s" || bad="$bad $h"
done
if [ -z "$bad" ]; then result PASS "${pre}ping-$g" "dom0 and ${GUEST_COUNT} guest(s), v4 ${s4} v6 ${s6} bytes"
else result FAIL "${pre}ping-$g" "no answer from$bad (${s4}/${s6} bytes)"; fi

# --- TCP transfers with content checks ------------------------------------------------------------
# xfer NAME to|from HOST KIND: one transfer, one scenario. After a transfer that stalled (45 s),
# the phase's other transfers of the same KIND (to-dom0, from-dom0, to-peer) are not tried (each
# would cost as much): they fail at once, and the other kinds still run.
xfer() {
    eval "st=\${stalled_$4:-}"
    if [ -n "$st" ]; then
        result FAIL "$pre$1" "not tried: $st stalled"
        return
    fi
    if [ "$2" = to ]; then r=$(net_to "$3" /tmp/net/src); else r=$(net_from "$3"); fi
    case "$r" in
    ok*) result PASS "$pre$1" "$mib MiB, ${r#ok } MB/s" ;;
    *) result FAIL "$pre$1" "${r#FAIL }"
       case "$r" in *"after $NET_XFER_TIMEOUT s"*) eval "stalled_$4=\$pre\$1" ;; esac ;;
    esac
}
# The next guest (1 -> 2 -> ... -> N -> 1) receives from us.
peer=""
if [ "$GUEST_COUNT" -gt 1 ]; then
    peer=$((GUEST_INDEX % GUEST_COUNT + 1))
fi
if [ "$E2E_PHASE" = 1 ]; then
    xfer "tcp4-$g-to-dom0" to "$DOM0_IP" to_dom0
    xfer "tcp6-$g-to-dom0" to "$DOM0_IP6" to_dom0
    xfer "tcp4-dom0-to-$g" from "$DOM0_IP" from_dom0
    xfer "tcp6-dom0-to-$g" from "$DOM0_IP6" from_dom0
    if [ -n "$peer" ]; then
        xfer "tcp4-$g-to-g$peer" to "$(guest_ip4 $peer)" to_peer
        xfer "tcp6-$g-to-g$peer" to "$(guest_ip6 $peer)" to_peer
    fi
else
    xfer "tcp4-$g-to-dom0" to "$DOM0_IP" to_dom0
    xfer "tcp6-dom0-to-$g" from "$DOM0_IP6" from_dom0
    [ -z "$peer" ] || xfer "tcp4-$g-to-g$peer" to "$(guest_ip4 $peer)" to_peer
fi
st=/sys/class/net/eth0/statistics
echo "eth0: rx $(cat $st/rx_packets) packets $(cat $st/rx_bytes) bytes $(cat $st/rx_errors) errors" \
    "$(cat $st/rx_dropped) dropped, tx $(cat $st/tx_packets) packets $(cat $st/tx_bytes) bytes" \
    "$(cat $st/tx_errors) errors $(cat $st/tx_dropped) dropped"

# Stay (and serve our sink) until every guest is done with this phase.
net_barrier "$DOM0_IP" "$E2E_PHASE" "$GUEST_INDEX" "$GUEST_COUNT" || true
exit "$(failures)"
