#!/usr/bin/env bash
# Installs, each only when missing, what `make test` and `make reproduce` need
# beyond Go itself:
#   - Debian's headless Jupyter (nbconvert + nbclient; no notebook server),
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
/usr/bin/python3 -c 'import nbclient, nbformat' 2>/dev/null || apt_missing+=(python3-nbclient python3-nbformat)
for b in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
  command -v "${b%%:*}" >/dev/null || PATH="$PATH:/usr/sbin" command -v "${b%%:*}" >/dev/null || apt_missing+=("${b#*:}")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${apt_missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

if ! command -v gonb >/dev/null || ! command -v goimports >/dev/null; then
  echo "setup: building gonb and goimports (tools/go.mod)"
  (cd tools && go install github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports)
fi

if ! jupyter kernelspec list 2>/dev/null | grep -q '^ *gonb '; then
  echo "setup: installing the gonb Jupyter kernel"
  (cd /tmp && gonb --install --raw_error --force_deps >/dev/null)
fi
echo "setup: ok (jupyter-nbconvert, gonb $(command -v gonb), goimports, kernel gonb, slurm $(PATH="$PATH:/usr/sbin" command -v slurmctld))"
