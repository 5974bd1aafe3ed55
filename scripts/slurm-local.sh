#!/usr/bin/env bash
# Starts and stops a private, single-node Slurm cluster on this machine, for
# tests. Everything it makes (slurm.conf, munge key and socket, controller
# state, slurmd spool, pid files, logs) lives in the folder given on the
# command line; nothing under /etc, /run or /var is read or written, so a test
# can start a cluster in a temporary folder and remove the folder afterwards.
#
#   scripts/slurm-local.sh check        exit 0 when a cluster can be started
#                                       here; else one line on stderr, exit 2
#   scripts/slurm-local.sh start DIR    start munged, slurmctld and slurmd for
#                                       DIR; on success print
#                                         export SLURM_CONF=DIR/slurm.conf
#                                       (for `eval`) and exit 0; on failure
#                                       print what failed, with the tail of its
#                                       log, stop what was started, exit 1
#                                       (exit 2 when check fails). Give the
#                                       start SLURM_LOCAL_TIMEOUT seconds
#                                       (default 30) to see the node idle.
#   scripts/slurm-local.sh stop DIR     cancel the jobs of DIR's cluster, stop
#                                       its daemons (by pid file); quiet when
#                                       they are already gone
#
#   eval "$(scripts/slurm-local.sh start "$dir")"
#   sbatch --wait --wrap hostname
#   scripts/slurm-local.sh stop "$dir"
#
# Needs root (slurmd runs jobs as their submitting user, and munged and
# slurmctld refuse keys and state they do not own) and Debian's
#   apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
# No systemd is needed: the daemons are started here and daemonise themselves.
# Written against Slurm 22.05 (Debian 12). The node is this host
# (`hostname -s`), reached at 127.0.0.1, so the host name need not resolve.
# The two TCP ports are picked free from 20000-59999 on every start.
set -euo pipefail

readonly need_bins=(munged slurmctld slurmd sbatch squeue sinfo scontrol scancel)
readonly start_timeout_s=${SLURM_LOCAL_TIMEOUT:-30}

die() { echo "slurm-local: $*" >&2; exit 1; }

# PATH lookups; munged, slurmctld and slurmd live in /usr/sbin, which is not
# on every non-login PATH.
export PATH="$PATH:/usr/sbin:/sbin"

check() {
  local b missing=()
  for b in "${need_bins[@]}"; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "slurm-local: missing ${missing[*]} (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge)" >&2
    return 2
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "slurm-local: must run as root (uid $(id -u))" >&2
    return 2
  fi
  return 0
}

# port_busy PORT: whether a TCP socket (v4 or v6) is bound to PORT.
port_busy() {
  local hex
  hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$2 ~ p"$" {f=1} END {exit !f}'
}

# free_port: a TCP port from 20000-59999 that no socket is bound to, and that
# is not in the list of ports already taken by this start.
taken_ports=()
free_port() {
  local p t ok
  for _ in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    ok=1
    for t in "${taken_ports[@]+"${taken_ports[@]}"}"; do [ "$t" != "$p" ] || ok=0; done
    if [ $ok = 1 ] && ! port_busy "$p"; then
      taken_ports+=("$p")
      echo "$p"
      return 0
    fi
  done
  die "no free TCP port found in 20000-59999"
}

# running PID [NAME]: whether PID is a live process (named NAME). A zombie is
# not: where PID 1 does not reap orphans (containers), a stopped daemon stays
# one for a while.
running() {
  local st
  { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
  if [ -n "${2:-}" ]; then
    case "$st" in "$1 ($2) "*) ;; *) return 1 ;; esac
  fi
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

# pid_alive FILE NAME: prints the pid in FILE and succeeds when that process
# runs and is named NAME (not some later process that got the same pid).
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [ -n "$pid" ] && running "$pid" "$2" || return 1
  echo "$pid"
}

# stop_pidfile FILE NAME: TERM the process in FILE, KILL it after 10 s.
stop_pidfile() {
  local pid
  pid=$(pid_alive "$1" "$2") || { rm -f "$1"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    running "$pid" || { rm -f "$1"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
  rm -f "$1"
}

# procs: "PID PPID NAME" of every process (from /proc; no procps needed).
procs() {
  local f st pid name rest
  for f in /proc/[0-9]*/stat; do
    { read -r st <"$f"; } 2>/dev/null || continue
    pid=${st%% *}
    name=${st#* (}
    name=${name%%) *}
    rest=${st##*) }
    rest=${rest#* }
    echo "$pid ${rest%% *} $name"
  done
}

# kill_tree PID: KILL PID and all its descendants.
kill_tree() {
  local all=$1 pid ppid name
  local -a queue=("$1")
  local list
  list=$(procs)
  while [ ${#queue[@]} -gt 0 ]; do
    local cur=${queue[0]}
    queue=("${queue[@]:1}")
    while read -r pid ppid name; do
      if [ "$ppid" = "$cur" ]; then queue+=("$pid"); all="$all $pid"; fi
    done <<<"$list"
  done
  # shellcheck disable=SC2086 # a list of pids
  kill -KILL $all 2>/dev/null || true
}

# slurmstepd processes (and their jobs) left behind when slurmd goes. They
# are daemons of their own (parent pid 1); ours are the ones whose working
# folder is inside DIR (slurmstepd changes to the folder of SlurmdLogFile).
stop_stepds() {
  local dir=$1 pid ppid name cwd
  while read -r pid ppid name; do
    [ "$name" = slurmstepd ] || continue
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
    case "$cwd" in
      "$dir" | "$dir"/*) kill_tree "$pid" ;;
    esac
  done < <(procs)
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd -P)
  # Cancel jobs first, so that slurmd ends their steps, while the controller
  # still answers. Bounded: a dead controller must not hang the stop.
  if [ -f "$dir/slurm.conf" ] && pid_alive "$dir/run/slurmctld.pid" slurmctld >/dev/null; then
    SLURM_CONF=$dir/slurm.conf timeout 10 scancel --quiet --partition=debug 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -z "$(SLURM_CONF=$dir/slurm.conf timeout 5 squeue -h -t running,completing,configuring -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  stop_pidfile "$dir/run/slurmd.pid" slurmd
  stop_stepds "$dir"
  stop_pidfile "$dir/run/slurmctld.pid" slurmctld
  stop_pidfile "$dir/run/munged.pid" munged
  rm -f "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
}

# fail WHAT [LOG...]: report, show the tail of each LOG, stop what was
# started, exit 1.
start_dir=""
fail() {
  local what=$1 log
  shift
  trap - ERR
  {
    echo "slurm-local: start failed: $what"
    for log in "$@"; do
      [ -s "$log" ] || continue
      echo "--- tail of $log"
      tail -n 25 "$log"
      echo "---"
    done
  } >&2
  [ -z "$start_dir" ] || stop "$start_dir" >/dev/null 2>&1 || true
  exit 1
}

start() {
  local dir=$1 t0 host cpus_line ctl_port d_port
  t0=$(date +%s.%N)
  check || exit 2
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  case "$dir" in *[[:space:]]*) die "DIR must not contain white space: $dir" ;; esac
  if pid_alive "$dir/run/slurmctld.pid" slurmctld >/dev/null || pid_alive "$dir/run/slurmd.pid" slurmd >/dev/null ||
    pid_alive "$dir/run/munged.pid" munged >/dev/null; then
    die "a cluster is already running for $dir (scripts/slurm-local.sh stop $dir)"
  fi
  start_dir=$dir
  set -E
  trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge"
  # munged wants the socket's folder and all above it searchable by all, which
  # a private temp folder (0700) is not; --force below turns that error into a
  # warning. The key itself stays 0400.
  chmod 0755 "$dir/munge"
  chmod 0700 "$dir/run" "$dir/state"
  rm -f "$dir"/log/*.log

  host=$(hostname -s)
  [ -n "$host" ] || fail "hostname -s is empty"
  # The node line as slurmd measures it (CPUs, sockets, cores, threads,
  # RealMemory); a node configured with more than it has is marked invalid.
  cpus_line=$(slurmd -C 2>/dev/null | sed -n 's/^NodeName=[^ ]* //p' | sed 's/ *UpTime=.*//' || true)
  [ -n "$cpus_line" ] || cpus_line="CPUs=$(nproc) RealMemory=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))"
  ctl_port=$(free_port)
  d_port=$(free_port)

  # munge: a private key, socket, pid, log and seed file.
  if [ ! -s "$dir/munge/munge.key" ]; then
    (umask 077 && dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none) ||
      fail "cannot write $dir/munge/munge.key"
  fi
  chmod 0400 "$dir/munge/munge.key"
  rm -f "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"

  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh for a private single-node test cluster.
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# Run the main scheduler every second (default 60 s): a job then starts about
# 1 s after its submission or its dependency's end instead of 2-3 s.
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/plugstack.conf
InactiveLimit=0
KillWait=5
# Completed jobs are forgotten 4-10 s after they end. Small,
# so that sbatch --wait polls every 2 s (it polls ever more slowly, up to
# every 32 s, when MinJobAge/2 is larger); at least 4, so that its 2 s poll
# still sees the job end. Submit dependent jobs before their dependency ends:
# afterok on a job that is forgotten counts as satisfied.
MinJobAge=4
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host $cpus_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # An empty plugin stack, so that /etc/slurm/plugstack.conf.d is not read.
  : >"$dir/plugstack.conf"

  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" >>"$dir/log/munged.log" 2>&1 ||
    fail "munged did not start" "$dir/log/munged.log"
  for _ in $(seq 1 50); do
    [ -S "$dir/munge/munge.socket" ] && break
    sleep 0.1
  done
  [ -S "$dir/munge/munge.socket" ] || fail "munged made no socket" "$dir/log/munged.log"

  # Both daemonise and write their pid files. -c: start with no saved jobs.
  slurmctld -c -f "$dir/slurm.conf" >>"$dir/log/slurmctld.log" 2>&1 ||
    fail "slurmctld did not start" "$dir/log/slurmctld.log"
  slurmd -f "$dir/slurm.conf" -N "$host" >>"$dir/log/slurmd.log" 2>&1 ||
    fail "slurmd did not start" "$dir/log/slurmd.log"

  local state="" deadline
  deadline=$(($(date +%s) + start_timeout_s))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    pid_alive "$dir/run/slurmctld.pid" slurmctld >/dev/null || { sleep 0.3; pid_alive "$dir/run/slurmctld.pid" slurmctld >/dev/null ||
      fail "slurmctld exited" "$dir/log/slurmctld.log"; }
    pid_alive "$dir/run/slurmd.pid" slurmd >/dev/null || { sleep 0.3; pid_alive "$dir/run/slurmd.pid" slurmd >/dev/null ||
      fail "slurmd exited" "$dir/log/slurmd.log"; }
    state=$(SLURM_CONF=$dir/slurm.conf timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in idle) break ;; esac
    sleep 0.2
  done
  [ "$state" = idle ] || fail "node $host not idle after ${start_timeout_s}s (state: ${state:-no answer})" \
    "$dir/log/slurmctld.log" "$dir/log/slurmd.log"
  echo "slurm-local: cluster up in $dir (node $host, ports $ctl_port/$d_port) after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')s" >&2
  echo "export SLURM_CONF=$dir/slurm.conf"
}

usage() {
  echo "usage: $0 check | start DIR | stop DIR" >&2
  exit 2
}

case "${1:-}" in
  check) [ $# -eq 1 ] || usage; check ;;
  start) [ $# -eq 2 ] || usage; start "$2" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
