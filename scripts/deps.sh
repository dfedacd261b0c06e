#!/usr/bin/env bash
# Verifies build (and test or bench) dependencies; installs them with apt-get when running as
# root on Debian, otherwise prints the exact command and fails.
#   scripts/deps.sh build|bench
set -euo pipefail

what=${1:-build}
# pkg-config module -> Debian package
declare -A modules=(
        [libmicrohttpd]=libmicrohttpd-dev
        [jansson]=libjansson-dev
        [libsystemd]=libsystemd-dev
        [check]=check
        [inih]=libinih-dev
        [zlib]=zlib1g-dev
        [libcurl]=libcurl4-openssl-dev
        [libseccomp]=libseccomp-dev
)
# command -> Debian package
declare -A commands=(
        [pkg-config]=pkg-config
        [as]=binutils
        [ld]=binutils
        [objcopy]=binutils
        [curl]=curl
        [script]=bsdutils
        [systemd-analyze]=systemd
        [systemd-socket-activate]=systemd
        [mandoc]=mandoc
        [clang]=clang
        [promtool]=prometheus
        [prometheus]=prometheus
        [iasl]=acpica-tools
        [cpio]=cpio
        [lz4]=lz4
        [dpkg-deb]=dpkg
        [apt-get]=apt
)
if [ "$what" = bench ]; then
        commands[qemu-system-x86_64]=qemu-system-x86
        commands[wrk]=wrk
        commands[prometheus-node-exporter]=prometheus-node-exporter
fi

missing=()
# libFuzzer's runtime
[ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] || \
        ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
for m in "${!modules[@]}"; do
        command -v pkg-config >/dev/null && pkg-config --exists "$m" && continue
        missing+=("${modules[$m]}")
done
for c in "${!commands[@]}"; do
        command -v "$c" >/dev/null || missing+=("${commands[$c]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; then
        echo "deps: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        $cmd -qq >&2
        exit 0
fi
echo "deps: missing ${missing[*]}; install them with:" >&2
echo "    sudo $cmd" >&2
exit 1
