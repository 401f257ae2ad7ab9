#!/bin/bash
# Two builds of blanketd on the same test bed, run after run: did a change move the network figures?
#   tests/e2e/ab.sh [--rounds N] [--seconds S] [--tests LIST] [--backend blanketd|blanketd-kshim]
#                   [--l0-offloads on|off] OLD_TREE NEW_TREE
# Each tree is a checkout (a git worktree, say) that `make all` builds; each round runs bench.sh's
# network tests (guest/bench-net.sh, 2 guests) once with OLD's blanketd and once with NEW's, the order
# alternating between rounds, and the summary gives every test's figures per round, their medians and
# NEW/OLD. LIST: the tests, comma-separated (default tcp1-g2d,tcp4-g2d,tcp1-d2g,tcp4-d2g; all nine:
# tcp1-g2d tcp4-g2d tcp1-d2g tcp4-d2g tcp1-g2g tcp4-g2g udp64-g2d udp64-d2g udp64-g2g). blanketd-kshim
# crosses L0 (run.sh --net l0), with the NICs' offloads off unless --l0-offloads on.
#
# The bed is CPU-bound and noisy: the same build's figures move by 20-30% between runs (the host's
# two cores run QEMU's vCPUs, and Xen places dom0's and the guests' vCPUs differently each time).
# A change smaller than that needs many rounds; look at the spread, not just the medians. Nothing
# else should run on the host meanwhile (a compile is enough to move a round).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rounds=3 secs=10 tests=tcp1-g2d,tcp4-g2d,tcp1-d2g,tcp4-d2g backend=blanketd l0off=off
while [ $# -gt 2 ]; do
    case $1 in
    --rounds) rounds=${2:?}; shift 2 ;;
    --seconds) secs=${2:?}; shift 2 ;;
    --tests) tests=${2:?}; shift 2 ;;
    --backend) backend=${2:?}; shift 2 ;;
    --l0-offloads) l0off=${2:?}; shift 2 ;;
    *) echo "ab.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# = 2 ] || { echo "usage: ab.sh [options] OLD_TREE NEW_TREE" >&2; exit 2; }
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd)
case $backend in
blanketd) net=(--net on) ;;
blanketd-kshim) net=(--net l0 --l0-offloads "$l0off") ;;
*) echo "ab.sh: --backend is blanketd or blanketd-kshim" >&2; exit 2 ;;
esac
for t in "$old" "$new"; do
    [ -x "$t/tests/e2e/run.sh" ] || { echo "ab.sh: $t is not a blanket tree" >&2; exit 2; }
    make -s -C "$t" all || { echo "ab.sh: $t does not build" >&2; exit 1; }
done

# One set of images for both (run.sh rebuilds them only if build-images.sh differs), and NEW's test
# scripts for both, so that only blanketd differs.
cache=${BLANKET_E2E_CACHE:-$new/build/e2e}
out=$cache/ab/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
: >"$out/results"
for r in $(seq 1 "$rounds"); do
    order="old new"
    [ $((r % 2)) = 1 ] || order="new old"
    for which in $order; do
        tree=$old
        [ "$which" = old ] || tree=$new
        echo "ab: round $r/$rounds, $which ($tree)"
        BLANKET_E2E_CACHE=$cache "$tree/tests/e2e/run.sh" --backend "$backend" "${net[@]}" --guests 2 \
            --guest-script "$new/tests/e2e/guest/bench-net.sh" --dom0-script "$new/tests/e2e/dom0/bench-net.sh" \
            --guest-append "e2e.bench_seconds=$secs e2e.bench_tests=$tests" --timeout $((300 + 20 * secs)) \
            >"$out/round$r-$which.out" 2>&1 || echo "ab: round $r, $which FAILED (log: $out/round$r-$which.out)"
        sed -n "s/.*BENCHNET \([a-z0-9-]*\) \([0-9.]*\) \([a-zA-Z/]*\).*/$which $r \1 \2 \3/p" \
            "$out/round$r-$which.out" | tee -a "$out/results"
    done
done

echo
echo "ab: $backend, $rounds round(s) of ${secs} s per test; OLD $old, NEW $new; raw figures in $out"
awk -v tests="$tests" '
    { key = $1 SUBSEP $3; v[key, ++n[key]] = $4; list[key] = list[key] " " $4; unit[$3] = $5 }
    '"$(cat "$here/median.awk")"'
    END {
        printf "%-10s %-8s %-28s %-28s %8s %8s %8s\n", "test", "unit", "OLD (by round)", "NEW (by round)",
            "OLD med", "NEW med", "NEW/OLD"
        c = split(tests, t, ",")
        for (i = 1; i <= c; i++) {
            a = median("old" SUBSEP t[i]); b = median("new" SUBSEP t[i])
            printf "%-10s %-8s %-28s %-28s %8s %8s %8s\n", t[i], unit[t[i]], list["old" SUBSEP t[i]],
                list["new" SUBSEP t[i]], a < 0 ? "n/a" : a, b < 0 ? "n/a" : b,
                (a > 0 && b > 0) ? sprintf("%.2f", b / a) : "n/a"
        }
    }' "$out/results"
