#!/bin/sh
# make bench: the GoMLX U-Net-ResNet18 training step (package xla, Go
# backend) next to the PyTorch reference (../shared/bench/pytorch-unet-r18)
# with the same shapes, in one run, each under /usr/bin/time -v. Prints a
# table: s/step, images/s, peak RSS and the ratios Go/PyTorch.
#
# Environment:
#   BENCH_CONFIGS  "SIZExBATCH:STEPS ..." (default "128x8:5 320x2:3 320x8:1")
#   BENCH_WARMUP   untimed steps before the timed ones (default 2; the first compiles)
#   PYTORCH_DIR    the reference's folder (default ../shared/bench/pytorch-unet-r18)
#   PYTHON         interpreter with torch (default /usr/bin/python3, Debian's python3-torch)
#   THREADS        torch threads (default 2)
#   GOMLX_BACKEND  Go side backend (default go)
#   BENCH_WAIT_S   before each run, wait up to this many seconds (default 120)
#                  for the machine to be at most 15% busy, as run_all.sh does
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CONFIGS=${BENCH_CONFIGS:-"128x8:5 320x2:3 320x8:1"}
WARMUP=${BENCH_WARMUP:-2}
PYTORCH_DIR=${PYTORCH_DIR:-$ROOT/../shared/bench/pytorch-unet-r18}
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
export GOEXPERIMENT=${GOEXPERIMENT:-simd}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/opacity-bench.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# /usr/bin/time (Debian package "time") and PyTorch (python3-torch).
need_apt=""
[ -x /usr/bin/time ] || need_apt="$need_apt time"
if [ ! -f "$PYTORCH_DIR/bench.py" ]; then
	echo "bench: $PYTORCH_DIR/bench.py not found (set PYTORCH_DIR)" >&2
	exit 1
fi
"$PYTHON" -c 'import torch, torchvision' 2>/dev/null || need_apt="$need_apt python3-torch python3-torchvision"
if [ -n "$need_apt" ]; then
	echo "bench: installing$need_apt (Debian packages)" >&2
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_apt >&2
	else
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_apt >&2
	fi
fi

echo "bench: building the Go benchmark (GOEXPERIMENT=$GOEXPERIMENT, -tags noxla)" >&2
go build -tags noxla -o "$OUT/gobench" ./bench/gobench

# wait_idle: wait (up to BENCH_WAIT_S seconds) until other processes leave
# the CPUs mostly idle (<= 15% busy over 3 s); timings taken on a busy
# machine are not comparable (OpenMP in PyTorch suffers most).
WAIT_S=${BENCH_WAIT_S:-120}
wait_idle() {
	waited=0
	while :; do
		a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		sleep 3
		b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		pct=$(echo "$a $b" | awk '{d=$4-$2; if (d<=0) d=1; printf "%d", 100*($3-$1)/d}')
		[ "$pct" -le 15 ] && return 0
		waited=$((waited + 3))
		if [ "$waited" -ge "$WAIT_S" ]; then
			echo "bench: machine still ${pct}% busy after ${WAIT_S}s, running anyway" >&2
			return 0
		fi
		[ $((waited % 30)) -lt 3 ] && echo "bench: machine ${pct}% busy, waiting..." >&2
	done
}

# rss FILE: "Maximum resident set size" of a /usr/bin/time -v report, in MiB.
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }

for c in $CONFIGS; do
	shape=${c%%:*}
	steps=${c#*:}
	size=${shape%%x*}
	batch=${shape#*x}
	wait_idle
	echo "== ${size}x${size} batch $batch: Go (GoMLX), $steps timed steps" >&2
	/usr/bin/time -v -o "$OUT/time.txt" "$OUT/gobench" -size "$size" -batch "$batch" -steps "$steps" -warmup "$WARMUP" \
		>"$OUT/go.txt" 2>"$OUT/go.err" || { cat "$OUT/go.err" >&2; exit 1; }
	grep -v '^RESULT' "$OUT/go.txt" >&2
	sed -n 's/^RESULT //p' "$OUT/go.txt" | sed "s/}\$/, \"time_v_maxrss_mib\": $(rss "$OUT/time.txt")}/" >>"$OUT/results.jsonl"
	wait_idle
	echo "== ${size}x${size} batch $batch: PyTorch, $steps timed steps, $THREADS threads" >&2
	(cd "$PYTORCH_DIR" && /usr/bin/time -v -o "$OUT/time.txt" "$PYTHON" bench.py --mode train --batch "$batch" --size "$size" \
		--channels 1 --threads "$THREADS" --steps "$steps" --warmup "$WARMUP") >"$OUT/pt.txt" 2>"$OUT/pt.err" ||
		{ cat "$OUT/pt.err" >&2; exit 1; }
	grep -v '^RESULT' "$OUT/pt.txt" >&2
	sed -n 's/^RESULT //p' "$OUT/pt.txt" | sed "s/}\$/, \"impl\": \"pytorch\", \"time_v_maxrss_mib\": $(rss "$OUT/time.txt")}/" >>"$OUT/results.jsonl"
done

"$PYTHON" "$ROOT/bench/table.py" "$OUT/results.jsonl"
