#!/usr/bin/env bash
# make bench: data-plane and CNI plugin benchmarks, each against a floor
# measured in the same run. Results are printed and written to
# docs/benchmarks.md (between the BEGIN/END markers).
set -euo pipefail
cd "$(dirname "$0")/.."
unset NODE_EXTRA_CA_CERTS
P="wbench$(printf '%x' $$)"
RIG=(node dist/test/rig/rig-cli.js)
OUT=$(mktemp -d /tmp/weft-bench.XXXXXX)
cleanup() { "${RIG[@]}" down --prefix "$P" >/dev/null 2>&1 || true; rm -rf "$OUT"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== data plane (weftd in a rig host namespace, etcd on the rig's underlay)"
"${RIG[@]}" up --prefix "$P" --hosts 1 > "$OUT/rig.json"
ip netns exec "$P-h1" node dist/bench/dataplane-bench.js --sizes "${BENCH_SIZES:-1000,5000}" --events "${BENCH_EVENTS:-100}" | tee "$OUT/dataplane.md"
"${RIG[@]}" down --prefix "$P" >/dev/null

if [ -f dist/bench/cni-bench.js ]; then
  echo "== CNI plugin"
  node dist/bench/cni-bench.js | tee "$OUT/cni.md"
fi

{
  echo "<!-- BEGIN make bench -->"
  echo "Last run: $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(uname -r), Node $(node --version), $(ip -V)."
  echo "Command: \`make bench\` (\`BENCH_SIZES=${BENCH_SIZES:-1000,5000}\`)."
  echo
  echo "### Data plane"
  echo
  cat "$OUT/dataplane.md"
  if [ -f "$OUT/cni.md" ]; then echo; echo "### CNI plugin"; echo; cat "$OUT/cni.md"; fi
  echo "<!-- END make bench -->"
} > "$OUT/section.md"
if [ -f docs/benchmarks.md ] && grep -q 'BEGIN make bench' docs/benchmarks.md; then
  awk -v f="$OUT/section.md" '/<!-- BEGIN make bench -->/{while((getline l < f)>0) print l; skip=1; next} /<!-- END make bench -->/{skip=0; next} !skip' docs/benchmarks.md > "$OUT/b.md"
  cp "$OUT/b.md" docs/benchmarks.md
else
  { echo "# Benchmarks"; echo; cat "$OUT/section.md"; } > docs/benchmarks.md
fi
echo "written to docs/benchmarks.md"
