#!/bin/sh
# make bench, in two sections:
#
#  1. the GoMLX U-Net-ResNet18 training step and forward pass (package
#     xla/unet, Go backend) next to the PyTorch reference
#     (../shared/bench/pytorch-unet-r18) with the same shapes, in one run,
#     each under /usr/bin/time -v. Prints a table: s/step, images/s, peak
#     RSS and the ratios Go/PyTorch.
#  2. the host side of training (go test -bench): the non-device work of one
#     epoch of the paper's cohort size at 320x320 (BenchmarkHostEpoch:
#     batch assembly with augmentation, evaluation's host part, checkpoint
#     snapshot; target <= 1 s on 2 cores) and the per-core rate of the
#     paper's augmentation at 320x320 (BenchmarkAugmentApply320, GOMAXPROCS=1).
#
# Environment:
#   BENCH_CONFIGS  training "SIZExBATCH:STEPS ..." (default "128x8:5 320x2:3 320x8:1")
#   BENCH_INFER    inference "SIZExBATCH:STEPS ..." (default "128x1:10 320x1:5"; "" skips)
#   BENCH_HOST     0 skips section 2 (default 1)
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
INFER=${BENCH_INFER-"128x1:10 320x1:5"}
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

WAIT_NAME=bench
. scripts/wait-idle.sh

# rss FILE: "Maximum resident set size" of a /usr/bin/time -v report, in MiB.
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }

# bench MODE SIZExBATCH:STEPS: one Go run and one PyTorch run.
bench() {
	mode=$1
	shape=${2%%:*}
	steps=${2#*:}
	size=${shape%%x*}
	batch=${shape#*x}
	wait_idle
	echo "== $mode ${size}x${size} batch $batch: Go (GoMLX), $steps timed steps" >&2
	/usr/bin/time -v -o "$OUT/time.txt" "$OUT/gobench" -mode "$mode" -size "$size" -batch "$batch" -steps "$steps" -warmup "$WARMUP" \
		>"$OUT/go.txt" 2>"$OUT/go.err" || { cat "$OUT/go.err" >&2; exit 1; }
	grep -v '^RESULT' "$OUT/go.txt" >&2
	sed -n 's/^RESULT //p' "$OUT/go.txt" | sed "s/}\$/, \"time_v_maxrss_mib\": $(rss "$OUT/time.txt")}/" >>"$OUT/results.jsonl"
	wait_idle
	echo "== $mode ${size}x${size} batch $batch: PyTorch, $steps timed steps, $THREADS threads" >&2
	(cd "$PYTORCH_DIR" && /usr/bin/time -v -o "$OUT/time.txt" "$PYTHON" bench.py --mode "$mode" --batch "$batch" --size "$size" \
		--channels 1 --threads "$THREADS" --steps "$steps" --warmup "$WARMUP") >"$OUT/pt.txt" 2>"$OUT/pt.err" ||
		{ cat "$OUT/pt.err" >&2; exit 1; }
	grep -v '^RESULT' "$OUT/pt.txt" >&2
	sed -n 's/^RESULT //p' "$OUT/pt.txt" | sed "s/}\$/, \"impl\": \"pytorch\", \"mode\": \"$mode\", \"time_v_maxrss_mib\": $(rss "$OUT/time.txt")}/" >>"$OUT/results.jsonl"
}

for c in $CONFIGS; do bench train "$c"; done
for c in $INFER; do bench infer "$c"; done

echo
echo "## 1. Training step and forward pass, Go next to PyTorch"
"$PYTHON" "$ROOT/bench/table.py" "$OUT/results.jsonl"

[ "${BENCH_HOST:-1}" = 0 ] && exit 0
echo
echo "## 2. Host side of training (non-device work; go test -bench)"
wait_idle
echo "== BenchmarkHostEpoch: one epoch of 154 training, 67 testing, 25 validation images at 320x320, device work excluded" >&2
go test -tags noxla -run '^$' -bench '^BenchmarkHostEpoch$' -benchtime 3x ./xla/unet | tee "$OUT/host.txt" >&2
wait_idle
echo "== BenchmarkAugmentApply320, one core" >&2
GOMAXPROCS=1 go test -tags noxla -run '^$' -bench '^BenchmarkAugmentApply320$' -benchtime 200x ./datasets/transform | tee "$OUT/aug.txt" >&2
awk '/^BenchmarkHostEpoch/ {for (i = 3; i < NF; i++) if ($(i+1) ~ /host-s\/epoch|batch-s\/epoch|eval-s\/epoch|snapshot-s\/epoch/) printf "| %s | %s |\n", $(i+1), $i}' "$OUT/host.txt" > "$OUT/host.md"
echo
echo "| host work of one paper-size epoch at 320x320 ($(nproc) CPUs) | seconds |"
echo "|---|---|"
cat "$OUT/host.md"
awk '/^BenchmarkAugmentApply320/ {printf "\nAugmentation at 320x320 (the paper'"'"'s kinds), one core: %.2f ms/image (%.0f images/s/core)\n", $3/1e6, 1e9/$3}' "$OUT/aug.txt"
awk '/host-s\/epoch/ {for (i = 3; i < NF; i++) if ($(i+1) == "host-s/epoch") v = $i} END {if (v != "") printf "Target (issue 11): host work of one such epoch <= 1 s on 2 cores: %s s, %s.\n", v, (v <= 1 ? "met" : "missed")}' "$OUT/host.txt"
