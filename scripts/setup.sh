#!/usr/bin/env bash
# Installs, each only when missing, what `make test` and `make reproduce` need
# beyond Go itself:
#   - Debian's headless Jupyter (nbconvert + nbclient) and its notebook
#     server (jupyter-notebook, Notebook 6: `make notebook`),
#   - for the browser test of `make test` (scripts/browser-test.sh): Debian's
#     chromium and, when node is missing, nodejs and npm; then puppeteer-core
#     at the version pinned in tests/browser/package-lock.json (npm ci, into
#     tests/browser/node_modules, git-ignored). These three are not fatal:
#     where they cannot be installed the browser test skips, saying why,
#   - Debian's Slurm and munge (slurmctld, slurmd, slurm-client, munge): the
#     test of the cross-validation's Slurm path starts a private single-node
#     cluster with them (scripts/slurm-local.sh; no daemon is left running),
#   - GoNB (the Go Jupyter kernel) and goimports, at the versions pinned in
#     tools/go.mod, into $(go env GOPATH)/bin,
#   - the `gonb` kernelspec for the current user.
# Needs root or sudo for apt; the Go module proxy for the Go tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:/usr/local/go/bin:$PATH"

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

apt_missing=()
command -v jupyter-nbconvert >/dev/null || apt_missing+=(jupyter-nbconvert jupyter-client python3-nbclient python3-nbformat)
command -v jupyter-notebook >/dev/null || apt_missing+=(jupyter-notebook)
/usr/bin/python3 -c 'import nbclient, nbformat' 2>/dev/null || apt_missing+=(python3-nbclient python3-nbformat)
for b in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
  command -v "${b%%:*}" >/dev/null || PATH="$PATH:/usr/sbin" command -v "${b%%:*}" >/dev/null || apt_missing+=("${b#*:}")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${apt_missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

# The browser test's tools: a failure here only makes that test skip.
browser_missing=()
command -v chromium >/dev/null || browser_missing+=(chromium)
command -v node >/dev/null || browser_missing+=(nodejs)
command -v npm >/dev/null || browser_missing+=(npm)
if [ ${#browser_missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages for the browser test: ${browser_missing[*]}"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${browser_missing[@]}" >/dev/null; } ||
    echo "setup: warning: could not install ${browser_missing[*]}: the browser test will skip" >&2
fi
browser="tests/browser"
if command -v npm >/dev/null && ! cmp -s "$browser/package-lock.json" "$browser/node_modules/.package-lock.json.installed" 2>/dev/null; then
  echo "setup: installing puppeteer-core (tests/browser/package-lock.json) with npm ci"
  if (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    cp "$browser/package-lock.json" "$browser/node_modules/.package-lock.json.installed"
  else
    echo "setup: warning: npm ci in $browser failed: the browser test will skip" >&2
  fi
fi

if ! command -v gonb >/dev/null || ! command -v goimports >/dev/null; then
  echo "setup: building gonb and goimports (tools/go.mod)"
  (cd tools && go install github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports)
fi

if ! jupyter kernelspec list 2>/dev/null | grep '^ *gonb ' >/dev/null; then
  echo "setup: installing the gonb Jupyter kernel"
  (cd /tmp && gonb --install --raw_error --force_deps >/dev/null)
fi
echo "setup: ok (jupyter-nbconvert, jupyter-notebook, chromium $(command -v chromium || echo missing), puppeteer-core $([ -d "$browser/node_modules/puppeteer-core" ] && echo ok || echo missing), gonb $(command -v gonb), goimports, kernel gonb, slurm $(PATH="$PATH:/usr/sbin" command -v slurmctld))"
