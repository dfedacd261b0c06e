#!/usr/bin/env bash
# Verifies build (and test or bench) dependencies; installs them with apt-get when running as
# root on Debian, otherwise prints the exact command and fails. Then fetches the web page's
# third-party files (uPlot) with npm ci into build/web.
#   scripts/deps.sh build|bench|web      (web: npm and build/web only)
set -euo pipefail

what=${1:-build}
case $what in
build | bench | web) ;;
*)
        echo "usage: scripts/deps.sh build|bench|web" >&2
        exit 2 ;;
esac
cd "$(dirname "$0")/.."
# pkg-config module -> Debian package
declare -A modules=(
        [libmicrohttpd]=libmicrohttpd-dev
        [jansson]=libjansson-dev
        [libsystemd]=libsystemd-dev
        [check]=check
        [inih]=libinih-dev
        [zlib]=zlib1g-dev
        [libisal]=libisal-dev
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
        [npm]=npm
        [chromium]=chromium
)
if [ "$what" = web ]; then
        modules=()
        commands=([npm]=npm)
fi
if [ "$what" = bench ]; then
        commands[qemu-system-x86_64]=qemu-system-x86
        commands[wrk]=wrk
        commands[prometheus-node-exporter]=prometheus-node-exporter
fi

missing=()
if [ "$what" != web ]; then
        # libFuzzer's runtime
        [ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] || \
                ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
        command -v pkg-config >/dev/null || missing+=(pkg-config)
fi
for m in "${!modules[@]}"; do
        command -v pkg-config >/dev/null && pkg-config --exists "$m" && continue
        missing+=("${modules[$m]}")
done
for c in "${!commands[@]}"; do
        command -v "$c" >/dev/null || missing+=("${commands[$c]}")
done

if [ ${#missing[@]} -gt 0 ]; then
        mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
        cmd="apt-get install -y --no-install-recommends ${missing[*]}"
        if [ "$(id -u)" -ne 0 ] || [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null; then
                echo "deps: missing ${missing[*]}; install them with:" >&2
                echo "    sudo $cmd" >&2
                exit 1
        fi
        echo "deps: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        $cmd -qq >&2
fi

# The web page's uPlot: web/package-lock.json installed with npm ci into build/web (SAN=1 builds
# share it; nothing of it is in git). The lock file copied into node_modules after a successful
# install says what is there; npm ci empties node_modules first, so an interrupted install
# leaves none.
web=build/web
stamp=$web/node_modules/vmstatd-installed-lock.json
if cmp -s web/package-lock.json "$stamp"; then
        # installed; newer than a checkout of the same files, so that make has nothing to redo
        if [ web/package-lock.json -nt "$stamp" ] || [ web/package.json -nt "$stamp" ]; then
                touch "$stamp"
        fi
        exit 0
fi
echo "deps: npm ci in $web (uPlot for the web page)" >&2
mkdir -p "$web"
cp web/package.json web/package-lock.json "$web/"
if ! (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2); then
        echo "deps: npm ci failed in $web: the npm registry must be reachable once (npm config get registry)" >&2
        exit 1
fi
cp web/package-lock.json "$stamp"
