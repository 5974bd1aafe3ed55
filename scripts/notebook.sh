#!/usr/bin/env bash
# Serves the notebooks of notebooks/ for a person to step through: Debian's
# Jupyter Notebook server (Notebook 6; `make setup` installs it) with the
# `gonb` kernel and the Go flags the notebooks need (GOFLAGS=-tags=noxla,
# the pure-Go backend, unless GOMLX_BACKEND is an XLA backend;
# GOEXPERIMENT=simd). `make notebook` runs it after `make setup`.
#
# Settings (environment or make variables):
#   NOTEBOOK_PORT   port (default 8888; the server fails rather than take another)
#   NOTEBOOK_TOKEN  the token in the URL (default: a random one, printed)
#   NOTEBOOK_IP     address to bind (default 127.0.0.1: this machine only)
#   NOTEBOOK_DIR    folder to serve (default notebooks/)
#   OPACITY_*, GOMLX_BACKEND  passed on to the notebooks (see README.md)
#
# From another machine, do not bind to a public address: tunnel the port
# over SSH instead, e.g. on your laptop
#   ssh -N -L 8888:localhost:8888 USER@THIS_MACHINE
# then open the printed URL there (http://localhost:8888/?token=...).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export PATH="$(go env GOPATH)/bin:/usr/local/go/bin:$PATH"

missing=()
command -v jupyter-notebook >/dev/null || missing+=(jupyter-notebook)
command -v gonb >/dev/null || missing+=(gonb)
command -v goimports >/dev/null || missing+=(goimports)
if [ ${#missing[@]} -eq 0 ] && ! jupyter kernelspec list 2>/dev/null | grep '^ *gonb ' >/dev/null; then missing+=("the gonb kernelspec"); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "notebook: missing ${missing[*]}: run 'make setup' first (installs Debian's jupyter-notebook, GoNB and goimports, the gonb kernel)" >&2
  exit 1
fi

port=${NOTEBOOK_PORT:-8888}
ip=${NOTEBOOK_IP:-127.0.0.1}
dir=$(realpath -m -- "${NOTEBOOK_DIR:-notebooks}")
token=${NOTEBOOK_TOKEN:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}

export GOEXPERIMENT=${GOEXPERIMENT:-simd}
case "${GOMLX_BACKEND:-}" in
  xla*) ;;
  *) case " ${GOFLAGS:-} " in *" -tags="*) ;; *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=noxla" ;; esac ;;
esac
# Relative folders in the settings are taken from the repository root, as
# make reproduce does (the kernel runs in the notebook's folder).
for v in OPACITY_DATA OPACITY_FIGURES OPACITY_RUNS OPACITY_CACHE OPACITY_COHEN_SCORES; do
  if [ -n "${!v:-}" ]; then export "$v=$(realpath -m -- "${!v}")"; fi
done

root=()
if [ "$(id -u)" = 0 ]; then root=(--allow-root); fi

host=$ip
case "$ip" in 0.0.0.0|'*'|'') host=$(hostname) ;; esac
url="http://$host:$port/?token=$token"
cat <<EOF
notebook: serving $dir (kernel gonb, GOFLAGS=$GOFLAGS GOEXPERIMENT=$GOEXPERIMENT, OPACITY_SIZE=${OPACITY_SIZE:-smoke}, OPACITY_DATA=${OPACITY_DATA:-(synthetic cohort)})
notebook: open  $url
EOF
case "$ip" in
  127.0.0.1|localhost|::1)
    echo "notebook: bound to this machine only; from another machine tunnel it over SSH:"
    echo "            ssh -N -L $port:localhost:$port $(id -un)@$(hostname)   # then open http://localhost:$port/?token=$token there"
    ;;
  *) echo "notebook: WARNING: bound to $ip: anyone who can reach this port and has the token can run code here; an SSH tunnel to 127.0.0.1 is safer" >&2 ;;
esac
echo "notebook: stop with Ctrl+C (twice, or once and answer y)"

exec jupyter notebook --no-browser "${root[@]}" --ip="$ip" --port="$port" \
  --NotebookApp.port_retries=0 --NotebookApp.token="$token" \
  --notebook-dir="$dir" --MappingKernelManager.default_kernel_name=gonb
