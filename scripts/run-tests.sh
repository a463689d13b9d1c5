#!/usr/bin/env bash
# Runs the compiled tap tests and ends with "N passed, N failed" (CI reads it).
# Usage: scripts/run-tests.sh [all|unit|integration] [extra tap args]
set -uo pipefail
cd "$(dirname "$0")/.."
sel=${1:-all}; shift || true
dirs=()
case "$sel" in
  all) dirs=(dist/test/unit dist/test/integration) ;;
  unit) dirs=(dist/test/unit) ;;
  integration) dirs=(dist/test/integration) ;;
  *) dirs=("$sel") ;;
esac
mapfile -t files < <(find "${dirs[@]}" -name '*.test.js' 2>/dev/null | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files under ${dirs[*]}"; echo "0 passed, 1 failed"; exit 1; fi
log=$(mktemp)
# Integration tests must never skip silently: a missing prerequisite fails.
export WEFT_REQUIRE_INTEGRATION=1
env -u NODE_EXTRA_CA_CERTS npx --no-install tap --reporter=tap --jobs="${TEST_JOBS:-2}" "$@" "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^# \{ total:' "$log" | tail -1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
pass=${pass:-0}; fail=${fail:-0}
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
# What failed, named, right above the totals (the end of a CI log is often all one sees of it).
node scripts/tap-failures.mjs "$log" 12 || true
rm -f "$log"
echo "${pass} passed, ${fail} failed"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
