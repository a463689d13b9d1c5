#!/usr/bin/env bash
# Installs the Debian packages weft's build, tests and demo need, only when
# something is missing (so repeated runs cost nothing).
set -euo pipefail
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check etcd etcd-server
check etcdctl etcd-client
check ip iproute2
check iptables iptables
check ip6tables iptables
check ping iputils-ping
check tshark tshark
check ethtool ethtool
check iperf3 iperf3
check podman podman
check runc runc
check busybox busybox-static
check jq jq
check curl curl
check openssl openssl
check nsenter util-linux
check python3 python3
# The WireGuard backend's userspace fallback (this kernel has no WireGuard) and `wg` for operators and tests.
check wireguard-go wireguard-go
check wg wireguard-tools
check systemd-analyze systemd
check systemd-notify systemd
# The shipped unit under a real systemd: a container booted with systemd-nspawn from a debootstrap tree (scripts/nspawn-rootfs.sh).
check systemd-nspawn systemd-container
check debootstrap debootstrap
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -x /usr/bin/catatonit ] || [ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing packages (run as root to install): ${need[*]}" >&2; exit 1; fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
