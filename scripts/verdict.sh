#!/usr/bin/env bash
# The reviewer's verdict on a reproduction (package verdict, command
# cmd/verdict): every number and file of FIGURES/numbers.json against the
# expected values committed in figures/expected-{synthetic,real}-SIZE.csv.
#
#   scripts/verdict.sh check  [FIGURES]   prints item / expected / got / tolerance / PASS or DIFF;
#                                         exit 1 on a DIFF (also MISSING, NEW), 0 on PASS, and 0 with
#                                         NO VERDICT when no expected values exist for the run's
#                                         settings (VERDICT_REQUIRED=1: exit 3 then)
#   scripts/verdict.sh update [FIGURES]   rewrites the expected file of the run's settings from it, on
#                                         purpose (make expected; REPRODUCE.md says when)
#
# FIGURES defaults to OPACITY_FIGURES, else figures; VERDICT_SOURCE says in the
# updated file what run the numbers come from (default: FIGURES/numbers.json). VERDICT_STRICT=1 compares
# every number exactly (same commit, same machine); VERDICT_BRIEF=1 prints
# only the items that did not pass.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
mode=${1:-check}
figures=$(realpath -m -- "${2:-${OPACITY_FIGURES:-figures}}")
bin="$repo/bin/verdict"
if [ ! -x "$bin" ] || [ -n "$(find verdict cmd/verdict -name '*.go' -newer "$bin" 2>/dev/null | head -1)" ]; then
  go build -tags=noxla -o "$bin" ./cmd/verdict
fi
if [ ! -f "$figures/numbers.json" ]; then
  echo "verdict: no $figures/numbers.json: run make reproduce first" >&2
  exit 2
fi
case "$mode" in
check)
  flags=()
  if [ "${VERDICT_STRICT:-0}" = 1 ]; then flags+=(-strict); fi
  if [ "${VERDICT_BRIEF:-0}" = 1 ]; then flags+=(-brief); fi
  rc=0
  "$bin" -figures "$figures" -dir "$repo/figures" "${flags[@]}" || rc=$?
  case $rc in
    0) ;;
    3) if [ "${VERDICT_REQUIRED:-0}" = 1 ]; then exit 3; fi
       echo "verdict: (the numbers above are not judged: commit expected values for these settings with make expected, see REPRODUCE.md)" ;;
    *) exit "$rc" ;;
  esac
  ;;
update)
  commit=$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
  dirty=""
  if ! git diff --quiet HEAD -- . ':!figures' 2>/dev/null; then dirty=" (with uncommitted changes)"; fi
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
  "$bin" -update -figures "$figures" -dir "$repo/figures" \
    -note "Made $(date -u +%Y-%m-%d) from commit $commit$dirty by scripts/verdict.sh update on ${VERDICT_SOURCE:-the numbers of $figures/numbers.json}," \
    -note "on $(nproc) CPUs ($cpu), GOMLX_BACKEND=${GOMLX_BACKEND:-go}. To remake on purpose: rerun make reproduce with the same settings, then make expected (REPRODUCE.md)."
  ;;
*) echo "usage: $0 check|update [FIGURES]" >&2; exit 2 ;;
esac
