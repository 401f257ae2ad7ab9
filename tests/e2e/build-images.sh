#!/bin/bash
# Build the cached images of the nested e2e test bed (see tests/e2e/README.md):
#   xen.elf        Debian's Xen 4.17, gunzipped (QEMU's multiboot loader wants the ELF)
#   dom0-vmlinuz   Debian's -amd64 kernel (the -cloud flavour has no dom0 support)
#   dom0.cpio      dom0 userspace: toolstack, busybox, bash, util-linux, the libraries blanketd links,
#                  the needed kernel modules, and the guest's kernel + base initramfs
#   guest.cpio     guest base initramfs: busybox, static fio, blkfront, netfront & co. (-cloud-amd64
#                  modules)
#   qdisk.cpio     only when called as `build-images.sh qdisk` (run.sh --backend qdisk): QEMU's Xen
#                  device model (qemu-system-xen), whose qdisk is the third disk backend bench.sh
#                  compares; appended to dom0.cpio for those runs only (~30 MB)
# Everything comes from Debian packages fetched with `apt-get download`, matching the host (Debian 12).
# Idempotent: each image is rebuilt only when its inputs (package versions, this script) change.
# Test scripts and blanketd are NOT in these images: run.sh appends them as a small cpio on every run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${BLANKET_E2E_CACHE:-$repo/build/e2e}
debs=$cache/debs
work=$cache/work
img=$cache/images
mkdir -p "$debs" "$work" "$img"

log() { echo "build-images: $*" >&2; }
die() { echo "build-images: error: $*" >&2; exit 1; }

# Key for the cache stamps: inputs that, when changed, must rebuild an image.
self_sum=$(sha256sum "$0" | cut -c1-16)

# Fast path: the package candidates only change with apt's lists; when neither they nor this script
# changed since the last complete build, there is nothing to do (saves ~4 s of apt-cache per run).
fast_key=$( { echo "$self_sum"; ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null; } | sha256sum | cut -c1-16)
want_qdisk=0
[ "${1:-}" != qdisk ] || want_qdisk=1
if [ "$(cat "$img/fast.stamp" 2>/dev/null)" = "$fast_key" ] && [ -f "$img/dom0.cpio" ] &&
    [ -f "$img/dom0.files" ] && [ -f "$img/dom0-vmlinuz" ] && [ -f "$img/xen.elf" ] &&
    { [ $want_qdisk = 0 ] || [ -f "$img/qdisk.cpio" ]; }; then
    exit 0
fi
rm -f "$img/fast.stamp"

# A fresh machine may have no package lists yet.
apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -q >&2

# Kernel ABI from the metapackage, so dom0/guest kernels and modules always match each other.
abi=$(apt-cache show --no-all-versions linux-image-amd64 |
      sed -n 's/^Depends:.*linux-image-\([0-9][^ ,]*\)-amd64.*/\1/p' | head -n1)
[ -n "$abi" ] || die "cannot resolve the kernel ABI from linux-image-amd64"
kver_dom0=$abi-amd64
kver_guest=$abi-cloud-amd64

# Package roots. Their library dependencies are added by deps_closure below.
# mount: util-linux's losetup (busybox's has no --direct-io, which --backing direct needs for blkback).
# iproute2: bridges and the network set-up (xl's vif-bridge script uses ip or brctl).
dom0_roots="xen-utils-4.17 xen-utils-common xenstore-utils libxendevicemodel1 libgcc-s1
  busybox-static bash util-linux mount iproute2 libev4 liburing2 libinih1 libsystemd0 iperf3"
guest_roots="busybox-static"
# bench.sh's network part: iperf3 in the guest too, with only the shared libraries it needs (the
# guest image is otherwise static: libc6 and libssl3 whole would triple its size).
guest_iperf_roots="iperf3 libiperf0 libsctp1 libssl3 libc6"

# Print the roots plus every library package (lib*, or in Section libs like zlib1g) they
# (transitively) Depend/Pre-Depend on. Other dependencies (python3, udev, ...) are deliberately not
# followed: we only run the binaries, and the image check below catches a missing library.
# For an alternative "A | B" only A is taken.
deps_closure() {
    local seen=" " queue="$*" p d
    while [ -n "${queue# }" ]; do
        set -- $queue; p=$1; shift; queue="$*"
        case "$seen" in *" $p "*) continue ;; esac
        seen="$seen$p "
        echo "$p"
        for d in $(apt-cache depends --important "$p" | awk '
            /^ *\|?(Pre)?Depends: / {
                alt = ($1 ~ /^\|/)
                if (skip) { skip = alt; next }
                skip = alt
                if ($2 !~ /^</) { sub(/:.*/, "", $2); print $2 }
            }'); do
            case "$d" in
            lib*) queue="$queue $d" ;;
            *) apt-cache show --no-all-versions "$d" 2>/dev/null | grep -qx 'Section: libs' &&
                queue="$queue $d" ;;
            esac
        done
    done
}

# deb file names (as apt-get download names them) of the candidate versions of the given packages.
deb_names() {
    apt-cache show --no-all-versions "$@" | awk '
        /^Package: / { p = $2 } /^Version: / { v = $2 } /^Architecture: / { a = $2 }
        /^$/ { if (p != "") { gsub(/:/, "%3a", v); print p "_" v "_" a ".deb" }; p = "" }
        END { if (p != "") { gsub(/:/, "%3a", v); print p "_" v "_" a ".deb" } }'
}

# Download what is missing from $debs; print the deb paths.
fetch() {
    local names n missing try
    for try in 1 2; do
        names=$(deb_names "$@")
        missing=""
        for n in $names; do [ -f "$debs/$n" ] || missing="$missing ${n%%_*}"; done
        [ -n "$missing" ] || break
        # Stale package lists name files the mirror no longer has: update them before the retry.
        [ $try = 1 ] || apt-get update -q >&2
        log "downloading:$missing"
        # As root apt-get download runs unsandboxed; its warning about user _apt is harmless.
        (cd "$debs" && apt-get download -q $missing 2>&1 | grep -v 'unsandboxed as root' >&2) || true
    done
    for n in $names; do
        [ -f "$debs/$n" ] || die "download failed: $n"
        echo "$debs/$n"
    done
}

# Key of a set of inputs (file names carry the package versions).
key_of() { { echo "$self_sum"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$1" ] && [ -f "$1.stamp" ] && [ "$(cat "$1.stamp")" = "$2" ]; }

# Write a cpio (newc, root-owned) of directory $1 to file $2.
mkcpio() {
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) >"$2.tmp"
    mv "$2.tmp" "$2"
}

# Does root $1 have command $2 in one of the PATH directories? (-L: links point into the image,
# not at the host's files, so -e alone would lie.)
# add_dynamic ROOT BIN DEB...: BIN (a path inside the packages) into ROOT with the shared libraries
# it needs, found (transitively, by DT_NEEDED) in the packages, and the dynamic loader.
add_dynamic() {
    local root=$1 bin=$2 x=$work/dyn lib need todo done=" "
    shift 2
    rm -rf "$x"; mkdir -p "$x"
    for d in "$@"; do dpkg-deb -x "$d" "$x"; done
    mkdir -p "$root/usr/bin" "$root/lib64" "$root/usr/lib/x86_64-linux-gnu"
    cp "$x/$bin" "$root/usr/bin/"
    cp -L "$x/lib64/ld-linux-x86-64.so.2" "$root/lib64/" 2>/dev/null ||
        cp -L "$x/usr/lib64/ld-linux-x86-64.so.2" "$root/lib64/"
    todo=$x/$bin
    while [ -n "$todo" ]; do
        set -- $todo; todo=""
        for f in "$@"; do
            for need in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
                case "$done" in *" $need "*) continue ;; esac
                done="$done$need "
                lib=$(find "$x" -name "$need" | head -n1)
                [ -n "$lib" ] || die "add_dynamic: $need (for $(basename "$f")) is in none of the packages"
                cp -L "$lib" "$root/usr/lib/x86_64-linux-gnu/"
                todo="$todo $lib"
            done
        done
    done
    rm -rf "$x"
}

has_cmd() {
    local d
    for d in bin sbin usr/bin usr/sbin; do
        [ -e "$1/$d/$2" ] || [ -L "$1/$d/$2" ] && return 0
    done
    return 1
}

# Symlink every busybox applet, except names some package already provides (and `busybox` itself:
# overwriting it with a link to itself made the guest panic).
busybox_links() {
    local root=$1 path
    for path in $("$root/bin/busybox" --list-full); do
        has_cmd "$root" "${path##*/}" || ln -s /bin/busybox "$root/$path"
    done
}

# Extract a kernel package once per version; depmod it so modprobe can order module dependencies.
kernel_tree() {
    local deb=$1 kver=$2 dir=$work/kernel-$2
    if ! stamp_ok "$dir/lib/modules/$kver/modules.dep" "$(basename "$deb")"; then
        log "extracting $(basename "$deb")"
        rm -rf "$dir"; mkdir -p "$dir"
        dpkg-deb -x "$deb" "$dir"
        depmod -b "$dir" "$kver"
        basename "$deb" >"$dir/lib/modules/$kver/modules.dep.stamp"
    fi
    echo "$dir"
}

# Copy modules $3... (with their dependencies, in load order) from kernel tree $1 into root $2;
# print their paths inside the root, in insmod order. Built-in ones are skipped.
install_modules() {
    local tree=$1 root=$2 kver=$3 m f seen=" "; shift 3
    for m in "$@"; do
        modprobe -d "$tree" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
    done | while read -r f; do
        case "$seen" in *" $f "*) continue ;; esac
        seen="$seen$f "
        rel=${f#"$tree"}
        mkdir -p "$root$(dirname "$rel")"
        cp "$f" "$root$rel"
        echo "$rel"
    done
}

# ---------------------------------------------------------------------------------------------
# Static fio from Debian's source package (the binary package drags in ceph, gluster, rdma...).
fio_version=$(apt-cache show --no-all-versions fio | sed -n 's/^Version: //p')
fio_bin=$cache/fio/fio-$fio_version
build_fio() {
    [ -x "$fio_bin" ] && return 0
    if ! apt-cache showsrc fio 2>/dev/null | grep -q '^Package: fio$'; then
        [ "$(id -u)" = 0 ] || die "deb-src entries missing and not root: cannot add them"
        codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
        log "adding deb-src for $codename in /etc/apt/sources.list.d/blanket-e2e-src.sources"
        cat >/etc/apt/sources.list.d/blanket-e2e-src.sources <<EOF
# Added by Blanket's tests/e2e/build-images.sh: it builds a static fio from Debian's source package.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        apt-get update -q >&2
    fi
    log "building static fio $fio_version (~1 min)"
    rm -rf "$cache/fio/src"; mkdir -p "$cache/fio/src"
    (
        cd "$cache/fio/src"
        apt-get source -q --download-only fio 2>&1 | grep -v 'unsandboxed as root' >&2 || true
        # apt already checked the files against the signed Sources index.
        dpkg-source --no-check -x fio_*.dsc tree >/dev/null
        cd tree
        # libaio must be there for the libaio engine (io_uring needs no library).
        ./configure --build-static --disable-native >configure.log 2>&1 || { cat configure.log >&2; exit 1; }
        grep -q '^Linux AIO support *yes' configure.log || die "fio configure found no libaio (libaio-dev)"
        make -j"$(nproc)" fio >make.log 2>&1 || { tail -n 40 make.log >&2; exit 1; }
        strip fio
    )
    local engines
    engines=$("$cache/fio/src/tree/fio" --enghelp)
    echo "$engines" | grep -qw libaio || die "static fio lacks the libaio engine"
    echo "$engines" | grep -qw io_uring || die "static fio lacks the io_uring engine"
    cp "$cache/fio/src/tree/fio" "$fio_bin.tmp" && mv "$fio_bin.tmp" "$fio_bin"
    rm -rf "$cache/fio/src"
}

# ---------------------------------------------------------------------------------------------
# Fetch everything first (cheap when cached), then decide what to rebuild.
xen_deb=$(fetch xen-hypervisor-4.17-amd64)
kdom0_deb=$(fetch "linux-image-$kver_dom0")
kguest_deb=$(fetch "linux-image-$kver_guest")
pkgs_list=$cache/packages.list
pkgs_key=$(key_of $(deb_names $dom0_roots $guest_roots))
if ! stamp_ok "$pkgs_list" "$pkgs_key"; then
    log "resolving library dependencies"
    deps_closure $dom0_roots >"$pkgs_list.tmp" && mv "$pkgs_list.tmp" "$pkgs_list"
    echo "$pkgs_key" >"$pkgs_list.stamp"
fi
dom0_debs=$(fetch $(cat "$pkgs_list"))
guest_debs=$(fetch $guest_roots)
guest_iperf_debs=$(fetch $guest_iperf_roots)
build_fio

# Xen: QEMU's multiboot loader boots the gunzipped ELF.
key=$(key_of "$xen_deb")
if ! stamp_ok "$img/xen.elf" "$key"; then
    log "extracting Xen"
    rm -rf "$work/xen"; mkdir -p "$work/xen"
    dpkg-deb -x "$xen_deb" "$work/xen"
    gunzip -c "$work/xen/boot/xen-4.17-amd64.gz" >"$img/xen.elf"
    rm -rf "$work/xen"
    echo "$key" >"$img/xen.elf.stamp"
fi

# Guest base initramfs. Its /init and scenario scripts come with run.sh's per-run cpio.
key=$(key_of $guest_debs $guest_iperf_debs "$kguest_deb" "$(sha256sum "$fio_bin")")
if ! stamp_ok "$img/guest.cpio" "$key"; then
    log "assembling guest.cpio"
    tree=$(kernel_tree "$kguest_deb" "$kver_guest")
    root=$work/guest-root
    rm -rf "$root"; mkdir -p "$root"
    for d in $guest_debs; do dpkg-deb -x "$d" "$root"; done
    rm -rf "${root:?}/usr/share"
    mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/sbin" "$root/etc/e2e" \
        "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/run" "$root/e2e"
    busybox_links "$root"
    # What the guest scripts may use (the network scenarios and --guest-script: see README.md).
    for c in blkdiscard ip ping ping6 nc base64 awk sed grep md5sum timeout wget head seq; do
        has_cmd "$root" $c || die "busybox has no $c applet"
    done
    cp "$fio_bin" "$root/usr/bin/fio"
    add_dynamic "$root" usr/bin/iperf3 $guest_iperf_debs
    # IPv6 is built into the -cloud kernel (CONFIG_IPV6=y); netfront is a module.
    grep -qx 'CONFIG_IPV6=y' "$tree/boot/config-$kver_guest" || die "guest kernel: IPv6 is not built in"
    install_modules "$tree" "$root" "$kver_guest" xen-evtchn xen-gntalloc xen-gntdev xen-blkfront \
        xen-netfront >"$root/etc/e2e/modules"
    cp "$tree/boot/vmlinuz-$kver_guest" "$img/guest-vmlinuz"
    mkcpio "$root" "$img/guest.cpio"
    rm -rf "$root"
    echo "$key" >"$img/guest.cpio.stamp"
fi

# dom0 initramfs: toolstack + libraries + modules + the guest's kernel and base initramfs.
key=$(key_of $dom0_debs "$kdom0_deb" "$(sha256sum "$img/guest.cpio" "$img/guest-vmlinuz")")
if ! stamp_ok "$img/dom0.cpio" "$key"; then
    log "assembling dom0.cpio"
    tree=$(kernel_tree "$kdom0_deb" "$kver_dom0")
    root=$work/dom0-root
    rm -rf "$root"; mkdir -p "$root"
    for d in $dom0_debs; do dpkg-deb -x "$d" "$root"; done
    # Trim what a test dom0 never reads (docs, python bindings, HVM firmware, init scripts).
    rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
        "$root/usr/share/lintian" "$root/usr/share/bug" "$root/usr/share/bash-completion" \
        "$root/usr/lib/xen-4.17/lib/python" "$root/usr/lib/xen-4.17/boot" "$root/etc/init.d" \
        "$root/lib/systemd" "$root/usr/lib/systemd"
    mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/sbin" "$root/etc/e2e" "$root/dev" "$root/proc" \
        "$root/sys" "$root/tmp" "$root/run" "$root/srv" "$root/var/log/xen/console" "$root/var/lib/xen" \
        "$root/e2e/guest"
    ln -sfn /run "$root/var/run"
    ln -sfn /run/lock "$root/var/lock"
    busybox_links "$root"
    install_modules "$tree" "$root" "$kver_dom0" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs \
        loop ext4 virtio_pci virtio_blk >"$root/etc/e2e/modules"
    install_modules "$tree" "$root" "$kver_dom0" xen-blkback >"$root/etc/e2e/modules-blkback"
    # --backend kernel: xen-netback and a Linux bridge; blanketd: tun and vhost_net for its TAP uplink;
    # blanketd-kshim: virtio_net for dom0's own NIC on the QEMU hub.
    install_modules "$tree" "$root" "$kver_dom0" xen-netback bridge >"$root/etc/e2e/modules-netback"
    install_modules "$tree" "$root" "$kver_dom0" tun vhost_net >"$root/etc/e2e/modules-tun"
    install_modules "$tree" "$root" "$kver_dom0" virtio_net >"$root/etc/e2e/modules-virtio-net"
    for c in ip bridge brctl nc httpd which; do
        has_cmd "$root" $c || die "dom0 image has no $c"
    done
    [ -x "$root/etc/xen/scripts/vif-bridge" ] || die "dom0 image has no /etc/xen/scripts/vif-bridge"
    cp "$img/guest-vmlinuz" "$root/e2e/guest/vmlinuz"
    cp "$img/guest.cpio" "$root/e2e/guest/base.cpio"
    cp "$tree/boot/vmlinuz-$kver_dom0" "$img/dom0-vmlinuz"
    ldconfig -r "$root" 2>/dev/null || true
    # Every ELF of the toolstack must find its libraries inside the image (catches a missing package
    # at build time instead of as an obscure failure in dom0).
    bad=""
    bins=""
    if [ "$(id -u)" = 0 ]; then
        bins=$(ls -d "$root"/usr/lib/xen-4.17/bin/* "$root"/usr/sbin/* "$root"/usr/bin/* "$root"/bin/* "$root"/sbin/*)
    else
        log "warning: not root, skipping the library check (it needs chroot)"
    fi
    for f in $bins; do
        # dynamically linked ELF only (ld.so --list crashes on the static-pie busybox)
        [ -f "$f" ] && [ ! -L "$f" ] && readelf -l "$f" 2>/dev/null | grep -q 'program interpreter' || continue
        out=$(chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "${f#"$root"}" 2>&1) &&
            case "$out" in *"not found"*) false ;; esac || bad="$bad ${f#"$root"}"
    done
    [ -z "$bad" ] || die "unresolved libraries in dom0 image for:$bad"
    (cd "$root" && find . -mindepth 1 | sed 's|^\.||' | LC_ALL=C sort) >"$img/dom0.files"
    mkcpio "$root" "$img/dom0.cpio"
    rm -rf "$root"
    echo "$key" >"$img/dom0.cpio.stamp"
fi

# QEMU's qdisk: the device model binary at the path libxl 4.17 spawns for a PV guest's
# backendtype=qdisk disk, its libraries, and the one keymap it insists on loading (without it QEMU
# exits at once and libxl only says "device model did not start: -26").
if [ $want_qdisk = 1 ]; then
    qlist=$cache/qdisk-packages.list
    qkey=$(key_of $(deb_names qemu-system-xen))
    if ! stamp_ok "$qlist" "$qkey"; then
        log "resolving qemu-system-xen's libraries"
        deps_closure qemu-system-xen >"$qlist.tmp" && mv "$qlist.tmp" "$qlist"
        echo "$qkey" >"$qlist.stamp"
    fi
    qemu_debs=$(fetch $(cat "$qlist"))
    qdata_deb=$(fetch qemu-system-data)
    key=$(key_of $qemu_debs "$qdata_deb" "$(cat "$img/dom0.cpio.stamp")")
    if ! stamp_ok "$img/qdisk.cpio" "$key"; then
        log "assembling qdisk.cpio"
        root=$work/qdisk-root
        rm -rf "$root"; mkdir -p "$root/usr/libexec" "$root/usr/share/qemu/keymaps"
        add_dynamic "$root" usr/libexec/xen-qemu-system-i386 $qemu_debs
        mv "$root/usr/bin/xen-qemu-system-i386" "$root/usr/libexec/"
        # Libraries dom0.cpio has (libxen*, libc, the loader) stay dom0's, wherever it keeps them.
        find "$root/usr/lib" "$root/lib64" -type f | while read -r f; do
            ! grep -q "/${f##*/}\$" "$img/dom0.files" || rm -f "$f"
        done
        rm -rf "$work/qdata"; mkdir -p "$work/qdata"
        dpkg-deb -x "$qdata_deb" "$work/qdata"
        cp "$work/qdata/usr/share/qemu/keymaps/en-us" "$root/usr/share/qemu/keymaps/"
        rm -rf "$work/qdata"
        mkcpio "$root" "$img/qdisk.cpio"
        rm -rf "$root"
        echo "$key" >"$img/qdisk.cpio.stamp"
    fi
fi
echo "$fast_key" >"$img/fast.stamp"
log "images ready in $img ($(du -sh "$img/dom0.cpio" | cut -f1) dom0.cpio, kernel $abi)"
