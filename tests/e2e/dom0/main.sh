#!/bin/sh
# dom0 side of the e2e run: modules, Xen toolstack, the backend under test (blanketd or the kernel's
# blkback), guest images on /srv, the guest boots and the dom0-side checks. Prints one
# "E2E: PASS|FAIL <scenario>[: detail]" line per scenario; exits with the number of failures.
# /e2e/config.sh (written by run.sh) sets E2E_BACKEND, E2E_BACKING, E2E_DISK, E2E_L0_PCI, E2E_MODE,
# E2E_GUEST_APPEND, E2E_GUEST_SCRIPT, E2E_GUEST_TIMEOUT.
set -eu
. /e2e/config.sh
. /e2e/common.sh

results=/run/e2e-results
: >$results
say() { echo "e2e: $*"; }
result() {
    echo "E2E: $1 $2${3:+: $3}"
    echo "$1 $2" >>$results
}
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- system and toolstack -------------------------------------------------------------------------
load_modules() { while read -r ko; do insmod "$ko"; done <"$1"; }
load_modules /etc/e2e/modules
[ "$E2E_BACKEND" != blkback ] || load_modules /etc/e2e/modules-blkback
# kshim (built by run.sh for this kernel) needs virtio_pci_modern_dev, loaded with virtio_pci above.
if [ "$E2E_BACKEND" = blanketd-kshim ]; then
    insmod /e2e/kshim.ko || { echo "e2e: insmod kshim.ko failed"; dmesg | tail -n 20; exit 98; }
fi
# The L0 disk (run.sh --disk l0) as dom0's virtio_blk sees it, until blanketd-kshim takes it.
l0_blk=""
if [ "$E2E_DISK" = l0 ]; then
    for b in /sys/bus/pci/devices/$E2E_L0_PCI/virtio*/block/*; do
        [ -e "$b" ] && l0_blk=/dev/${b##*/}
    done
    say "L0 disk $E2E_L0_PCI: ${l0_blk:-no block device} (driver $(basename "$(readlink /sys/bus/pci/devices/$E2E_L0_PCI/driver)"))"
fi
mount -t xenfs xenfs /proc/xen
# Guest images live on an ext4 virtio disk: tmpfs has no O_DIRECT.
mount -t ext4 /dev/vda /srv
xenstored --pid-file /run/xenstored.pid
xen-init-dom0 >/run/xen-init-dom0.log 2>&1 || { cat /run/xen-init-dom0.log; exit 99; }
# Guest consoles go to /var/log/xen/console/guest-<name>.log, which we follow.
xenconsoled --log=guest --log-dir=/var/log/xen/console
say "toolstack up at $(now) s, backend $E2E_BACKEND, $(nproc) vCPUs"

blanketd_pid=""
if [ "$E2E_BACKEND" != blkback ]; then
    blanketd -c /etc/blanket.conf >/var/log/blanketd.log 2>&1 &
    blanketd_pid=$!
    i=0
    while [ ! -S /run/blanketd.sock ] && [ $i -lt 100 ] && kill -0 $blanketd_pid 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    if [ -S /run/blanketd.sock ]; then
        result PASS blanketd-start
    else
        result FAIL blanketd-start "no /run/blanketd.sock after 10 s"
        sed 's/^/[blanketd] /' /var/log/blanketd.log
        exit 1
    fi
fi

# --- guest images and config ----------------------------------------------------------------------
[ "$E2E_DISK" = l0 ] || truncate -s 160M /srv/disk.img
truncate -s 16M /srv/ro.img
pattern ro 4 | dd of=/srv/ro.img bs=1M iflag=fullblock conv=notrunc,fsync 2>/dev/null
ro_md5=$(pattern_md5 ro 4)
# The guest's initramfs: the cached base archive plus this run's scripts.
cat /e2e/guest/base.cpio /e2e/guest-extra.cpio >/run/guest.cpio

# blkback needs a block device. With direct backing it gets a loop device doing direct I/O on the
# image, as blanketd opens it O_DIRECT; with cached backing, xl's block script makes a plain loop
# device (page cache), as blanketd then uses buffered I/O.
backing_path() {
    if [ "$1" = /srv/disk.img ] && [ "$E2E_DISK" = l0 ]; then
        # blanketd-kshim: the device by its blanket.conf name; others: dom0's virtio_blk disk.
        if [ "$E2E_BACKEND" = blanketd-kshim ]; then echo kshim:disk0; else echo "$l0_blk"; fi
    elif [ "$E2E_BACKEND" = blkback ] && [ "$E2E_BACKING" = direct ]; then
        # util-linux's losetup by path: busybox sh runs its own applet (no --direct-io) first.
        [ -f "/run/loop-$(basename "$1")" ] ||
            /sbin/losetup --direct-io=on -f --show "$1" >"/run/loop-$(basename "$1")"
        cat "/run/loop-$(basename "$1")"
    else
        echo "$1"
    fi
}

# xl disk spec. target= must come last: xl takes the rest of the spec as the path.
disk_spec() {
    s="format=raw, vdev=$1, access=$2"
    [ "$E2E_BACKEND" = blkback ] || s="$s, script=/etc/xen/scripts/blanket"
    echo "\"$s, target=$(backing_path "$3")\""
}

dump_backend_state() {
    say "xenstore backend/vbd:"
    xenstore-ls -f /local/domain/0/backend/vbd 2>&1 | sed 's/^/e2e:   /' || true
    if [ -n "$blanketd_pid" ]; then
        say "blanketd log (tail):"
        tail -n 40 /var/log/blanketd.log | sed 's/^/[blanketd] /'
    fi
}

# CPU seconds Xen has charged to a domain so far (xl list's Time(s)).
cpu_of() { xl list "$1" 2>/dev/null | awk 'NR == 2 { print $NF }'; }

# cpu_marks NAME <console: the guest brackets a measured job with "E2E-MARK begin|end JOB" on its
# console; print the CPU time dom0 and the guest used in between as "E2E-CPU JOB DOM0_S GUEST_S".
# (Under emulation both compete for the same 2 CPUs, so CPU per request is what a backend costs.)
cpu_marks() {
    cr=$(printf '\r')
    while IFS= read -r line; do
        line=${line%"$cr"}
        case "$line" in
        *"E2E-MARK begin "*) d0=$(cpu_of Domain-0) g0=$(cpu_of "$1") ;;
        *"E2E-MARK end "*)
            echo "E2E-CPU ${line##*E2E-MARK end } $(awk -v a="$d0" -v b="$(cpu_of Domain-0)" \
                -v c="$g0" -v d="$(cpu_of "$1")" 'BEGIN { printf "%.1f %.1f", b - a, d - c }')" ;;
        esac
    done
}

# boot_guest PHASE SCRIPT END: create guest "e2e-PHASE" running SCRIPT, stream its console with an
# "[L2] " prefix, wait for its exit marker. END=wait: the guest stays up and we xl destroy it;
# END=poweroff: it powers itself off. Sets guest_rc (exit status, or "timeout"/"noboot").
boot_guest() {
    phase=$1 script=$2 end=$3 name=e2e-$1
    cfg=/run/$name.cfg log=/var/log/xen/console/guest-$name.log
    cat >"$cfg" <<EOF
name = "$name"
kernel = "/e2e/guest/vmlinuz"
ramdisk = "/run/guest.cpio"
extra = "console=hvc0 loglevel=4 e2e.script=$script e2e.phase=$phase e2e.end=$end $E2E_GUEST_APPEND"
memory = 256
vcpus = 2
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
disk = [ $(disk_spec xvda rw /srv/disk.img), $(disk_spec xvdb ro /srv/ro.img) ]
EOF
    guest_rc=noboot
    t0=$(now)
    if ! xl create "$cfg" >/run/$name.xl.log 2>&1; then
        sed 's/^/e2e: xl: /' /run/$name.xl.log
        result FAIL "$name-create" "xl create failed"
        dump_backend_state
        return 0
    fi
    domid=$(xl domid "$name")
    say "$name: xl create took $(since "$t0") s (domid $domid)"

    i=0
    while [ ! -f "$log" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    mkfifo /run/$name.fifo
    sed 's/\r$//; s/^/[L2] /' </run/$name.fifo &
    sed_pid=$!
    tail -n +1 -f "$log" >/run/$name.fifo 2>/dev/null &
    tail_pid=$!
    mkfifo /run/$name.marks
    cpu_marks "$name" </run/$name.marks &
    tail -n +1 -f "$log" >/run/$name.marks 2>/dev/null &
    marks_pid=$!

    deadline=$(($(date +%s) + E2E_GUEST_TIMEOUT))
    while :; do
        if grep -q 'E2E-GUEST-EXIT' "$log" 2>/dev/null; then
            guest_rc=$(tr -d '\r' <"$log" | sed -n 's/.*E2E-GUEST-EXIT \([0-9]*\).*/\1/p' | tail -n1)
            break
        fi
        xl domid "$name" >/dev/null 2>&1 || { say "$name: domain vanished"; break; }
        if [ "$(date +%s)" -ge "$deadline" ]; then
            guest_rc=timeout
            say "$name: no exit marker after ${E2E_GUEST_TIMEOUT} s"
            break
        fi
        sleep 1
    done
    say "$name: guest finished (status $guest_rc) $(since "$t0") s after xl create"
    [ "$guest_rc" != noboot ] || dump_backend_state
    if [ -n "$blanketd_pid" ]; then
        say "blanketctl stats with $name attached:"
        blanketctl -s /run/blanketd.sock stats 2>&1 | sed 's/^/e2e:   /' || true
    fi

    # Teardown: xl destroy (phase 1 and every stuck guest), or wait for the guest's own poweroff.
    if [ "$end" = poweroff ] && [ "$guest_rc" != timeout ]; then
        i=0
        while xl domid "$name" >/dev/null 2>&1 && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
    fi
    if xl domid "$name" >/dev/null 2>&1; then
        t1=$(now)
        if xl destroy "$name" >/run/$name.destroy.log 2>&1; then
            took=$(since "$t1")
            # libxl waits 10 s for the backend to reach Closed (6) before removing it anyway.
            if awk -v t="$took" 'BEGIN { exit !(t < 9.5) }'; then
                result PASS "$name-destroy" "xl destroy took $took s"
            else
                result FAIL "$name-destroy" "xl destroy took $took s: backend did not close in time"
            fi
        else
            sed 's/^/e2e: xl: /' /run/$name.destroy.log
            result FAIL "$name-destroy" "xl destroy failed"
        fi
    fi
    # Once the domain is gone, libxl has removed its backend directory.
    i=0
    while xenstore-exists "/local/domain/0/backend/vbd/$domid" 2>/dev/null && [ $i -lt 30 ]; do
        sleep 1; i=$((i + 1))
    done
    if xenstore-exists "/local/domain/0/backend/vbd/$domid" 2>/dev/null; then
        result FAIL "$name-cleanup" "backend/vbd/$domid still in xenstore 30 s after the domain died"
    fi

    sleep 1  # tail -f polls once a second: let it print the last lines
    kill $tail_pid $marks_pid 2>/dev/null || true
    wait $sed_pid 2>/dev/null || true
    rm -f /run/$name.fifo /run/$name.marks

    # Forward the guest's own scenario results and md5s.
    tr -d '\r' <"$log" | sed -n 's/.*E2E-RESULT \([A-Z]*\) \([^ ]*\) *\(.*\)/\1 \2 \3/p' |
        while read -r verdict sname detail; do result "$verdict" "$sname" "$detail"; done
    tr -d '\r' <"$log" | sed -n 's/.*E2E-MD5 \([^ ]*\) \([0-9a-f]*\).*/\1 \2/p' |
        while read -r tag sum; do echo "$sum" >/run/md5-$tag; done
    return 0
}

# PASS guest-PHASE when the guest script ran to the end with status 0; otherwise FAIL, unless the
# script already reported its failures as scenarios.
guest_verdict() {
    if [ "$guest_rc" = 0 ]; then
        result PASS "guest-$1"
    elif [ "$guest_rc" = timeout ] || [ "$guest_rc" = noboot ] || ! grep -q '^FAIL' $results; then
        result FAIL "guest-$1" "guest script status: $guest_rc"
    fi
}

# --- scenarios ------------------------------------------------------------------------------------
if [ "$E2E_MODE" = script ]; then
    # wait: blanketctl stats are taken while the disk is still attached, then xl destroy.
    boot_guest 1 "/e2e/user/$E2E_GUEST_SCRIPT" wait
    if [ "$guest_rc" = 0 ]; then
        result PASS "guest-script:$E2E_GUEST_SCRIPT" "exit status 0"
    else
        result FAIL "guest-script:$E2E_GUEST_SCRIPT" "exit status $guest_rc"
    fi
else
    boot_guest 1 /e2e/guest/default-1.sh wait   # (a)-(d), and data for (e), (f)
    guest_verdict 1
    boot_guest 2 /e2e/guest/default-2.sh poweroff   # (e): a new domain on the same disk
    guest_verdict 2
    # (f) what the guest wrote is in the backing file, byte for byte.
    want=$(pattern_md5 backing 1)
    told=$(cat /run/md5-backing 2>/dev/null || echo none)
    if [ "$E2E_DISK" = l0 ]; then
        # The bytes are on the L0 device: run.sh checks its host file after QEMU exits.
        got=$want
    else
        got=$(region_md5 /srv/disk.img 130 1)
    fi
    if [ "$got" = "$want" ] && [ "$told" = "$want" ]; then
        result PASS backing-file "md5 $got at 130 MiB"
    else
        result FAIL backing-file "file md5 $got, guest read $told, pattern $want"
    fi
    # (d) the read-only image was not modified.
    if [ "$(region_md5 /srv/ro.img 0 4)" = "$ro_md5" ] &&
        [ "$(md5sum </srv/ro.img | cut -d' ' -f1)" = "$({ pattern ro 4; dd if=/dev/zero bs=1M count=12 2>/dev/null; } | md5sum | cut -d' ' -f1)" ]; then
        result PASS readonly-unchanged
    else
        result FAIL readonly-unchanged "ro.img was modified"
    fi
fi

if [ -n "$blanketd_pid" ]; then
    if kill -0 "$blanketd_pid" 2>/dev/null; then
        result PASS blanketd-alive
        say "blanketctl stats:"
        blanketctl -s /run/blanketd.sock stats 2>&1 | sed 's/^/e2e:   /' || true
    else
        wait "$blanketd_pid" && st=0 || st=$?
        result FAIL blanketd-alive "blanketd exited with status $st"
    fi
fi

pass=$(grep -c '^PASS' $results || true)
fail=$(grep -c '^FAIL' $results || true)
if [ "$fail" -gt 0 ] && [ -n "$blanketd_pid" ]; then
    say "blanketd log:"
    sed 's/^/[blanketd] /' /var/log/blanketd.log
fi
if [ "$E2E_BACKEND" = blanketd-kshim ]; then
    say "blanketd about kshim:"
    grep -i kshim /var/log/blanketd.log | head -n 20 | sed 's/^/[blanketd] /'
    # Pinning or DMA trouble shows in the kernel log first.
    say "dmesg (kshim, gntdev, swiotlb, warnings):"
    dmesg | grep -E 'kshim|gntdev|swiotlb|DMAR|WARNING:|BUG:|Oops' | tail -n 30 | sed 's/^/e2e:   /'
fi
echo "E2E-SUMMARY pass=$pass fail=$fail"
exit "$fail"
