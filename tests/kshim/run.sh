#!/bin/bash
# kshim's standalone test (no Xen): builds kshim.ko and tests/kshim/kshim_test.c, boots Debian's
# own -amd64 kernel (the ABI linux-image-amd64 depends on) in QEMU/TCG with an initramfs of
# busybox, the virtio-pci modules from the same kernel package, kshim.ko and kshim_test, and a
# virtio-blk disk (a zeroed host file) plus two virtio-net NICs on one QEMU hub (what one sends,
# the other receives; nothing leaves QEMU). After QEMU exits the host checks the disk file.
# Prints PASS/FAIL lines and a closing "N passed, N failed"; exits non-zero on any failure.
# Work files: build/kshim/. Kernel and busybox .debs: reused from build/e2e/debs when there,
# else fetched with `apt-get download` into build/kshim/debs.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$repo/build/kshim
mkdir -p "$out/debs"
start=$(date +%s)

say() { echo "kshim-test: $*" >&2; }
fail_now() { echo "FAIL $*"; echo "kshim: 0 passed, 1 failed"; exit 1; }

abi=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -n1)
[ -n "$abi" ] || fail_now "setup: cannot resolve the kernel ABI from linux-image-amd64 (apt-get update?)"
kver=$abi-amd64
kdir=/lib/modules/$kver/build
[ -d "$kdir" ] || fail_now "setup: no $kdir: install linux-headers-$kver (make deps)"

# --- build ---------------------------------------------------------------------------------
if ! make -C "$repo/kshim" KSHIM_KDIR="$kdir" >"$out/make.log" 2>&1; then
    tail -n 40 "$out/make.log"
    fail_now "build: kshim.ko"
fi
cc -static -O2 -Wall -Wextra -Werror -I"$repo/kshim" -o "$out/kshim_test" "$here/kshim_test.c" ||
    fail_now "build: kshim_test"

# --- kernel and busybox from Debian packages --------------------------------------------------
# The .deb file name `apt-get download` gives the candidate version of package $1.
deb_name() {
    apt-cache show --no-all-versions "$1" | awk '
        /^Version: / { v = $2 } /^Architecture: / { a = $2 }
        END { gsub(/:/, "%3a", v); print "'"$1"'_" v "_" a ".deb" }'
}
deb_path() {
    local name d
    name=$(deb_name "$1")
    for d in "$repo/build/e2e/debs" "$out/debs"; do
        [ -f "$d/$name" ] && { echo "$d/$name"; return 0; }
    done
    say "downloading $1"
    (cd "$out/debs" && apt-get download -q "$1" >&2) || return 1
    [ -f "$out/debs/$name" ] && echo "$out/debs/$name"
}
kdeb=$(deb_path "linux-image-$kver") || fail_now "setup: linux-image-$kver .deb"
bdeb=$(deb_path busybox-static) || fail_now "setup: busybox-static .deb"

# Extractions are cached; .done names the .deb they came from.
kx=$out/kernel
if [ "$(cat "$kx/.done" 2>/dev/null)" != "$(basename "$kdeb")" ]; then
    rm -rf "$kx" && mkdir -p "$kx"
    dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$kx" --wildcards './boot/vmlinuz-*' \
        './lib/modules/*/kernel/drivers/virtio/virtio*.ko' || fail_now "setup: extract kernel"
    basename "$kdeb" >"$kx/.done"
fi
bx=$out/busybox
if [ "$(cat "$bx/.done" 2>/dev/null)" != "$(basename "$bdeb")" ]; then
    rm -rf "$bx" && mkdir -p "$bx"
    dpkg-deb -x "$bdeb" "$bx" || fail_now "setup: extract busybox"
    basename "$bdeb" >"$bx/.done"
fi

# --- initramfs --------------------------------------------------------------------------------
ir=$out/initramfs
rm -rf "$ir" && mkdir -p "$ir"/{bin,dev,proc,sys,lib/modules}
cp "$bx/bin/busybox" "$ir/bin/"
for a in sh mount insmod poweroff dmesg tail; do ln -s busybox "$ir/bin/$a"; done
# virtio_pci (and what it needs) too: the devices start on virtio-pci, as in a real cloud VM,
# and the test moves them to kshim.
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci; do
    cp "$kx/lib/modules/$kver/kernel/drivers/virtio/$m.ko" "$ir/lib/modules/" ||
        fail_now "setup: module $m"
done
cp "$repo/kshim/kshim.ko" "$out/kshim_test" "$ir/lib/modules/" 2>/dev/null
mv "$ir/lib/modules/kshim_test" "$ir/kshim_test"
cat >"$ir/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci kshim; do
    insmod /lib/modules/$m.ko || echo "FAIL guest: insmod $m"
done
/kshim_test /lib/modules/kshim.ko
rc=$?
[ $rc = 0 ] || dmesg | tail -n 40 | while read -r l; do echo "dmesg: $l"; done
echo "KSHIM_TEST_EXIT=$rc"
poweroff -f
EOF
chmod +x "$ir/init"
(cd "$ir" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio" || fail_now "setup: cpio"

# --- run -----------------------------------------------------------------------------------------
rm -f "$out/disk.img" && truncate -s 16M "$out/disk.img"
# Share the 2 cores politely: one QEMU at a time on this machine (the lock tests/e2e/run.sh takes).
exec 9>"${TMPDIR:-/tmp}/blanket-e2e.lock"
flock -n 9 || { echo "kshim-test: waiting for another QEMU run to finish"; flock 9; }
qstart=$(date +%s)
timeout 300 qemu-system-x86_64 -M pc -accel tcg -cpu qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16 \
    -m 512 -smp 1 -nographic -no-reboot -net none \
    -kernel "$kx/boot/vmlinuz-$kver" -initrd "$out/initramfs.cpio" \
    -append "console=ttyS0 loglevel=4 panic=-1" \
    -drive if=none,id=d0,file="$out/disk.img",format=raw \
    -device virtio-blk-pci,drive=d0,disable-legacy=on \
    -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,disable-legacy=on,romfile=,mac=52:54:00:4b:53:01 \
    -netdev hubport,id=n1,hubid=0 -device virtio-net-pci,netdev=n1,disable-legacy=on,romfile=,mac=52:54:00:4b:53:02 \
    </dev/null >"$out/console.log" 2>&1
qrc=$?
qend=$(date +%s)

# --- results -------------------------------------------------------------------------------------
tr -d '\r' <"$out/console.log" >"$out/console.txt"
results=$(grep -E '^(PASS|FAIL) ' "$out/console.txt")
if ! grep -q '^KSHIM_TEST_EXIT=' "$out/console.txt"; then
    results+=$'\n'"FAIL guest: the test did not finish (qemu exit $qrc; see build/kshim/console.txt)"
    tail -n 30 "$out/console.txt" >&2
elif ! grep -q '^KSHIM_TEST_EXIT=0$' "$out/console.txt"; then
    grep '^dmesg: ' "$out/console.txt" >&2
fi
# A kernel warning or oops anywhere fails the run, whatever the test printed.
if grep -qE 'WARNING:|BUG:|Oops|general protection|Call Trace' "$out/console.txt"; then
    results+=$'\n'"FAIL guest: kernel warning or oops (see build/kshim/console.txt)"
    grep -E -A 20 'WARNING:|BUG:|Oops|general protection' "$out/console.txt" | head -n 60 >&2
else
    results+=$'\n'"PASS guest: no kernel warning or oops"
fi
results+=$'\n'$("$out/kshim_test" --check-disk "$out/disk.img")
results=$(sed '/^$/d' <<<"$results")
echo "$results"
npass=$(grep -c '^PASS ' <<<"$results")
nfail=$(grep -c '^FAIL ' <<<"$results")
say "QEMU $((qend - qstart)) s, total $(( $(date +%s) - start )) s"
echo "kshim: $npass passed, $nfail failed"
[ "$nfail" = 0 ] && [ "$npass" -gt 0 ]
