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
