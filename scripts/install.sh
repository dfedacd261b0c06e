#!/usr/bin/env bash
# Installs vmstatd: binaries (vmstatd, vmstatd-vm, vmstatctl), systemd units, sysusers.d/tmpfiles.d
# entries, example config, man pages, and the Prometheus rules and Grafana dashboard of contrib/.
# Settings come from the environment or VAR=value arguments (make install passes them):
#   PREFIX=/usr/local  DESTDIR=  BUILD=build  SYSCONFDIR=/etc
#   UNITDIR, SYSUSERSDIR, TMPFILESDIR, MANDIR, DOCDIR, DATADIR (derived from PREFIX unless given)
# With DESTDIR set only files under DESTDIR are written (staging for a package). Without it, as
# root, it also creates the vmstatd user and /var/lib/vmstatd and reloads systemd.
set -euo pipefail

for arg in "$@"; do
        case $arg in
        PREFIX=* | DESTDIR=* | BUILD=* | SYSCONFDIR=* | UNITDIR=* | SYSUSERSDIR=* | TMPFILESDIR=* | MANDIR=* | DOCDIR=* | DATADIR=*)
                export "${arg?}" ;;
        *)
                echo "install.sh: unknown argument '$arg' (expected PREFIX=, DESTDIR=, BUILD=, ...)" >&2
                exit 2 ;;
        esac
done

src=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR:-}
BUILD=${BUILD:-build}
SYSCONFDIR=${SYSCONFDIR:-/etc}
BINDIR=$PREFIX/bin
MANDIR=${MANDIR:-$PREFIX/share/man}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/vmstatd}
DATADIR=${DATADIR:-$PREFIX/share/vmstatd}
# Debian 12's systemdsystemunitdir for PREFIX=/usr; /usr/local/lib/... is on systemd's search
# paths too. Any other prefix needs the files linked or copied where systemd looks.
if [ "$PREFIX" = /usr ]; then
        UNITDIR=${UNITDIR:-/lib/systemd/system}
else
        UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
fi
SYSUSERSDIR=${SYSUSERSDIR:-$PREFIX/lib/sysusers.d}
TMPFILESDIR=${TMPFILESDIR:-$PREFIX/lib/tmpfiles.d}

case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
for bin in vmstatd vmstatd-vm; do
        if [ ! -x "$BUILD/bin/$bin" ]; then
                echo "install.sh: $BUILD/bin/$bin does not exist: run make first" >&2
                exit 1
        fi
done

put() { # mode source destination (a full path under DESTDIR)
        install -D -m "$1" "$2" "$3"
        echo "  $3"
}

echo "install.sh: PREFIX=$PREFIX DESTDIR=${DESTDIR:-(none)}"
put 0755 "$BUILD/bin/vmstatd" "$DESTDIR$BINDIR/vmstatd"
# every VM runs in a vmstatd-vm process, which the daemon looks for in its own directory
put 0755 "$BUILD/bin/vmstatd-vm" "$DESTDIR$BINDIR/vmstatd-vm"
if [ -x "$BUILD/bin/vmstatctl" ]; then
        put 0755 "$BUILD/bin/vmstatctl" "$DESTDIR$BINDIR/vmstatctl"
else
        echo "install.sh: warning: $BUILD/bin/vmstatctl not built yet; skipping it" >&2
fi

# ExecStart follows PREFIX, never DESTDIR; escape what sed's replacement treats specially
bindir_sed=$(printf '%s' "$BINDIR" | sed 's/[\\&|]/\\&/g')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|@BINDIR@|$bindir_sed|g" "$src/systemd/vmstatd.service" >"$tmp/vmstatd.service"
put 0644 "$tmp/vmstatd.service" "$DESTDIR$UNITDIR/vmstatd.service"
put 0644 "$src/systemd/vmstatd.socket" "$DESTDIR$UNITDIR/vmstatd.socket"
put 0644 "$src/systemd/vmstatd.sysusers" "$DESTDIR$SYSUSERSDIR/vmstatd.conf"
put 0644 "$src/systemd/vmstatd.tmpfiles" "$DESTDIR$TMPFILESDIR/vmstatd.conf"

# examples only: an installed vmstatd.conf or *.vm is the administrator's, never overwritten
install -d -m 0755 "$DESTDIR$SYSCONFDIR/vmstatd" "$DESTDIR$SYSCONFDIR/vmstatd/vms.d"
for f in vmstatd.conf.example vms.d/b13.vm.example vms.d/linux.vm.example; do
        if [ -f "$src/systemd/$f" ]; then
                put 0644 "$src/systemd/$f" "$DESTDIR$SYSCONFDIR/vmstatd/$f"
        else
                echo "install.sh: warning: systemd/$f not written yet; skipping it" >&2
        fi
done

for page in vmstatd.8 vmstatd.conf.5 vmstatctl.1; do
        put 0644 "$src/docs/$page" "$DESTDIR$MANDIR/man${page##*.}/$page"
done
put 0644 "$src/docs/METRICS.md" "$DESTDIR$DOCDIR/METRICS.md"
put 0644 "$src/docs/many-hosts.md" "$DESTDIR$DOCDIR/many-hosts.md"
put 0644 "$src/README.md" "$DESTDIR$DOCDIR/README.md"

# for the Prometheus and Grafana servers (docs/many-hosts.md): the rules with their unit tests
# and the example configs side by side, as site.yml refers to the rules and targets by name
for f in "$src"/contrib/prometheus/*.yml; do
        put 0644 "$f" "$DESTDIR$DATADIR/prometheus/${f##*/}"
done
put 0644 "$src/contrib/grafana/vmstatd.json" "$DESTDIR$DATADIR/grafana/vmstatd.json"

case $UNITDIR in
/lib/systemd/system | /usr/lib/systemd/system | /usr/local/lib/systemd/system | /etc/systemd/system) ;;
*) echo "install.sh: note: systemd does not look in $UNITDIR; link the units into /etc/systemd/system" >&2 ;;
esac

if [ -n "$DESTDIR" ]; then
        exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
        echo "install.sh: not root: create the user and state directory with" >&2
        echo "    sudo systemd-sysusers $SYSUSERSDIR/vmstatd.conf && sudo systemd-tmpfiles --create $TMPFILESDIR/vmstatd.conf" >&2
        exit 0
fi
systemd-sysusers "$SYSUSERSDIR/vmstatd.conf"
systemd-tmpfiles --create "$TMPFILESDIR/vmstatd.conf"
if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        echo "install.sh: start it with: systemctl enable --now vmstatd.service (or vmstatd.socket)"
fi
