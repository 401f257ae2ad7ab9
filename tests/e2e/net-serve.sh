#!/bin/sh
# Both ends of the network scenarios' TCP transfers, in dom0 and in the guests. busybox nc runs it
# with the socket as stdin/stdout (-e), so the data moves in large reads and writes, not through
# nc's own small-buffer relay (which alone holds a PV guest to a few MB/s under emulation).
# Services (`nc -ll -p PORT -e /e2e/net-serve.sh KIND`, started by net_services in common.sh):
#   sink     reads "SIZE\n" and then SIZE bytes; answers "got MD5"
#   source   answers "MD5 SIZE\n" and then the file $NET_SRC (net_source_file made it and $NET_SRC.md5)
#   barrier  reads "PHASE INDEX", records it under $NET_STATE; answers how many indexes PHASE has
# Clients (`nc HOST PORT -e /e2e/net-serve.sh KIND ARGS`, used by guest/lib.sh):
#   send FILE OUT   sends "SIZE\n" and FILE to a sink, writes its answer to OUT
#   fetch OUT       reads a source: writes "MD5 SIZE RECEIVED-MD5" to OUT
PATH=/usr/sbin:/usr/bin:/sbin:/bin
case "${1:-}" in
sink)
    read -r size || exit 0
    case "$size" in '' | *[!0-9]*) echo "bad size '$size'"; exit 0 ;; esac
    # Exactly SIZE bytes (the client waits for the answer, it does not close): dd in full 64 KiB
    # blocks, then the rest (busybox head -c goes byte by byte, 20x slower under emulation).
    sum=$({ dd bs=65536 count=$((size / 65536)) iflag=fullblock 2>/dev/null
            [ $((size % 65536)) = 0 ] || dd bs=$((size % 65536)) count=1 iflag=fullblock 2>/dev/null
          } | md5sum | cut -d' ' -f1)
    echo "got $sum"
    ;;
source)
    i=0
    while [ ! -s "$NET_SRC.md5" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    echo "$(cat "$NET_SRC.md5") $(wc -c <"$NET_SRC")"
    cat "$NET_SRC"
    ;;
barrier)
    read -r phase index || exit 0
    mkdir -p "$NET_STATE/barrier-$phase"
    : >"$NET_STATE/barrier-$phase/$index"
    ls "$NET_STATE/barrier-$phase" | wc -l
    ;;
send)
    { wc -c <"$2"; cat "$2"; }
    read -r reply
    echo "$reply" >"$3"
    ;;
fetch)
    read -r md5 size
    echo "$md5 $size $(md5sum | cut -d' ' -f1)" >"$2"
    ;;
*)
    echo "net-serve.sh: unknown service '${1:-}'" >&2
    exit 1
    ;;
esac
