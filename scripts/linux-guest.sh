#!/usr/bin/env bash
# Builds the Linux guest the integration tests boot, from Debian's own packages only:
#   OUTDIR/vmlinuz            Debian's bzImage of the current linux-image-<abi>-cloud-amd64
#   OUTDIR/config             its kernel config
#   OUTDIR/vmlinux            the uncompressed ELF inside vmlinuz (found like the kernel's
#                             scripts/extract-vmlinux: compressor magic, decompress, readelf -h)
#   OUTDIR/initramfs.cpio.gz  newc cpio: /bin/busybox (busybox-static), /init (tests/linux/init),
#                             empty /dev /proc /sys /tmp; no device nodes (/init mounts devtmpfs)
#   OUTDIR/VERSION            "<kernel package> <version>" and "busybox-static <version>"
# A quick no-op when VERSION matches what apt offers now and every file is in place.
# Downloads with apt-get download into OUTDIR/deb; runs apt-get update once when that fails
# and we are root, otherwise prints the exact command and fails.
#   scripts/linux-guest.sh build/linux
set -euo pipefail
export LC_ALL=C

say() { echo "linux-guest: $*" >&2; }
die() { say "$*"; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 OUTDIR"
out=$1
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out_abs=$(cd "$out" && pwd)
init_src=$top/tests/linux/init
[ -f "$init_src" ] || die "missing $init_src"
meta=linux-image-cloud-amd64
bbpkg=busybox-static

# ---- apt ----------------------------------------------------------------------------------------
updated=0
# as root, apt-get download warns that _apt cannot write to OUTDIR/deb; download as root quietly
sandbox=()
[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
# apt_update_once WHY: refresh the package lists (once) if root, else tell how and fail
apt_update_once() {
        if [ "$updated" -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
                updated=1
                say "$1; running apt-get update"
                DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
                return 0
        fi
        say "$1; refresh the package lists and rerun:"
        say "    sudo apt-get update && $0 $out"
        exit 1
}

# apt-cache with a binary cache of the package lists in OUTDIR: without one (Docker images
# set Dir::Cache::pkgcache "") every call re-parses the lists for ~1 s; apt rebuilds it when
# the lists change
apt_cache() {
        apt-cache -o Dir::Cache::pkgcache="$out_abs/.apt-pkgcache.bin" "$@"
}

# candidate PKG: the version apt would install now (empty if none)
candidate() {
        apt_cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '^(none)$' || true
}

# kernel_pkg: the linux-image-<abi>-cloud-amd64 package the metapackage depends on
kernel_pkg() {
        apt_cache depends "$meta" 2>/dev/null \
                | sed -n 's/^ *Depends: *\(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1 || true
}

kpkg=$(kernel_pkg)
if [ -z "$kpkg" ]; then
        apt_update_once "apt knows no $meta"
        kpkg=$(kernel_pkg)
        [ -n "$kpkg" ] || die "cannot resolve $meta (apt-cache depends $meta)"
fi
kver=$(candidate "$kpkg")
bbver=$(candidate "$bbpkg")
if [ -z "$kver" ] || [ -z "$bbver" ]; then
        apt_update_once "apt offers no candidate for $kpkg or $bbpkg"
        kver=$(candidate "$kpkg")
        bbver=$(candidate "$bbpkg")
        [ -n "$kver" ] && [ -n "$bbver" ] || die "no installable $kpkg or $bbpkg"
fi
want=$(printf '%s %s\n%s %s' "$kpkg" "$kver" "$bbpkg" "$bbver")

# ---- up to date? --------------------------------------------------------------------------------
uptodate() {
        local f
        for f in vmlinuz config vmlinux initramfs.cpio.gz VERSION; do
                [ -s "$out/$f" ] || return 1
        done
        [ "$(cat "$out/VERSION")" = "$want" ] || return 1
        [ ! "$init_src" -nt "$out/initramfs.cpio.gz" ] || return 1
        [ ! "$0" -nt "$out/VERSION" ]
}
if uptodate; then
        exit 0
fi
# one build at a time (make check and make check SAN=1 share OUTDIR); re-check once we hold it
mkdir -p "$out/deb"
exec 9>"$out/.lock"
flock 9
if uptodate; then
        exit 0
fi
say "building $out: $kpkg $kver, $bbpkg $bbver"
rm -rf "$out"/.tmp.*
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# fetch PKG VERSION: print the path of PKG's .deb of VERSION in $out/deb, downloading it if needed
fetch() {
        local pkg=$1 ver=$2 f
        for f in "$out/deb/${pkg}"_*.deb; do
                [ -f "$f" ] || continue
                if [ "$(dpkg-deb -f "$f" Package Version 2>/dev/null | tr '\n' ' ')" = "Package: $pkg Version: $ver " ]; then
                        echo "$f"
                        return 0
                fi
                rm -f "$f"
        done
        say "apt-get download $pkg=$ver"
        if ! (cd "$out/deb" && apt-get download -qq "${sandbox[@]}" "$pkg=$ver" >&2); then
                apt_update_once "apt-get download $pkg=$ver failed"
                (cd "$out/deb" && apt-get download -qq "${sandbox[@]}" "$pkg=$ver" >&2) || die "apt-get download $pkg=$ver failed"
        fi
        for f in "$out/deb/${pkg}"_*.deb; do
                if [ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ]; then
                        echo "$f"
                        return 0
                fi
        done
        die "apt-get download $pkg=$ver left no .deb in $out/deb"
}

kdeb=$(fetch "$kpkg" "$kver")
bbdeb=$(fetch "$bbpkg" "$bbver")
# drop debs of other packages (an older kernel ABI)
for f in "$out/deb"/*.deb; do
        if [ -f "$f" ] && [ "$f" != "$kdeb" ] && [ "$f" != "$bbdeb" ]; then
                rm -f "$f"
        fi
done

# ---- kernel: vmlinuz and config -----------------------------------------------------------------
rm -f "$out/VERSION"
dpkg-deb -x "$kdeb" "$tmp/kernel"
set -- "$tmp"/kernel/boot/vmlinuz-*
[ $# -eq 1 ] && [ -f "$1" ] || die "$kdeb: expected one boot/vmlinuz-*, found: $*"
cp "$1" "$tmp/vmlinuz"
set -- "$tmp"/kernel/boot/config-*
[ $# -eq 1 ] && [ -f "$1" ] || die "$kdeb: expected one boot/config-*, found: $*"
cp "$1" "$tmp/config"
rm -rf "$tmp/kernel"
[ "$(tail -c +515 "$tmp/vmlinuz" | head -c 4)" = HdrS ] || die "$kdeb: vmlinuz is not a bzImage (no HdrS)"

# ---- vmlinux: the ELF inside vmlinuz ------------------------------------------------------------
# compressor name -> "magic (grep -P) | decompress command"; magics as in scripts/extract-vmlinux
declare -A magic=(
        [LZ4]='\x02\x21\x4c\x18'
        [GZIP]='\x1f\x8b\x08'
        [XZ]='\xfd\x37\x7a\x58\x5a\x00'
        [ZSTD]='\x28\xb5\x2f\xfd'
        [BZIP2]='\x42\x5a\x68'
        [LZMA]='\x5d\x00\x00\x00'
        [LZO]='\x89\x4c\x5a'
)
declare -A tool=(
        [LZ4]='lz4 -dc'
        [GZIP]='gzip -dc'
        [XZ]='xz -dc --single-stream'
        [ZSTD]='zstd -dcq'
        [BZIP2]='bzip2 -dc'
        [LZMA]='xz -dc --format=lzma'
        [LZO]='lzop -dc'
)
# the configured compressor first, then the others
order=$(sed -n 's/^CONFIG_KERNEL_\(LZ4\|GZIP\|XZ\|ZSTD\|BZIP2\|LZMA\|LZO\)=y$/\1/p' "$tmp/config" | head -n 1)
[ -n "$order" ] || say "config names no CONFIG_KERNEL_<compressor>; trying them all"
for c in LZ4 GZIP XZ ZSTD BZIP2 LZMA LZO; do
        [ "$c" = "$order" ] || order="$order $c"
done

# is_x86_64_elf FILE
is_x86_64_elf() {
        local h
        h=$(readelf -h "$1" 2>/dev/null) || return 1
        grep -q '^ *Class: *ELF64$' <<<"$h" && grep -q '^ *Machine: *Advanced Micro Devices X86-64$' <<<"$h" \
                && grep -q '^ *Type: *EXEC' <<<"$h"
}

# trim_elf FILE: cut trailing bytes a decompressor produced past the ELF's section headers
trim_elf() {
        local h shoff shentsz shnum end size
        h=$(readelf -h "$1")
        shoff=$(sed -n 's/^ *Start of section headers: *\([0-9]*\) .*/\1/p' <<<"$h")
        shentsz=$(sed -n 's/^ *Size of section headers: *\([0-9]*\) .*/\1/p' <<<"$h")
        shnum=$(sed -n 's/^ *Number of section headers: *\([0-9]*\)$/\1/p' <<<"$h")
        [ -n "$shoff" ] && [ -n "$shentsz" ] && [ -n "$shnum" ] && [ "$shoff" -gt 0 ] || return 0
        end=$((shoff + shentsz * shnum))
        size=$(stat -c %s "$1")
        if [ "$end" -lt "$size" ]; then
                head -c "$end" "$1" >"$1.trim" && mv "$1.trim" "$1"
        fi
}

found=
for c in $order; do
        read -r cmd _ <<<"${tool[$c]}"
        command -v "$cmd" >/dev/null || continue
        offsets=$(grep -aboP "${magic[$c]}" "$tmp/vmlinuz" | cut -d: -f1 || true)
        for off in $offsets; do
                tail -c +$((off + 1)) "$tmp/vmlinuz" | ${tool[$c]} >"$tmp/vmlinux" 2>/dev/null || true
                if is_x86_64_elf "$tmp/vmlinux"; then
                        found="$c at offset $off"
                        break 2
                fi
        done
done
[ -n "$found" ] || die "no x86-64 ELF found inside $kdeb's vmlinuz (tried: $order)"
trim_elf "$tmp/vmlinux"
say "vmlinux: $found"

# ---- initramfs ----------------------------------------------------------------------------------
dpkg-deb -x "$bbdeb" "$tmp/bb"
[ -f "$tmp/bb/bin/busybox" ] || die "$bbdeb has no bin/busybox"
root=$tmp/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
install -m 0755 "$tmp/bb/bin/busybox" "$root/bin/busybox"
install -m 0755 "$init_src" "$root/init"
chmod 0755 "$root/bin" "$root/dev" "$root/proc" "$root/sys"
chmod 1777 "$root/tmp"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 -printf '%P\n' | sort \
        | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n >"$tmp/initramfs.cpio.gz"

# ---- install: VERSION last, so a partial build is never up to date --------------------------------
for f in vmlinuz config vmlinux initramfs.cpio.gz; do
        mv -f "$tmp/$f" "$out/$f"
done
printf '%s\n' "$want" >"$out/VERSION"
say "done: $(tr '\n' ';' <"$out/VERSION" | sed 's/;$//; s/;/, /')"
