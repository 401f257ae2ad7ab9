# Shared by dom0 and the guest (both source it as /e2e/common.sh; both run the same busybox, so the
# same call yields the same bytes on both sides).

# pattern TAG MIB: MIB MiB of deterministic, non-repeating data ("TAG-1\nTAG-2\n..."). 200000 lines
# per MiB are always more than a MiB, head cuts at the exact size.
pattern() {
    seq 1 $(($2 * 200000)) | sed "s/^/$1-/" | head -c $(($2 * 1048576))
}

# md5 of a pattern, and of MIB MiB of zeros
pattern_md5() { pattern "$1" "$2" | md5sum | cut -d' ' -f1; }
zero_md5() { dd if=/dev/zero bs=1M count="$1" 2>/dev/null | md5sum | cut -d' ' -f1; }

# md5 of MIB MiB of FILE at OFFSET (MiB); extra dd flags (iflag=direct) in $4
region_md5() {
    dd if="$1" bs=1M skip="$2" count="$3" ${4:-} 2>/dev/null | md5sum | cut -d' ' -f1
}

# --- network scenarios (dom0 and guests) ----------------------------------------------------------
# Addresses: dom0 10.0.0.1 and fd00::1, guest i 10.0.0.(1+i) and fd00::(1+i) (decimal digits), MAC
# 00:16:3e:00:00:ii (i in hex). TCP services of net-serve.sh: sink 5001, source 5002, barrier 5003.
NET_SINK_PORT=5001
NET_SOURCE_PORT=5002
NET_BARRIER_PORT=5003
guest_ip4() { echo "10.0.0.$((1 + $1))"; }
guest_ip6() { echo "fd00::$((1 + $1))"; }
guest_mac() { printf '00:16:3e:00:00:%02x\n' "$1"; }

# net_source_file FILE MIB: MIB MiB of random data in FILE, its md5 in FILE.md5 (written last:
# the source service waits for it).
net_source_file() {
    dd if=/dev/urandom of="$1.tmp" bs=1M count="$2" 2>/dev/null && mv "$1.tmp" "$1" &&
        md5sum <"$1" | cut -d' ' -f1 >"$1.md5.tmp" && mv "$1.md5.tmp" "$1.md5"
}

# net_services KINDS SRC STATE: start net-serve.sh services in the background (KINDS: some of sink,
# source, barrier); SRC is the source service's file, STATE a directory for the barrier.
net_services() {
    for kind in $1; do
        case $kind in
        sink) port=$NET_SINK_PORT ;; source) port=$NET_SOURCE_PORT ;; barrier) port=$NET_BARRIER_PORT ;;
        esac
        NET_SRC=$2 NET_STATE=$3 nc -ll -p $port -e /e2e/net-serve.sh $kind </dev/null >/dev/null 2>&1 &
    done
}
