#!/usr/bin/env bash
# A minimal Debian bookworm with systemd, iproute2, iptables, wireguard-go and wg, for the tests that boot
# the shipped unit under a real systemd (systemd-nspawn; test/helpers/nspawn.ts). Built once (about 1 to 3
# minutes, from the Debian mirror) and cached; containers boot it read-only with a tmpfs overlay
# (--volatile=overlay), so the cached tree is never changed. Prints its path.
#   scripts/nspawn-rootfs.sh [DIR]    default /var/tmp/weft-nspawn-bookworm-wg1 (change the name when the package list changes)
set -euo pipefail
DIR=${1:-/var/tmp/weft-nspawn-bookworm-wg1}
PACKAGES=systemd,systemd-sysv,dbus,iproute2,iptables,libstdc++6,wireguard-go,wireguard-tools
if [ ! -x "$DIR/lib/systemd/systemd" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap is missing (make deps-system installs it)" >&2; exit 1; }
  TMP="$DIR.tmp.$$"
  trap 'rm -rf "$TMP"' EXIT
  echo "building $DIR (debootstrap bookworm: $PACKAGES)" >&2
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$TMP" >"$TMP.log" 2>&1 || { tail -20 "$TMP.log" >&2; rm -f "$TMP.log"; exit 1; }
  rm -f "$TMP.log"
  # Another run may have finished first: keep theirs.
  mv -T "$TMP" "$DIR" 2>/dev/null || true
fi
echo "$DIR"
