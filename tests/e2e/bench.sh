#!/bin/bash
# blanketd against the kernel's blkback and QEMU's qdisk on the nested test bed: the same fio jobs in
# the L2 guest (guest/bench-fio.sh: 4 KiB randread/randwrite QD32, 1 MiB seq read/write QD4, libaio,
# O_DIRECT, 2 blkfront queues), BENCH_ROUNDS rounds (default 1) rotating the backends' order, then a
# table of medians and the blanketd/blkback and blanketd/qdisk ratios per job. qdisk (run.sh
# --backend qdisk; BENCH_QDISK=0 leaves it out) always goes through dom0's page cache: Debian's
# qemu-system-xen has no Linux AIO, which its direct I/O needs. Three set-ups (BENCH_BACKING picks some):
#   direct  image file on dom0's /srv: blanketd O_DIRECT, blkback on a direct-I/O loop device
#   cached  the same through dom0's page cache (run.sh --backing cached)
#   l0      the guest's disk is QEMU's own (L0) virtio-blk (run.sh --disk l0): blanketd-kshim, the
#           guest's pages DMA'd by the device through kshim, against blkback on dom0's virtio_blk
#           driver (/dev/vdb as a phy device). Also shows blanketd's uplink copies per request.
# Under emulation the figures measure CPU per request (dom0 and guest share 2 emulated CPUs) and are
# noisy (~20% on 4 KiB randread): compare medians of >= 3 rounds before concluding. The disk tables
# add CPU per request, dom0 + guest, for each backend; "model" is the bd/bb ratio those predict
# (it tracks the measured one), "ceiling" the bd/bb ratio blanketd would reach if its dom0 side
# cost nothing: the guest's own CPU per request bounds every ratio.
#   BENCH_ROUNDS=3 BENCH_SECONDS=15 BENCH_BACKING="direct cached" tests/e2e/bench.sh
#
# Then the network (BENCH_NET picks some; "" for none), 2 guests, iperf3 (guest/bench-net.sh,
# dom0/bench-net.sh): TCP with 1 and 4 streams and 64-byte UDP packets per second, guest->dom0,
# dom0->guest and guest->guest, blanketd against netback + a Linux bridge:
#   tap     blanketd's TAP uplink against the bridge, both in dom0 (run.sh --net on)
#   l0      across L0 (run.sh --net l0): blanketd-kshim through the L0 virtio-net against the bridge
#           leaving by dom0's own virtio_net; dom0's address on a second NIC on the same QEMU hub
#           (no offloads: both sides segment and checksum in software)
#   l0off   the same with L0 NICs that offer checksum offload and TSO, as clouds' do (run.sh
#           --l0-offloads on: host TAPs with vnet headers): TSO frames cross L0 whole
# Each network summary ends with blanketd's uplink costs: frames out, grant map calls (one per loop
# pass for every guest's frames) and pages per call, bytes copied (frames small enough to go from the
# header copy, and the headers software GSO writes).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${BLANKET_E2E_CACHE:-$repo/build/e2e}
rounds=${BENCH_ROUNDS:-1}
secs=${BENCH_SECONDS:-15}
backends="blanketd blkback"
# Disks only: qdisk has no network backend.
disk_backends="blanketd blkback"
[ "${BENCH_QDISK:-1}" = 0 ] || disk_backends="$disk_backends qdisk"
backings=${BENCH_BACKING-direct cached l0}
nets=${BENCH_NET-tap l0 l0off}
out=$cache/bench
mkdir -p "$out"
results=$out/results-$(date +%Y%m%d-%H%M%S).txt
: >"$results"

failed=0
# rotate N WORDS...: the words rotated left N times, so no backend always runs first.
rotate() { local n=$1; shift; awk -v n="$n" '{ for (i = 0; i < NF; i++) printf "%s%s", $((i + n) % NF + 1), (i < NF - 1 ? " " : "\n") }' <<<"$*"; }
for r in $(seq 1 "$rounds"); do
    order=$(rotate $((r - 1)) $disk_backends)
    for k in $backings; do
        for b in $order; do
            # l0: the same columns, blanketd's being blanketd-kshim.
            be=$b setup=(--backing "$k")
            if [ "$k" = l0 ]; then
                setup=(--disk l0)
                [ "$b" != blanketd ] || be=blanketd-kshim
            fi
            echo "bench: round $r/$rounds, $be, $k"
            # --net off: disks only, as before the test bed had a network (no vif, no bridge or uplink).
            if ! "$here/run.sh" --backend "$be" "${setup[@]}" --net off --guest-script "$here/guest/bench-fio.sh" \
                    --guest-append "xen_blkfront.max_queues=2 e2e.bench_seconds=$secs" \
                    --timeout $((240 + 10 * secs)) | tee "$out/round$r-$b-$k.out"; then
                echo "bench: round $r with $b ($k) FAILED (log: $cache/logs/last.log)"
                failed=1
            fi
            sed -n "s/.*BENCH \([a-z0-9]*\) \([0-9.]*\) \([0-9.]*\).*/$b $r \1 \2 \3 $k/p" \
                "$out/round$r-$b-$k.out" >>"$results"
            # CPU per request: "cpu backend round job dom0-s guest-s requests backing guest-irqs"
            awk -v b="$b" -v r="$r" -v k="$k" '
                /E2E-CPU / { for (i = 1; i <= NF; i++) if ($i == "E2E-CPU") { d[$(i + 1)] = $(i + 2); g[$(i + 1)] = $(i + 3) } }
                /BENCH [a-z0-9]+ / { for (i = 1; i <= NF; i++) if ($i == "BENCH") n[$(i + 1)] = $(i + 4) }
                /BENCH-IRQ / { for (i = 1; i <= NF; i++) if ($i == "BENCH-IRQ") q[$(i + 1)] = $(i + 2) }
                END { for (j in n) if (j in d) print "cpu", b, r, j, d[j], g[j], n[j], k, q[j] + 0 }' \
                "$out/round$r-$b-$k.out" >>"$results"
            # blanketd's uplink of xvda: "uplink KIND: ops N errors N copies N (X per request)"
            sed -n "s/.*uplink \([a-z]*\): ops \([0-9]*\) .* copies \([0-9]*\) (\([0-9.]*\) per request).*/copies $b $r \1 \2 \3 \4 $k/p" \
                "$out/round$r-$b-$k.out" | tail -n 2 >>"$results"
        done
    done
done

for r in $(seq 1 "$rounds"); do
    order=$(rotate $((r - 1)) $backends)
    for k in $nets; do
        for b in $order; do
            be=$b net=on
            l0off=off
            case "$k" in
            l0 | l0off) net=l0; [ "$b" != blanketd ] || be=blanketd-kshim; [ "$k" = l0 ] || l0off=on ;;
            esac
            echo "bench: round $r/$rounds, network, $be, $k"
            if ! "$here/run.sh" --backend "$be" --net "$net" --l0-offloads $l0off --guests 2 --guest-script "$here/guest/bench-net.sh" \
                    --dom0-script "$here/dom0/bench-net.sh" --guest-append "e2e.bench_seconds=$secs" \
                    --timeout $((300 + 20 * secs)) | tee "$out/round$r-$b-net-$k.out"; then
                echo "bench: round $r with $b (network, $k) FAILED (log: $cache/logs/last.log)"
                failed=1
            fi
            # "net backend round test value unit setup"
            sed -n "s/.*BENCHNET \([a-z0-9-]*\) \([0-9.]*\) \([a-zA-Z/]*\).*/net $b $r \1 \2 \3 $k/p" \
                "$out/round$r-$b-net-$k.out" >>"$results"
            # blanketd's uplink, from its last stats: "netcost round setup frames-out pages map-calls
            # bytes-copied" (grant maps are per loop pass, for every guest's frames at once)
            if [ "$b" = blanketd ]; then
                f=$(sed -n 's/.*uplink [a-z-]*:[^:]*: tx \([0-9]*\) pkts.*/\1/p' "$out/round$r-$b-net-$k.out" | tail -n1)
                m=$(sed -n "s/.*guests' frames mapped: \([0-9]*\) pages in \([0-9]*\) calls[^)]*)  bytes copied \([0-9]*\).*/\1 \2 \3/p" \
                    "$out/round$r-$b-net-$k.out" | tail -n1)
                [ -z "$f" ] || [ -z "$m" ] || echo "netcost $r $k $f $m" >>"$results"
            fi
        done
    done
done

# awk's median() (median.awk), for both summaries below.
awk_median=$(cat "$here/median.awk")

echo
echo "bench: $rounds round(s), ${secs} s per job; raw figures in $results"
for k in $backings; do
    case $k in
    l0) echo "-- l0 disk: blanketd = blanketd-kshim (zero-copy to the L0 device), blkback = on dom0's virtio_blk" ;;
    *) echo "-- $k backing" ;;
    esac
    awk -v k="$k" '
    '"$awk_median"'
    function show(x) { return x < 0 ? "n/a" : sprintf("%.1f", x) }
    function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "n/a" }
    # lines: backend round job iops MBps backing
    $1 == "copies" { if ($8 == k) { ops[$4] += $5; copies[$4] += $6 }; next }
    # CPU microseconds per request, dom0 and guest (medians over rounds)
    $1 == "cpu" { if ($8 == k && $7 > 0) { key = $2 SUBSEP $4; cd[key, ++cn[key]] = 1e6 * $5 / $7
                  cg[key, cn[key]] = 1e6 * $6 / $7; ci[key, cn[key]] = $9 / $7 }; next }
    $6 == k { for (m = 4; m <= 5; m++) { key = $1 SUBSEP $3 SUBSEP m; v[key, ++n[key]] = $m } }
    END {
        split("blanketd blkback qdisk", be, " ")
        printf "%-12s %9s %9s %9s %9s %9s %9s %7s %7s\n", "job", "blanketd", "blkback", "qdisk",
            "blanketd", "blkback", "qdisk", "ratio", "ratio"
        printf "%-12s %9s %9s %9s %9s %9s %9s %7s %7s\n", "", "IOPS", "IOPS", "IOPS", "MB/s", "MB/s", "MB/s",
            "bd/bb", "bd/qd"
        split("randread4k randwrite4k seqread1m seqwrite1m", jobs, " ")
        for (i = 1; i <= 4; i++) {
            j = jobs[i]
            for (b = 1; b <= 3; b++) {
                io[b] = median(be[b] SUBSEP j SUBSEP 4); mb[b] = median(be[b] SUBSEP j SUBSEP 5)
            }
            printf "%-12s %9s %9s %9s %9s %9s %9s %7s %7s\n", j, show(io[1]), show(io[2]), show(io[3]),
                show(mb[1]), show(mb[2]), show(mb[3]), ratio(io[1], io[2]), ratio(io[1], io[3])
        }
        printf "CPU us per request, dom0 + guest (and guest interrupts per request):\n"
        printf "%-12s %-22s %-22s %-22s %7s %7s %7s\n", "", "blanketd", "blkback", "qdisk", "dom0", "model", "ceiling"
        printf "%-12s %-22s %-22s %-22s %7s %7s %7s\n", "", "", "", "", "bd/bb", "bd/bb", "bd/bb"
        for (i = 1; i <= 4; i++) {
            j = jobs[i]; line = ""
            for (b = 1; b <= 3; b++) {
                key = be[b] SUBSEP j
                for (m = 1; m <= cn[key]; m++) {
                    v["d" b, m] = cd[key, m]; v["g" b, m] = cg[key, m]; v["i" b, m] = ci[key, m]
                }
                n["d" b] = n["g" b] = n["i" b] = cn[key]
                dd[b] = median("d" b); gg[b] = median("g" b); ii[b] = median("i" b)
                line = line sprintf(" %-22s", dd[b] < 0 ? "n/a" : sprintf("%.0f+%.0f (%.2f)", dd[b], gg[b], ii[b]))
            }
            if (dd[1] < 0 && dd[2] < 0 && dd[3] < 0) continue
            # The whole test bed is CPU-bound (guest, dom0 and Xen share the emulated CPUs), so
            # throughput is about 1 / (CPU per request): "model" is the bd/bb ratio that predicts,
            # to check against the measured one, and "ceiling" the ratio blanketd would reach if
            # its dom0 side cost nothing (what the guest itself spends per request is the floor).
            printf "%-12s%s %7s %7s %7s\n", j, line, ratio(dd[1], dd[2]),
                ratio(dd[2] + gg[2], dd[1] + gg[1]), ratio(dd[2] + gg[2], gg[1])
        }
        for (u in ops)
            printf "blanketd uplink %s: %d requests, %d copies (%.2f per request)\n", u, ops[u], copies[u],
                ops[u] ? copies[u] / ops[u] : 0
    }' "$results"
done
[ -z "$backings" ] || echo "(medians over rounds; IOPS ratios: bd/bb = blanketd/blkback, bd/qd = blanketd/qdisk)"
for k in $nets; do
    case $k in
    l0) echo "-- network across L0: blanketd = blanketd-kshim (L0 virtio-net through kshim), kernel = netback + bridge over dom0's virtio_net" ;;
    l0off) echo "-- network across L0 NICs with offloads (TSO, csum): blanketd = blanketd-kshim, kernel = netback + bridge over dom0's virtio_net" ;;
    *) echo "-- network in dom0: blanketd = TAP uplink, kernel = netback + bridge" ;;
    esac
    awk -v k="$k" '
    '"$awk_median"'
    $1 == "net" && $7 == k { key = $2 SUBSEP $4; v[key, ++n[key]] = $5; unit[$4] = $6
                             byr[$2, $4, $3] = $5; if ($3 > nr) nr = $3 }
    $1 == "netcost" && $3 == k { frames += $4; pages += $5; calls += $6; copied += $7 }
    END {
        printf "%-12s %12s %12s %-8s %7s  %s\n", "test", "blanketd", "kernel", "", "ratio", "by round"
        split("tcp1-g2d tcp4-g2d tcp1-d2g tcp4-d2g tcp1-g2g tcp4-g2g udp64-g2d udp64-d2g udp64-g2g", t, " ")
        for (i = 1; i <= 9; i++) {
            a = median("blanketd" SUBSEP t[i]); b = median("blkback" SUBSEP t[i])
            if (a < 0 && b < 0) continue
            # the ratio of each round alone: how far the medians can be trusted
            rounds = ""
            for (r = 1; r <= nr; r++) {
                x = byr["blanketd", t[i], r]; y = byr["blkback", t[i], r]
                rounds = rounds sprintf(" %s", (x > 0 && y > 0) ? sprintf("%.2f", x / y) : "-")
            }
            printf "%-12s %12s %12s %-8s %7s %s\n", t[i], a < 0 ? "n/a" : a, b < 0 ? "n/a" : b, unit[t[i]],
                (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "n/a", rounds
        }
        if (calls > 0)
            printf "blanketd uplink: %.0f frames out, %.0f pages mapped in %.0f grant map calls (%.1f pages per call), %.0f bytes copied (small frames, software GSO headers)\n", frames, pages, calls, pages / calls, copied
    }' "$results"
done
[ -z "$nets" ] || echo "(g2d guest->dom0, d2g dom0->guest, g2g guest->guest; ratio = blanketd/kernel)"
exit $failed
