#!/usr/bin/env bash
# make demo: a three-host weft overlay in network namespaces, with its own etcd.
# Nothing is added to the root network namespace; everything is removed at the
# end, also on Ctrl-C or an error.
#   scripts/demo.sh               IPv4 (make demo)
#   scripts/demo.sh --dual-stack  IPv4 + IPv6: an IPv6 underlay too, EnableIPv6, pods with both
#                                 addresses pinging over both families (make demo DUAL_STACK=1)
#   scripts/demo.sh --wireguard   IPv4 over the wireguard backend: wireguard-go per host (this kernel
#                                 has no WireGuard), each host with its own key file and its own view
#                                 of /run/wireguard, as the integration test runs it (make demo WIREGUARD=1)
set -euo pipefail
cd "$(dirname "$0")/.."
DUAL=0 WG=0
case "${1:-}" in
  '') ;;
  --dual-stack) DUAL=1 ;;
  --wireguard) WG=1 ;;
  *) echo "usage: scripts/demo.sh [--dual-stack | --wireguard]" >&2; exit 2 ;;
esac
unset NODE_EXTRA_CA_CERTS   # it adds ~55 ms to every Node start on these machines

P="wdemo$(printf '%x' $$)"
ETCD=http://192.0.2.1:2379
STATE=$(mktemp -d /tmp/weft-demo.XXXXXX)
RIG=(node dist/test/rig/rig-cli.js)
PIDS=()
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$@"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
in_host() { local h=$1; shift; ip netns exec "$P-h$h" "$@"; }
# The wireguard backend's files per host: key file, UAPI socket directory, wireguard-go's PID file and log.
wg_dir() { echo "$STATE/h$1-wg"; }
# `wg` for host H: inside its namespace, with its socket directory over /run/wireguard (ip netns exec
# gives the command its own mount namespace, so the bind mount stays there).
wg_in_host() { local h=$1; shift; in_host "$h" sh -c 'mkdir -p /run/wireguard && mount --bind "$1" /run/wireguard && shift && exec wg "$@"' wg "$(wg_dir "$h")/sock" "$@"; }

cleanup() {
  trap - EXIT INT TERM
  bold "Cleaning up"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  local wg_pids=()
  if [ "$WG" = 1 ]; then
    for h in 1 2 3; do [ -s "$(wg_dir "$h")/run/weft-wg.pid" ] && wg_pids+=("$(cat "$(wg_dir "$h")/run/weft-wg.pid")"); done
    # weftd leaves its wireguard-go running when it stops (tunnels survive restarts); weftctl cleanup stops it by its PID file.
    for h in 1 2 3; do
      [ -d "$(wg_dir "$h")/run" ] && in_host "$h" node bin/weftctl cleanup --config-file /nonexistent --wireguard-run-dir "$(wg_dir "$h")/run" 2>&1 | grep -v '^nothing to remove' | sed "s/^/   host$h: /" || true
    done
  fi
  "${RIG[@]}" down --prefix "$P" >/dev/null 2>&1 || true
  rm -rf "$STATE"
  say "stopped weftd and etcd, deleted every $P-* namespace."
  if [ "$WG" = 1 ]; then
    local left=()
    for pid in "${wg_pids[@]}"; do [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = wireguard-go ] && left+=("$pid"); done
    if [ ${#left[@]} -gt 0 ]; then say "wireguard-go still running: ${left[*]}"; exit 1; fi
    say "no wireguard-go left (was: ${wg_pids[*]:-none})."
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold "1. The rig: an underlay switch, etcd, and three hosts (all in network namespaces)"
say "Namespace $P-sw is the underlay: a bridge at 192.0.2.1 with etcd listening on it." \
    "Hosts $P-h1..h3 are plugged into it with veth pairs as 192.0.2.11..13."
RIG_V6=()
if [ "$DUAL" = 1 ]; then
  RIG_V6=(--ipv6)
  say "Dual stack: the underlay has IPv6 too, the bridge at fd00:99::1 and the hosts at fd00:99::11..13."
fi
"${RIG[@]}" up --prefix "$P" --hosts 3 --pods 1 "${RIG_V6[@]}" > "$STATE/rig.json"
jq -r '.hosts[] | "   host\(.index): namespace \(.netns), underlay address \(.address)\(if .address6 then " and \(.address6)" else "" end)"' "$STATE/rig.json"

bold "2. The network config, stored in etcd by weftctl"
if [ "$WG" = 1 ]; then
  say "Every host leases one /24 of 10.5.0.0/16; Backend.Type wireguard on UDP 51820 (flannel's format)," \
      "a keepalive so handshakes show up at once. weftctl config set reads the JSON from a file (or - for stdin)."
  printf '%s\n' '{"Network":"10.5.0.0/16","Backend":{"Type":"wireguard","ListenPort":51820,"PersistentKeepaliveInterval":5}}' > "$STATE/config.json"
  sed 's/^/     /' "$STATE/config.json"
  run in_host 1 node bin/weftctl --etcd-endpoints "$ETCD" config set "$STATE/config.json"
else
  say "Every host leases one /24 of 10.5.0.0/16; VXLAN with VNI 1 on UDP 8472 (flannel's defaults)."
  CONFIG_V6=()
  if [ "$DUAL" = 1 ]; then
    CONFIG_V6=(--ipv6-network fd00:5::/48)
    say "And one /64 of fd00:5::/48 (EnableIPv6), carried by a second VXLAN device over the IPv6 underlay."
  fi
  run in_host 1 node bin/weftctl --etcd-endpoints "$ETCD" config set --network 10.5.0.0/16 "${CONFIG_V6[@]}"
fi

bold "3. weftd on each host"
WG_FLAGS=()
if [ "$WG" = 1 ]; then
  say "Each weftd creates its private key (mode 0600), starts wireguard-go for weft-wg (detached: it outlives" \
      "a restart of weftd), leases a subnet with its public key in the lease, adds every other host as a" \
      "WireGuard peer (endpoint = its underlay address, allowed IPs = its subnet), one route for the network," \
      "and then writes its subnet.env. Each host has its own key file and socket directory here, because" \
      "three hosts share this machine's /run/wireguard (on a real host the defaults apply)."
else
  say "Each weftd leases a subnet, creates the VXLAN device weft.1, programs a route, a neighbour" \
      "and an FDB entry for every other host, and then writes its subnet.env."
fi
[ "$DUAL" = 1 ] && say "Dual stack: the IPv6 subnet comes in the same lease, and weft-v6.1 (local = the host's" \
    "IPv6 underlay address) gets the same three entries per peer for IPv6."
for h in 1 2 3; do
  [ "$WG" = 1 ] && WG_FLAGS=(--wireguard-key-file "$(wg_dir "$h")/key/private.key" --wireguard-socket-dir "$(wg_dir "$h")/sock"
    --wireguard-run-dir "$(wg_dir "$h")/run")
  in_host "$h" node bin/weftd --etcd-endpoints "$ETCD" --node-name "host$h" --iface eth0 \
    --subnet-file "$STATE/h$h.env" --resync-interval 5s --ip-masq "${WG_FLAGS[@]}" > "$STATE/weftd-h$h.log" 2>&1 &
  PIDS+=($!)
done
for h in 1 2 3; do
  for _ in $(seq 200); do [ -s "$STATE/h$h.env" ] && break; sleep 0.1; done
  [ -s "$STATE/h$h.env" ] || { echo "weftd on host$h did not become ready; its log:"; tail -20 "$STATE/weftd-h$h.log"; exit 1; }
done
say "host1's subnet.env (what the CNI plugin reads):"
sed 's/^/     /' "$STATE/h1.env"

bold "4. The leases, as weftctl shows them"
run in_host 1 node bin/weftctl --etcd-endpoints "$ETCD" leases
say "The same keys with etcdctl (plain flannel-format JSON):"
in_host 1 etcdctl --endpoints "$ETCD" get --prefix /weft/network/subnets | sed 's/^/     /'

bold "5. One pod per host, attached by the weft CNI plugin"
say "A runtime would call the plugin; here we call it as a runtime does: CNI_* variables and the" \
    "network config on stdin. weft reads the host's subnet.env and delegates to the reference" \
    "bridge plugin with host-local IPAM (from containernetworking-plugins in /usr/lib/cni)."
cni() { # cni HOST COMMAND
  local h=$1 cmd=$2
  jq -n --arg sf "$STATE/h$h.env" --arg dd "$STATE/cni-h$h" --arg ipam "$STATE/ipam-h$h" \
    '{cniVersion:"1.0.0", name:"weftdemo", type:"weft", subnetFile:$sf, dataDir:$dd, ipam:{dataDir:$ipam}}' |
    in_host "$h" env CNI_COMMAND="$cmd" CNI_CONTAINERID="demo-pod-h$h" CNI_NETNS="/run/netns/$P-h${h}p1" \
      CNI_IFNAME=eth0 CNI_PATH="/usr/lib/cni" node dist/weft-cni.cjs
}
for h in 1 2 3; do
  ip netns add "$P-h${h}p1"
  cni "$h" ADD > "$STATE/pod-h$h.json"
  printf '   host%s: pod %s got %s\n' "$h" "$P-h${h}p1" "$(jq -r '[.ips[].address] | join(" and ")' "$STATE/pod-h$h.json")"
done
if [ "$DUAL" = 1 ]; then
  # A new IPv6 address is unusable while duplicate address detection runs (about a second).
  for h in 1 2 3; do
    for _ in $(seq 50); do [ -z "$(ip -n "$P-h${h}p1" -6 addr show tentative)" ] && break; sleep 0.1; done
  done
fi
say "The pod's routes (the overlay network goes through the bridge gateway):"
ip -n "$P-h1p1" route | sed 's/^/     /'
[ "$DUAL" = 1 ] && ip -n "$P-h1p1" -6 route show | grep -v '^fe80\|^multicast' | sed 's/^/     /'

bold "6. What weftd programmed on host1"
if [ "$WG" = 1 ]; then
  run ls -l "$(wg_dir 1)/key/private.key"
  say "wireguard-go (PID $(cat "$(wg_dir 1)/run/weft-wg.pid")) owns the TUN device weft-wg:"
  run ip -n "$P-h1" link show weft-wg
  run ip -n "$P-h1" addr show dev weft-wg
  run ip -n "$P-h1" route show dev weft-wg
  say "Peers are routed by WireGuard's allowed IPs, not by kernel entries:"
  run wg_in_host 1 show weft-wg
else
run ip -n "$P-h1" -d link show weft.1
run ip -n "$P-h1" route show dev weft.1
run ip -n "$P-h1" neigh show dev weft.1
run bridge -n "$P-h1" fdb show dev weft.1
if [ "$DUAL" = 1 ]; then
  run ip -n "$P-h1" -d link show weft-v6.1
  run ip -n "$P-h1" -6 route show dev weft-v6.1
  run ip -n "$P-h1" -6 neigh show dev weft-v6.1 nud permanent
  run bridge -n "$P-h1" fdb show dev weft-v6.1
fi
fi

if [ "$WG" = 0 ]; then
bold "7. weftctl status on host1: its lease, its device, and each peer's entries checked against the leases"
run in_host 1 node bin/weftctl --etcd-endpoints "$ETCD" status --node-name host1 --subnet-file "$STATE/h1.env"
fi

bold "8. Pod to pod across hosts, through the overlay"
for h in 2 3; do
  ADDR=$(jq -r '[.ips[].address | select(contains(":") | not)][0]' "$STATE/pod-h$h.json"); ADDR=${ADDR%/*}
  run ip netns exec "$P-h1p1" ping -c 2 -W 2 "$ADDR"
  if [ "$DUAL" = 1 ]; then
    ADDR6=$(jq -r '[.ips[].address | select(contains(":"))][0]' "$STATE/pod-h$h.json"); ADDR6=${ADDR6%/*}
    run ip netns exec "$P-h1p1" ping -6 -c 2 -W 2 "$ADDR6"
  fi
done

bold "9. Detach the pods (CNI DEL), as a runtime does when a container stops"
RELEASED="its address released"
[ "$DUAL" = 1 ] && RELEASED="its IPv4 and IPv6 addresses released"
for h in 1 2 3; do cni "$h" DEL && say "host$h: pod detached, $RELEASED"; done

if [ "$WG" = 1 ]; then
  bold "10. The tunnels after the pings: a handshake and bytes per peer"
  run wg_in_host 1 show weft-wg latest-handshakes
  run wg_in_host 1 show weft-wg transfer
fi

if [ "$DUAL" = 1 ]; then bold "Done: three hosts, one dual-stack overlay (IPv4 and IPv6), no state left behind."
elif [ "$WG" = 1 ]; then bold "Done: three hosts, one encrypted overlay (WireGuard), no state left behind."
else bold "Done: three hosts, one overlay, no state left behind."; fi
