#!/bin/bash
# tests/perf/instr.sh BIN: blanketd's userspace instructions per 64-byte frame on the vif data path
# (vif_path.c says what runs), counted by callgrind.  Each direction runs twice, 200 and 1200
# passes of 50 frames, and the difference is divided by the 50000 frames between them, so setup
# and teardown cancel out.  Counted: blanketd's code and the libraries it calls (libc, libev);
# not counted: the test harness and fake_xen.c, which stand in for the guests and the hypervisor.
set -euo pipefail
bin=${1:?usage: tests/perf/instr.sh BUILD/perf/vif_path}
command -v valgrind >/dev/null || { echo "instr.sh: valgrind is missing: run make deps" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions outside the harness for one run: callgrind's self cost per function, summed.
count() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$bin" "$1" "$2" >/dev/null 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; echo "instr.sh: $bin $1 failed" >&2; exit 1; }
    callgrind_annotate --auto=no --threshold=100 --show-percs=no "$tmp/cg" |
        awk '$1 ~ /^[0-9,]+$/ && $2 !~ /^PROGRAM/ && $2 !~ /tests\/(unit|perf)\// {
                 gsub(",", "", $1); sum += $1 } END { printf "%d\n", sum }'
}

printf 'vif data path, userspace instructions per 64-byte frame (50 frames a pass):\n'
for mode in rx tx g2g; do
    a=$(count $mode 200)
    b=$(count $mode 1200)
    case $mode in
        rx) what="uplink -> guest (dom0 -> guest)" ;;
        tx) what="guest -> uplink (guest -> dom0)" ;;
        g2g) what="guest -> guest" ;;
    esac
    printf '  %-34s %6d\n' "$what" $(( (b - a) / 50000 ))
done
