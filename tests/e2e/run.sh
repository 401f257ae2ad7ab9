#!/bin/bash
# The nested e2e test bed: QEMU (TCG, L0) boots Xen 4.17 (L1) with a Debian PV dom0 from a generated
# initramfs; dom0 runs the toolstack and the backend under test (blanketd, or the kernel's blkback
# and netback for comparison) and boots PV guests (L2) whose unmodified blkfront and netfront do
# I/O through it.
#
#   tests/e2e/run.sh [--backend blanketd|kernel|blkback|blanketd-kshim|qdisk] [--guest-script FILE]
#                    [--guests N] [--dom0-script FILE] [--mtu N] [--net on|off|l0]
#                    [--guest-append "ARGS"] [--backing direct|cached] [--disk file|l0]
#                    [--l0-offloads on|off] [--tap-vhost on|off] [--timeout SEC]
#                    [--guest-timeout SEC] [--verbose]
#
# --backend kernel (alias blkback): xen-blkback, xen-netback and a Linux bridge xenbr0 in dom0.
# --backend qdisk: the disks served by QEMU's qdisk in dom0 (xl's backendtype=qdisk: libxl starts
# Debian's qemu-system-xen for each guest), the network as with kernel; for bench.sh's third column.
# --guests N: N guests at once (default 1; the default scenarios boot 2), each with 2 vCPUs, a disk
# (guest 1 /srv/disk.img, guest i /srv/disk-i.img) and a vif: MAC 00:16:3e:00:00:0i, eth0
# 10.0.0.(1+i)/24 and fd00::(1+i)/64. dom0 is 10.0.0.1/24 and fd00::1/64 on the bridge (kernel),
# blanketd's TAP uplink blanket0 (blanketd) or its own NIC on the QEMU hub of the NIC blanketd
# drives through kshim (blanketd-kshim). --mtu: dom0's and the guests' MTU (default 1500).
# --dom0-script FILE: runs as root in dom0, in the background, once dom0's network is up and before
# the guests are created (output prefixed [dom0-script]). --net off: no vifs, no dom0 network.
# --net l0: as on, but dom0's side is always across L0, over two QEMU NICs on one QEMU hub: the one
# the guests' traffic leaves by (kshim:net0 for blanketd-kshim, which implies it; enslaved to
# xenbr0 under dom0's virtio_net for kernel) and dom0's own, which has 10.0.0.1 (for bench.sh:
# kshim against netback over dom0's virtio_net).
# --l0-offloads on: the two L0 NICs are instead host TAPs with vnet headers on a host bridge, so
# they offer what a cloud's virtio-net does (checksum offload, TSO, GUEST_TSO with mergeable RX
# buffers) and frames cross L0 whole; off (default): the hub, which offers no offloads (software
# GSO and checksums, and software GRO, in blanketd). Needs /dev/net/tun and CAP_NET_ADMIN.
# --tap-vhost off: blanketd's TAP uplink reads and writes the TAP itself (blanket.conf [vif] vhost =
# no) instead of through dom0's vhost-net worker (on, the default: vhost = yes, so a missing
# vhost_net fails the run rather than falling back unnoticed).
#
# --backing: how the backend reaches the image files on dom0's /srv, the same for both backends so
# that they compare like for like. direct (default): blanketd opens them O_DIRECT, blkback gets loop
# devices with direct I/O. cached: through dom0's page cache (blanketd direct-io=no; blkback on
# xl's default loop devices).
# --disk: where the guest's xvda lives. file (default): /srv/disk.img in dom0. l0: a second QEMU
# virtio-blk (a host file, checked by this script after QEMU exits) at PCI 0000:00:06.0, which
# blkback and blanketd reach as dom0's /dev/vdb (virtio_blk) and blanketd-kshim (implies l0)
# through the kshim module, the guest's pages DMA'd by the L0 device.
#
# Without --guest-script the default scenarios run (see tests/e2e/README.md); with it, FILE runs as
# root under sh in every guest (environment: GUEST_INDEX GUEST_COUNT GUEST_IP DOM0_IP PEER_IPS MTU,
# and GUEST_IP6 DOM0_IP6 PEER_IP6S), its output is shown ("[L2 gI]") and the run fails unless it
# exits 0 in every guest.
# Prints "PASS <scenario>" / "FAIL <scenario>" lines and a summary; exits non-zero on any failure or
# timeout. The whole serial console (Xen, dom0, guest) is logged under build/e2e/logs/.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${BLANKET_E2E_CACHE:-$repo/build/e2e}

backend=blanketd
guest_script=""
guest_append=""
guest_append_set=0
timeout=600
guest_timeout=""
backing=direct
disk=file
verbose=0
guests=""
dom0_script=""
mtu=""
net=on
l0_offloads=off
tap_vhost=on
usage() { sed -n '2,49s/^# \{0,1\}//p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --backend) backend=${2:?}; shift 2 ;;
    --guest-script) guest_script=${2:?}; shift 2 ;;
    --guest-append) guest_append=${2?}; guest_append_set=1; shift 2 ;;
    --guests) guests=${2:?}; shift 2 ;;
    --dom0-script) dom0_script=${2:?}; shift 2 ;;
    --mtu) mtu=${2:?}; shift 2 ;;
    --net) net=${2:?}; shift 2 ;;
    --backing) backing=${2:?}; shift 2 ;;
    --disk) disk=${2:?}; shift 2 ;;
    --l0-offloads) l0_offloads=${2:?}; shift 2 ;;
    --tap-vhost) tap_vhost=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --guest-timeout) guest_timeout=${2:?}; shift 2 ;;
    -v | --verbose) verbose=1; shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
done
case "$backend" in
blanketd) ;;
blkback | kernel) backend=blkback ;;
blanketd-kshim) disk=l0 ;;
qdisk) ;;
*) echo "run.sh: --backend must be blanketd, blkback, kernel, blanketd-kshim or qdisk" >&2; exit 2 ;;
esac
# qdisk is the kernel set-up (netback, bridge, no blanketd) with QEMU for the disks.
qdisk=0
[ "$backend" != qdisk ] || { qdisk=1; backend=blkback; }
case "$disk" in
file | l0) ;;
*) echo "run.sh: --disk must be file or l0" >&2; exit 2 ;;
esac
# The L0 disk's PCI address in dom0 (QEMU -device ...,addr=0x6 below).
l0_pci=0000:00:06.0
case "$backing" in
direct | cached) ;;
*) echo "run.sh: --backing must be direct or cached" >&2; exit 2 ;;
esac
case "$net" in
on | off) ;;
l0) [ "$backend" != blanketd ] ||
        { echo "run.sh: --net l0 is for --backend kernel or blanketd-kshim (blanketd's uplink is a TAP)" >&2; exit 2; } ;;
*) echo "run.sh: --net must be on, off or l0" >&2; exit 2 ;;
esac
# blanketd-kshim's network always crosses L0.
[ "$backend" != blanketd-kshim ] || [ "$net" != on ] || net=l0
case "$l0_offloads" in
off) ;;
on) [ "$net" = l0 ] ||
        { echo "run.sh: --l0-offloads is about the L0 NICs: use it with --net l0 or --backend blanketd-kshim" >&2; exit 2; } ;;
*) echo "run.sh: --l0-offloads must be on or off" >&2; exit 2 ;;
esac
case "$tap_vhost" in
on | off) [ "$tap_vhost" = on ] || [ "$backend" = blanketd ] ||
        { echo "run.sh: --tap-vhost is about blanketd's TAP uplink: use it with --backend blanketd" >&2; exit 2; } ;;
*) echo "run.sh: --tap-vhost must be on or off" >&2; exit 2 ;;
esac
case "$guests" in
"") ;;
*[!0-9]* | 0*) echo "run.sh: --guests must be a number from 1" >&2; exit 2 ;;
esac
case "$mtu" in
"") ;;
*[!0-9]*) echo "run.sh: --mtu must be a number" >&2; exit 2 ;;
*) [ "$mtu" -ge 1280 ] && [ "$mtu" -le 65000 ] || { echo "run.sh: --mtu must be 1280..65000" >&2; exit 2; } ;;
esac
if [ -n "$dom0_script" ]; then
    [ -f "$dom0_script" ] || { echo "run.sh: no such dom0 script: $dom0_script" >&2; exit 2; }
fi
# The NIC blanketd-kshim drives through kshim (kshim:net0) and dom0's own NIC, on one QEMU hub.
kshim_net_pci=0000:00:07.0
dom0_net_pci=0000:00:08.0
guest_append2=$guest_append
if [ -n "$guest_script" ]; then
    [ -f "$guest_script" ] || { echo "run.sh: no such guest script: $guest_script" >&2; exit 2; }
    mode=script
    guests=${guests:-1}
    mtu2=${mtu:-1500}
else
    mode=default
    guests=${guests:-2}
    # Phase 2 (new domains after xl destroy) runs the network at MTU 9000 unless --mtu says.
    mtu2=${mtu:-9000}
    # The default scenarios check multi-queue: two guest vCPUs, two queues; phase 2 asks netfront
    # for one queue (a module parameter that must reach insmod).
    if [ $guest_append_set = 0 ]; then
        guest_append="xen_blkfront.max_queues=2 xen_netfront.max_queues=2"
        guest_append2="xen_blkfront.max_queues=2 xen_netfront.max_queues=1"
    fi
fi
mtu=${mtu:-1500}
# Per guest boot (all guests of a phase at once), leaving dom0 time to report: the default
# scenarios boot the guests twice.
[ -n "$guest_timeout" ] || guest_timeout=$([ $mode = default ] && echo $((timeout / 3)) || echo $((timeout * 3 / 4)))

if [ "$backend" != blkback ]; then
    for b in blanketd blanketctl; do
        [ -x "$repo/build/$b" ] || { echo "run.sh: $repo/build/$b missing: run make first" >&2; exit 2; }
    done
    # Binaries older than the sources (after a git checkout or a patch) would
    # measure the previous build: make's question mode knows exactly.
    make -C "$repo" -q all >/dev/null 2>&1 ||
        { echo "run.sh: $repo/build is older than its sources: run make first" >&2; exit 2; }
fi

# One QEMU at a time on this machine: it is CPU-bound and uses both cores.
exec 9>"${TMPDIR:-/tmp}/blanket-e2e.lock"
if ! flock -n 9; then
    echo "run.sh: waiting for another e2e run to finish" >&2
    flock 9
fi

t_start=$(date +%s)
"$here/build-images.sh" $([ $qdisk = 0 ] || echo qdisk)
img=$cache/images
run=$cache/run
rm -rf "$run"; mkdir -p "$run" "$cache/logs"

# --- per-run archive: test scripts, config, blanketd. Small, rebuilt every run; concatenated after
# the cached dom0.cpio (Linux unpacks concatenated archives; later files win).
rt=$run/rt
mkdir -p "$rt/e2e/dom0" "$rt/etc/xen/scripts" "$rt/usr/sbin" "$rt/usr/lib/x86_64-linux-gnu"
install -m 755 "$here/dom0/init" "$rt/init"
cp "$here/common.sh" "$rt/e2e/"
install -m 755 "$here/net-serve.sh" "$rt/e2e/"
cp "$here"/dom0/*.sh "$rt/e2e/dom0/"
q() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }
cat >"$rt/e2e/config.sh" <<EOF
E2E_BACKEND=$backend
E2E_QDISK=$qdisk
E2E_BACKING=$backing
E2E_DISK=$disk
E2E_L0_PCI=$l0_pci
E2E_MODE=$mode
E2E_GUEST_APPEND=$(q "$guest_append")
E2E_GUEST_SCRIPT=$(q "$(basename "$guest_script")")
E2E_GUEST_TIMEOUT=$guest_timeout
E2E_GUEST_APPEND2=$(q "$guest_append2")
E2E_GUESTS=$guests
E2E_NET=$([ "$net" != off ] && echo 1 || echo 0)
E2E_NET_L0=$([ "$net" = l0 ] && echo 1 || echo 0)
E2E_MTU=$mtu
E2E_MTU2=$mtu2
E2E_NET_MIB=${E2E_NET_MIB:-32}
E2E_DOM0_SCRIPT=$(q "$(basename "$dom0_script")")
E2E_KSHIM_NET_PCI=$kshim_net_pci
E2E_DOM0_NET_PCI=$dom0_net_pci
EOF
if [ -n "$dom0_script" ]; then
    mkdir -p "$rt/e2e/user-dom0"
    cp "$dom0_script" "$rt/e2e/user-dom0/"
fi
# E2E_DOM0_EXTRA=DIR: DIR's tree added to dom0's root, for tools a session needs while
# investigating (perf and its libraries, say); nothing in the tests relies on it.
[ -z "${E2E_DOM0_EXTRA:-}" ] || cp -a "$E2E_DOM0_EXTRA"/. "$rt/"

mkcpio() {
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$2"
}

# The guest's per-run archive: its /init, the scenario scripts, the user's script.
grt=$run/guest-rt
mkdir -p "$grt/e2e/guest" "$grt/e2e/user"
install -m 755 "$here/guest/init" "$grt/init"
cp "$here/common.sh" "$grt/e2e/"
install -m 755 "$here/net-serve.sh" "$grt/e2e/"
cp "$here"/guest/*.sh "$grt/e2e/guest/"
[ -z "$guest_script" ] || cp "$guest_script" "$grt/e2e/user/"
# E2E_GUEST_EXTRA=DIR: the same as E2E_DOM0_EXTRA for the guests' root (perf, say).
[ -z "${E2E_GUEST_EXTRA:-}" ] || cp -a "$E2E_GUEST_EXTRA"/. "$grt/"
mkcpio "$grt" "$rt/e2e/guest-extra.cpio"

if [ "$backend" != blkback ]; then
    install -m 755 "$repo/blanketd/blanket-hotplug" "$rt/etc/xen/scripts/blanket"
    printf '[daemon]\nsocket = /run/blanketd.sock\n[vbd]\nallowed-paths = /srv /dev\ndirect-io = %s\n' \
        "$([ "$backing" = direct ] && echo yes || echo no)" >"$rt/etc/blanket-novif.conf"
    # The guest's xvda names this device: target=kshim:disk0.
    [ "$backend" != blanketd-kshim ] || printf '[kshim]\ndisk0 = %s\n' "$l0_pci" >>"$rt/etc/blanket-novif.conf"
    # The network part: the vifs' uplink is a TAP blanket0 (dom0 gives it 10.0.0.1), or the QEMU
    # NIC kshim:net0. dom0 falls back to blanket-novif.conf (and guests without a vif) when blanketd
    # refuses it, so that the disk scenarios still run on a blanketd without the vif backend.
    cp "$rt/etc/blanket-novif.conf" "$rt/etc/blanket.conf"
    if [ "$net" != off ]; then
        if [ "$backend" = blanketd-kshim ]; then
            printf 'net0 = %s\n[vif]\nuplink = kshim:net0\n' "$kshim_net_pci" >>"$rt/etc/blanket.conf"
        else
            printf '[vif]\nuplink = tap:blanket0\nvhost = %s\n' "$([ $tap_vhost = on ] && echo yes || echo no)" \
                >>"$rt/etc/blanket.conf"
        fi
    fi
    # Copied on every run: they change all the time.
    cp "$repo/build/blanketd" "$repo/build/blanketctl" "$rt/usr/sbin/"
    # Libraries the binaries link that the cached image lacks (a new dependency): the host is the
    # same Debian release, so its copies fit.
    for lib in $(ldd "$repo/build/blanketd" "$repo/build/blanketctl" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do
        base=$(basename "$lib")
        grep -qE "^/(usr/)?lib/x86_64-linux-gnu/$base\$" "$img/dom0.files" ||
            { echo "run.sh: adding host library $lib" >&2; cp -L "$lib" "$rt/usr/lib/x86_64-linux-gnu/"; }
    done
fi
if [ "$backend" = blanketd-kshim ]; then
    # kshim.ko for the dom0 kernel: the ABI linux-image-amd64 depends on, as build-images.sh uses.
    abi=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -n1)
    kdir=/lib/modules/$abi-amd64/build
    [ -d "$kdir" ] || { echo "run.sh: no $kdir: install linux-headers-$abi-amd64 (make deps)" >&2; exit 2; }
    if ! make -C "$repo/kshim" KSHIM_KDIR="$kdir" >"$run/kshim-make.log" 2>&1; then
        tail -n 30 "$run/kshim-make.log" >&2
        echo "run.sh: building kshim.ko failed" >&2
        exit 2
    fi
    cp "$repo/kshim/kshim.ko" "$rt/e2e/kshim.ko"
fi
mkcpio "$rt" "$run/rt.cpio"
cat "$img/dom0.cpio" $([ $qdisk = 0 ] || echo "$img/qdisk.cpio") "$run/rt.cpio" >"$run/dom0-full.cpio"

# dom0's /srv: a sparse ext4 image on a virtio disk (O_DIRECT works there, unlike tmpfs). Inode
# tables are initialised here, so dom0's ext4lazyinit does not compete for the emulated CPUs.
truncate -s 1G "$run/srv.img"
mkfs.ext4 -q -F -L srv -E lazy_itable_init=0,lazy_journal_init=0 "$run/srv.img"

# The L0 disk: a sparse host file behind a second (modern-only, so MSI-X) virtio-blk. discard=unmap
# punches holes, so a discarded range reads back as zeros as the discard scenario expects.
l0_args=()
# blanketd-kshim: two NICs on QEMU hub 0, so that packets really cross L0: the one blanketd drives
# through kshim (modern-only, MSI-X) and dom0's own (virtio_net), which gets 10.0.0.1.
# --l0-offloads on: each NIC a host TAP with vnet headers (QEMU then offers the offloads), the two
# on a host bridge, both at the largest MTU so that the bridge never drops a jumbo or GSO frame.
l0_taps=(blanket-l0k blanket-l0d)
l0_bridge=blanket-l0br
l0_net_down() {
    for d in "${l0_taps[@]}" $l0_bridge; do ip link del "$d" 2>/dev/null || true; done
}
l0_net_up() {
    l0_net_down
    ip link add $l0_bridge type bridge &&
        ip link set $l0_bridge addrgenmode none mtu 65521 &&
        for t in "${l0_taps[@]}"; do
            ip tuntap add dev "$t" mode tap vnet_hdr &&
                ip link set "$t" addrgenmode none mtu 65521 master $l0_bridge up || return 1
        done &&
        ip link set $l0_bridge up
}
if [ "$net" = l0 ]; then
    if [ "$l0_offloads" = on ]; then
        trap l0_net_down EXIT
        l0_net_up 2>"$run/l0-net.err" || {
            echo "run.sh: --l0-offloads on: cannot make host TAPs and a bridge ($(head -n1 "$run/l0-net.err")): run as root where /dev/net/tun exists, or use --l0-offloads off" >&2
            exit 2
        }
        l0_args+=(-netdev "tap,id=kshimnet,ifname=${l0_taps[0]},script=no,downscript=no,vnet_hdr=on"
                  -netdev "tap,id=dom0net,ifname=${l0_taps[1]},script=no,downscript=no,vnet_hdr=on")
    else
        l0_args+=(-netdev "hubport,id=kshimnet,hubid=0" -netdev "hubport,id=dom0net,hubid=0")
    fi
    l0_args+=(-device "virtio-net-pci,netdev=kshimnet,disable-legacy=on,mac=52:54:00:12:34:07,addr=0x${kshim_net_pci##*:00:0}"
              -device "virtio-net-pci,netdev=dom0net,mac=52:54:00:12:34:08,addr=0x${dom0_net_pci##*:00:0}")
fi
if [ "$disk" = l0 ]; then
    truncate -s 160M "$run/l0disk.img"
    l0_args+=(-drive "if=none,id=l0disk,file=$run/l0disk.img,format=raw,cache=unsafe,discard=unmap"
              -device "virtio-blk-pci,drive=l0disk,disable-legacy=on,addr=0x6")
fi

stamp=$(date +%Y%m%d-%H%M%S)
log=$cache/logs/$stamp-$backend$([ $qdisk = 0 ] || echo -qdisk).log
ln -sfn "$(basename "$log")" "$cache/logs/last.log"
echo "run.sh: backend $backend$([ $qdisk = 0 ] || echo " with qdisk disks") ($backing backing, $disk disk), mode $mode${guest_script:+ ($guest_script)}, $guests guest(s), net $net$([ "$l0_offloads" = on ] && echo " with offloads") (mtu $mtu$([ $mode = default ] && echo ", phase 2 $mtu2")), guest-append '$guest_append'${dom0_script:+, dom0 script $dom0_script}"
echo "run.sh: serial log: $log"

# Only the interesting lines go to stdout: dom0's progress and results, the guest console, errors.
# mawk (Debian's awk) reads a pipe in large blocks unless interactive: lines would come in bursts.
awk_live=(awk)
awk -W version 2>/dev/null | grep -q mawk && awk_live=(awk -W interactive)
filter() {
    if [ $verbose = 1 ]; then tr -d '\r'; return; fi
    "${awk_live[@]}" '{
        sub(/\r+$/, "")
        if (sub(/.*E2E: /, "")) { print; fflush(); next }
        if ($0 ~ /e2e:|E2E-|\[L2[] ]|\[blanketd\]|\[dom0-script\]|Kernel panic|BUG:|Oops|Call Trace|libxl: error|Panic on CPU|FATAL/) {
            print; fflush()
        }
    }'
}

# Xen: 1 GiB for dom0 with 2 vCPUs (blkback offers as many queues as dom0 has vCPUs). No commas in
# the dom0 command line: they separate multiboot modules. Memory: dom0, 256 MiB per guest (room for
# at least 4) and ~256 MiB for Xen and slack.
xen_cmd="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 loglvl=all guest_loglvl=all"
# Clock: TCG offers no invariant TSC, so Xen never marks the TSC stable, the kernels' "xen" clocksource
# has no vDSO, and every clock_gettime() is a syscall through Xen (16 us in dom0, 23 us in a guest
# here; fio and libev call it per request and per loop pass). "tsc=reliable clocksource=tsc", the
# setting cloud vendors advise for Xen guests, gives dom0 a vDSO clock (0.06 us) and the guests one
# on Xen's emulated TSC (2 us), whichever backend runs. main.sh adds the same to the guests' line.
dom0_cmd="console=hvc0 earlyprintk=xen loglevel=4 panic=5 tsc=reliable clocksource=tsc"
t_qemu=$(date +%s)
# -cpu: busybox needs SSSE3; "-cpu max" crashes dom0 early.
mem=$((1024 + 256 * (guests > 4 ? guests : 4) + 256))
# Boot watchdog: dom0 reports "dom0 up" ~3-10 s after QEMU starts. Under TCG a boot now and then
# hangs for good in Xen's or dom0's early PCI set-up (QEMU spinning, no console output); such a
# boot is killed after boot_limit s and QEMU started again, once, instead of waiting out --timeout.
boot_limit=${E2E_BOOT_LIMIT:-90}
watch_boot() {
    local i=0
    while [ $i -lt $boot_limit ]; do
        sleep 1; i=$((i + 1))
        grep -q 'e2e: dom0 up' "$log" 2>/dev/null && return 0
        [ -s "$run/qemu.pid" ] && kill -0 "$(cat "$run/qemu.pid")" 2>/dev/null || return 0
    done
    : >"$run/boot-hung"
    kill "$(cat "$run/qemu.pid")" 2>/dev/null
}
for attempt in 1 2; do
    rm -f "$run/qemu.pid" "$run/boot-hung"
    watch_boot &
    watch_pid=$!
    set +e
    timeout -k 10 "$timeout" qemu-system-x86_64 -M pc -accel tcg -smp 2 -m $mem \
        -cpu qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16 \
        -display none -monitor none -serial stdio -no-reboot -nic none -pidfile "$run/qemu.pid" \
        -kernel "$img/xen.elf" -append "$xen_cmd" \
        -initrd "$img/dom0-vmlinuz $dom0_cmd,$run/dom0-full.cpio" \
        -drive "file=$run/srv.img,format=raw,if=virtio,cache=unsafe" "${l0_args[@]}" \
        </dev/null 2>&1 | tee "$log" | filter
    qemu_rc=${PIPESTATUS[0]}
    set -e
    kill $watch_pid 2>/dev/null || true
    wait $watch_pid 2>/dev/null || true
    [ -e "$run/boot-hung" ] && [ $attempt = 1 ] || break
    echo "run.sh: dom0 did not come up within $boot_limit s (hung boot, see $log): starting QEMU again"
    cp "$log" "$log.hung"
done
t_end=$(date +%s)

pass=$(grep -c 'E2E: PASS' "$log" || true)
fail=$(grep -c 'E2E: FAIL' "$log" || true)
# The L0 disk lives on the host: what the guest wrote at 130 MiB must be in the file, byte for byte
# (dom0 cannot read a device that kshim owns). Only the default scenarios write it.
if [ "$disk" = l0 ] && [ "$mode" = default ] && grep -q 'E2E-DONE' "$log"; then
    . "$here/common.sh"
    want=$(pattern_md5 backing 1)
    got=$(region_md5 "$run/l0disk.img" 130 1)
    if [ "$got" = "$want" ]; then
        echo "PASS host-file: md5 $got at 130 MiB of the L0 disk's host file"
        pass=$((pass + 1))
    else
        echo "FAIL host-file: md5 $got at 130 MiB of the L0 disk's host file, pattern $want"
        fail=$((fail + 1))
    fi
fi
done_line=$(tr -d '\r' <"$log" | grep -o 'E2E-DONE rc=[0-9]*' | tail -n1 || true)
status=0
if [ -e "$run/boot-hung" ]; then
    echo "FAIL boot: dom0 did not come up within $boot_limit s, twice (hung boots; see $log)"
    status=1
elif [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    echo "FAIL timeout: no result after $timeout s (QEMU killed)"
    status=1
elif [ -z "$done_line" ]; then
    echo "FAIL dom0: no final marker (QEMU exit status $qemu_rc; crash? see $log)"
    status=1
elif [ "$done_line" != "E2E-DONE rc=0" ]; then
    status=1
fi
[ "$fail" = 0 ] || status=1
[ "$pass" -gt 0 ] || status=1
echo "SUMMARY backend=$([ $qdisk = 0 ] && echo "$backend" || echo qdisk) pass=$pass fail=$fail ${done_line:-no-done-marker}:" \
    "$([ $status = 0 ] && echo OK || echo FAILED), QEMU $((t_end - t_qemu)) s, total $((t_end - t_start)) s"
exit $status
