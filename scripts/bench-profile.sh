#!/bin/sh
# make bench-profile: where the time of one training step and one forward
# pass goes, per kind of work, Go (GoMLX, Go backend) beside the PyTorch
# reference (../shared/bench/pytorch-unet-r18), at each SIZExBATCH of
# PROFILE_CONFIGS, with each kind's share and the convolutions' achieved
# GFLOP/s against the machine's peak.
#
#  Go:      bench/gobench -cpuprofile over the timed steps (after one
#           compiling warm-up), `go tool pprof -traces` grouped by backend
#           op kind with bench/pprofkinds (its doc comment maps kinds to
#           layers); a kind's seconds per step = its CPU seconds / steps /
#           cores (what it takes with both cores on it), and the rest of the
#           median step is cores idle.
#  PyTorch: bench/torch_profile.py, torch.profiler over one step after two
#           warm-ups, self CPU time grouped by layer kind.
#  Peak:    cores x FLOPS_PER_CYCLE x the clock of /proc/cpuinfo; default 32
#           fp32 flop/cycle/core: two 256-bit FMA pipes (AMD Zen 4 runs
#           AVX-512 as two 256-bit halves; set 64 for a CPU with two 512-bit
#           FMA units).
#
# Environment: PROFILE_CONFIGS ("SIZExBATCH:TRAIN_STEPS:INFER_STEPS ...",
# default "128x8:3:5 320x8:1:2"), PYTORCH_DIR, PYTHON, THREADS (2),
# FLOPS_PER_CYCLE (32), BENCH_WAIT_S (120; see scripts/bench.sh).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CONFIGS=${PROFILE_CONFIGS:-"128x8:3:5 320x8:1:2"}
PYTORCH_DIR=${PYTORCH_DIR:-$ROOT/../shared/bench/pytorch-unet-r18}
export PYTORCH_DIR
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
FPC=${FLOPS_PER_CYCLE:-32}
export GOEXPERIMENT=${GOEXPERIMENT:-simd}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/opacity-profile.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

"$PYTHON" -c 'import torch, torchvision' 2>/dev/null || {
	echo "bench-profile: needs PyTorch for $PYTHON (make bench installs Debian's python3-torch)" >&2
	exit 1
}
go build -tags noxla -o "$OUT/gobench" ./bench/gobench
go build -o "$OUT/pprofkinds" ./bench/pprofkinds

WAIT_NAME=bench-profile
. scripts/wait-idle.sh

cores=$(nproc)
mhz=$(awk -F': ' '/^cpu MHz/ {print $2; exit}' /proc/cpuinfo)
peak=$(awk -v c="$cores" -v m="$mhz" -v f="$FPC" 'BEGIN {printf "%.1f", c * f * m / 1000}')
model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "# Per-kind profile, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "CPU: $model, $cores cores at $mhz MHz; peak fp32 $peak GFLOP/s ($cores x $FPC flop/cycle x clock)"

# gorun MODE SIZE BATCH STEPS: profile the Go side; writes $OUT/go-MODE.tsv, prints the median s/step.
gorun() {
	wait_idle
	"$OUT/gobench" -mode "$1" -size "$2" -batch "$3" -steps "$4" -warmup 1 -cpuprofile "$OUT/$1.prof" \
		>"$OUT/go.txt" 2>"$OUT/go.err" || { cat "$OUT/go.err" >&2; exit 1; }
	grep -v '^RESULT' "$OUT/go.txt" >&2
	go tool pprof -traces "$OUT/gobench" "$OUT/$1.prof" 2>/dev/null | "$OUT/pprofkinds" >"$OUT/go-$1.tsv"
	sed -n 's/^RESULT .*"s_per_step":\([0-9.e+-]*\).*/\1/p' "$OUT/go.txt"
}

for c in $CONFIGS; do
	shape=${c%%:*}
	rest=${c#*:}
	tsteps=${rest%%:*}
	isteps=${rest#*:}
	size=${shape%%x*}
	batch=${shape#*x}
	echo "== ${size}x${size} batch $batch: Go training step ($tsteps profiled) and forward pass ($isteps)" >&2
	ts=$(gorun train "$size" "$batch" "$tsteps")
	is=$(gorun infer "$size" "$batch" "$isteps")
	echo "== ${size}x${size} batch $batch: PyTorch, $THREADS threads" >&2
	wait_idle
	"$PYTHON" bench/torch_profile.py --size "$size" --batch "$batch" --threads "$THREADS" --peak "$peak" \
		--go-train "$OUT/go-train.tsv" --go-train-s "$ts" --go-train-steps "$tsteps" \
		--go-infer "$OUT/go-infer.tsv" --go-infer-s "$is" --go-infer-steps "$isteps"
done
