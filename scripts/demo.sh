#!/usr/bin/env bash
# make demo: a three-host weft overlay in network namespaces, with its own etcd.
# Nothing is added to the root network namespace; everything is removed at the
# end, also on Ctrl-C or an error.
set -euo pipefail
cd "$(dirname "$0")/.."
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

cleanup() {
  trap - EXIT INT TERM
  bold "Cleaning up"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "${RIG[@]}" down --prefix "$P" >/dev/null 2>&1 || true
  rm -rf "$STATE"
  say "stopped weftd and etcd, deleted every $P-* namespace."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold "1. The rig: an underlay switch, etcd, and three hosts (all in network namespaces)"
say "Namespace $P-sw is the underlay: a bridge at 192.0.2.1 with etcd listening on it." \
    "Hosts $P-h1..h3 are plugged into it with veth pairs as 192.0.2.11..13."
"${RIG[@]}" up --prefix "$P" --hosts 3 --pods 1 > "$STATE/rig.json"
jq -r '.hosts[] | "   host\(.index): namespace \(.netns), underlay address \(.address)"' "$STATE/rig.json"

bold "2. The network config, stored in etcd by weftctl"
say "Every host leases one /24 of 10.5.0.0/16; VXLAN with VNI 1 on UDP 8472 (flannel's defaults)."
run in_host 1 node bin/weftctl --etcd-endpoints "$ETCD" config set --network 10.5.0.0/16

bold "3. weftd on each host"
say "Each weftd leases a subnet, creates the VXLAN device weft.1, programs a route, a neighbour" \
    "and an FDB entry for every other host, and then writes its subnet.env."
for h in 1 2 3; do
  in_host "$h" node bin/weftd --etcd-endpoints "$ETCD" --node-name "host$h" --iface eth0 \
    --subnet-file "$STATE/h$h.env" --resync-interval 5s > "$STATE/weftd-h$h.log" 2>&1 &
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

bold "5. One pod per host"
for h in 1 2 3; do
  "${RIG[@]}" attach --prefix "$P" --host "$h" --subnet-file "$STATE/h$h.env" > "$STATE/pods-h$h.json"
  jq -r --arg h "$h" '.[] | "   host\($h): pod \(.netns) has \(.address)"' "$STATE/pods-h$h.json"
done

bold "6. What weftd programmed on host1"
run ip -n "$P-h1" -d link show weft.1
run ip -n "$P-h1" route show dev weft.1
run ip -n "$P-h1" neigh show dev weft.1
run bridge -n "$P-h1" fdb show dev weft.1

bold "7. Pod to pod across hosts, through the overlay"
POD1=$(jq -r '.[0].netns' "$STATE/pods-h1.json")
for h in 2 3; do
  ADDR=$(jq -r '.[0].address' "$STATE/pods-h$h.json")
  run ip netns exec "$POD1" ping -c 2 -W 2 "$ADDR"
done

bold "Done: three hosts, one overlay, no state left behind."
