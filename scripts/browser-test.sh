#!/usr/bin/env bash
# The student's path, tested in a real browser (part of `make test`): starts
# the notebook server of `make notebook` (scripts/notebook.sh) on a tiny
# synthetic cohort in a scratch folder, opens a copy of notebook 02-train in
# Debian's headless Chromium driven by puppeteer-core
# (tests/browser/notebook-test.mjs), types a change into its settings()
# cell, runs the cells with the page's "Cell > Run All" and checks in the
# page: no error output, the live progress display changing while training
# ran, the figure shown, the run folder named after the changed settings.
#
# Writes into BROWSER_TEST_OUT (default .cache/browser-test, emptied first):
# notebook.png (the page at the end), during-training.png, report.json (the
# checks, every progress content seen, the page's console), outputs.json,
# the saved notebook, server.log. Skips (exit 0, saying why) where Chromium,
# node, puppeteer-core or jupyter-notebook is missing or Chromium cannot
# start; BROWSER_TEST_REQUIRED=1 makes a skip a failure.
#
# The copy, notebooks/browser-test-02-train.ipynb (git-ignored), is served
# beside the real notebooks so that it runs exactly as they do, and removed
# at the end; the committed notebook is never opened.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export PATH="$(go env GOPATH)/bin:/usr/local/go/bin:$PATH"

out=$(realpath -m -- "${BROWSER_TEST_OUT:-.cache/browser-test}")
epochs=${BROWSER_TEST_EPOCHS:-3}
chromium=${CHROMIUM:-$(command -v chromium || true)}

skip() {
  echo "browser test: SKIP: $*"
  mkdir -p "$out" && echo "SKIP: $*" >"$out/SKIPPED"
  if [ "${BROWSER_TEST_REQUIRED:-0}" = 1 ]; then exit 1; fi
  exit 0
}

rm -rf "$out"
mkdir -p "$out"
[ -n "$chromium" ] || skip "no chromium on PATH (make setup installs Debian's chromium)"
command -v node >/dev/null || skip "no node on PATH (make setup installs Debian's nodejs)"
[ -d tests/browser/node_modules/puppeteer-core ] || skip "no tests/browser/node_modules/puppeteer-core (make setup runs npm ci there; npm unreachable?)"
command -v jupyter-notebook >/dev/null || skip "no jupyter-notebook (make setup installs Debian's)"
command -v gonb >/dev/null || skip "no gonb (make setup)"
# Can Chromium start here at all?
probe=0
timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
    --user-data-dir="$out/chromium-probe" --dump-dom about:blank >"$out/chromium-probe.log" 2>&1 || probe=$?
if [ $probe -ne 0 ]; then
  skip "chromium ($chromium) cannot start headless here (exit $probe): $(grep -v '^\s*$' "$out/chromium-probe.log" | tail -3 | tr '\n' ' ')"
fi
rm -rf "$out/chromium-probe"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
copy=notebooks/browser-test-02-train.ipynb
cp notebooks/02-train.ipynb "$copy"
server=""
cleanup() {
  if [ -n "$server" ]; then
    # Jupyter shuts its kernels down on TERM; KILL only what is left after 15 s.
    kill -TERM -- "-$server" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$server" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -f "$copy" ]; then cp "$copy" "$out/saved-02-train.ipynb"; rm -f "$copy"; fi
  rm -rf notebooks/.ipynb_checkpoints/browser-test-02-train-checkpoint.ipynb
  rm -rf "$out/chromium-profile"
}
trap cleanup EXIT

# The server as `make notebook` starts it, on the tiny cohort in scratch folders.
work="$out/work"
mkdir -p "$work"
(
  for v in $(compgen -e | grep '^OPACITY_'); do unset "$v"; done # every setting at its preset's value
  unset GOMLX_BACKEND
  export OPACITY_SIZE=tiny OPACITY_SEED=1 OPACITY_CACHE="$work/cache" OPACITY_RUNS="$work/runs" OPACITY_FIGURES="$work/figures"
  export NOTEBOOK_PORT=$port NOTEBOOK_TOKEN=$token NOTEBOOK_IP=127.0.0.1
  exec setsid scripts/notebook.sh
) >"$out/server.log" 2>&1 &
server=$!
for _ in $(seq 120); do
  if curl -fs "http://127.0.0.1:$port/api/status?token=$token" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then echo "browser test: the notebook server exited:" >&2; tail -20 "$out/server.log" >&2; exit 1; fi
  sleep 0.5
done
curl -fs "http://127.0.0.1:$port/api/status?token=$token" >/dev/null || { echo "browser test: the notebook server did not answer in 60 s" >&2; tail -20 "$out/server.log" >&2; exit 1; }
echo "browser test: notebook server on 127.0.0.1:$port (tiny synthetic cohort in $work), chromium $("$chromium" --version 2>/dev/null | head -1)"

t0=$SECONDS
rc=0
NB_URL="http://127.0.0.1:$port" NB_TOKEN=$token NB_PATH=$(basename "$copy") OUT=$out RUNS="$work/runs" \
  EPOCHS=$epochs DEFAULT_EPOCHS=2 CHROMIUM=$chromium TIMEOUT_S=${BROWSER_TEST_TIMEOUT_S:-900} \
  node tests/browser/notebook-test.mjs || rc=$?
if [ $rc -ne 0 ]; then
  echo "browser test: FAILED ($((SECONDS - t0)) s); see $out/report.json, $out/notebook.png and the server's log $out/server.log (end:)" >&2
  grep -v '^\[I ' "$out/server.log" | tail -15 >&2 || true
  exit 1
fi
rm -rf "$work/cache"
echo "browser test: ok in $((SECONDS - t0)) s; screenshot $out/notebook.png (and during-training.png), report $out/report.json"
