#!/usr/bin/env bash
# rootfs.sh TAR makes TAR: a Debian bookworm root file system with systemd,
# for TestSystemd (make test-systemd) to boot with systemd-nspawn. A TAR
# made before from the same package list is kept (TAR.key says which).
set -euo pipefail

tar=${1:?usage: rootfs.sh TAR}
pkgs=systemd,systemd-sysv,dbus,openssl,ca-certificates,util-linux
key="bookworm minbase $pkgs"
if [ -f "$tar" ] && [ "$(cat "$tar.key" 2>/dev/null)" = "$key" ]; then
	echo "rootfs: $tar (cached)"
	exit 0
fi
mkdir -p "$(dirname "$tar")"
rm -f "$tar.key"
mmdebstrap --quiet --variant=minbase --format=tar --include="$pkgs" bookworm "$tar.tmp"
mv -f "$tar.tmp" "$tar"
printf '%s\n' "$key" >"$tar.key"
echo "rootfs: made $tar"
