#!/usr/bin/env bash
# One-shot GPU check, run on a CUDA machine that has JAX's CUDA PJRT plugin
# (pip package jax-cuda13-pjrt) and PyTorch with CUDA:
#   bench/gpu/run.sh BIN_DIR REF_DIR OUT_DIR
# Prepare on any x86-64 Linux machine (cgo, no GPU needed), from the repo root:
#   CGO_ENABLED=1 go build -ldflags='-s -w' -o .device/bin/gobench ./bench/gobench
#   CGO_ENABLED=1 go build -ldflags='-s -w' -o .device/bin/opacity ./cmd/opacity
#   mkdir -p .device/ref && cp ../shared/bench/pytorch-unet-r18/unet_r18.py .device/ref/
# then, on the GPU machine: bench/gpu/run.sh .device/bin .device/ref OUT_DIR
# (.device/ is git-ignored.) It
#   1. finds the CUDA PJRT plugin that JAX installed and the CUDA libraries
#      of the nvidia-* pip packages, and exposes the plugin to go-xla as
#      PJRT_PLUGIN_LIBRARY_PATH/pjrt_c_api_cuda_plugin.so (GOMLX_BACKEND=xla:cuda);
#   2. times the Go (GoMLX/XLA) training step and the PyTorch reference's
#      (unet_r18.py from REF_DIR, through torch_gpu_bench.py) on the same GPU,
#      same shapes, one after the other, and writes their RESULT lines to
#      OUT_DIR/gpu-bench.jsonl;
#   3. trains the U-Net for a few epochs on a synthetic cohort through
#      `opacity train` with the XLA backend (end-to-end check of the GPU path);
#   4. times the paper's full training end to end: a synthetic cohort of the
#      paper's size (105 patients: 148/67 train/test images beside the paper's 154/67, 25
#      external), `opacity train --preset full` (320x320, 50 epochs, batch 8,
#      compilation included), with the run's per-phase times (run.json,
#      opacity eval --json) in OUT_DIR/full-*; target <= 2 minutes wall on an
#      H100/H200;
#   5. with RUN_NOTEBOOKS=1, runs the notebooks (make reproduce's script) on
#      the GPU, when go, the module cache and jupyter-nbconvert are there
#      (NB_DEBS=DIR: Debian's jupyter-nbconvert, python3-nbclient and their
#      dependencies, fetched elsewhere with apt-get download, are unpacked
#      with dpkg -x and put on PATH/PYTHONPATH); skipped with a message
#      otherwise.
set -u
bin=$1 ref=$2 out=$3
mkdir -p "$out"
log() { echo "== $*" >&2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
plugin=$(python3 scripts/cuda-pjrt-plugin.py)
if [ -z "$plugin" ]; then plugin=$(find / -name 'xla_cuda_plugin.so' 2>/dev/null | head -1); fi
log "PJRT plugin: ${plugin:-none}"
[ -n "$plugin" ] || { echo "no CUDA PJRT plugin found" >&2; exit 1; }
mkdir -p /tmp/pjrt && ln -sf "$plugin" /tmp/pjrt/pjrt_c_api_cuda_plugin.so
export PJRT_PLUGIN_LIBRARY_PATH=/tmp/pjrt GOMLX_BACKEND=xla:cuda GOMLX_NO_AUTO_INSTALL=1
# The CUDA libraries come from LD_LIBRARY_PATH below, not from nvidia/ beside the plugin.
export GOPJR_CUDA_CHECKS=0
libs=$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:-}"
export PATH="/usr/local/cuda/bin:$PATH"
python3 -c 'import jax; print("jax", jax.__version__)' >&2 || true

res="$out/gpu-bench.jsonl"; : > "$res"
for shape in "128 8" "320 2" "320 8"; do
  set -- $shape
  log "go/xla train size=$1 batch=$2"
  timeout 150 "$bin/gobench" -size "$1" -batch "$2" -warmup 3 -steps 10 2>&1 | tee -a "$out/go.log" | grep '^RESULT' | sed 's/^RESULT //' >> "$res"
  if ! grep -q '"impl":"gomlx"' "$res"; then echo "go/xla failed:" >&2; tail -30 "$out/go.log" >&2; exit 1; fi
  log "pytorch train size=$1 batch=$2"
  timeout 150 python3 bench/gpu/torch_gpu_bench.py --ref "$ref" --size "$1" --batch "$2" --channels 1 2>&1 | tee -a "$out/torch.log" | grep '^RESULT' | sed 's/^RESULT //' >> "$res"
done

log "end to end: opacity train on a synthetic cohort, XLA backend"
"$bin/opacity" data phantom --data /tmp/ph --patients 40 --seed 1 > "$out/phantom.txt"
( time timeout 150 "$bin/opacity" train --data /tmp/ph --out /tmp/run --size 320 --epochs 10 --batch 8 --seed 1 ) > "$out/train.log" 2>&1
tail -5 "$out/train.log" >&2
cp /tmp/run/metrics.csv "$out/metrics.csv" 2>/dev/null
timeout 120 "$bin/opacity" eval --run /tmp/run --data /tmp/ph --json > "$out/eval.json" 2> "$out/eval.err"

log "paper-size full training: phantom of 105 patients, opacity train --preset full (320x320, 50 epochs), XLA backend"
"$bin/opacity" data phantom --data /tmp/ph105 --patients 105 --image-size 512 --cohen-images 25 --seed 1 > "$out/full-phantom.txt"
rm -rf /tmp/run-full
start=$(date +%s.%N)
timeout 400 "$bin/opacity" train --data /tmp/ph105 --out /tmp/run-full --preset full --seed 1 > "$out/full-train.log" 2>&1
rc=$?
end=$(date +%s.%N)
echo "{\"what\": \"full training, paper-size phantom\", \"rc\": $rc, \"wall_s\": $(python3 -c "print(round($end - $start, 1))")}" | tee "$out/full-wall.json" >&2
tail -3 "$out/full-train.log" >&2
cp /tmp/run-full/run.json "$out/full-run.json" 2>/dev/null
cp /tmp/run-full/metrics.csv "$out/full-metrics.csv" 2>/dev/null
timeout 300 "$bin/opacity" eval --run /tmp/run-full --json > "$out/full-eval.json" 2> "$out/full-eval.err"

if [ "${RUN_NOTEBOOKS:-0}" = 1 ]; then
  if [ -n "${NB_DEBS:-}" ] && [ -d "$NB_DEBS" ]; then
    mkdir -p /tmp/nbroot
    for d in "$NB_DEBS"/*.deb; do dpkg -x "$d" /tmp/nbroot; done
    export PATH="/tmp/nbroot/usr/bin:$PATH" PYTHONPATH="/tmp/nbroot/usr/lib/python3/dist-packages:${PYTHONPATH:-}"
  fi
  if command -v go >/dev/null && command -v jupyter-nbconvert >/dev/null && command -v gonb >/dev/null; then
    log "notebooks on the GPU (make reproduce's script, full size)"
    ( time OPACITY_SIZE=full OPACITY_FIGURES="$out/figures" scripts/run-notebooks.sh reproduce ) > "$out/notebooks.log" 2>&1
    tail -20 "$out/notebooks.log" >&2
  else
    log "notebooks skipped: need go (with the module cache), jupyter-nbconvert (NB_DEBS) and gonb on PATH"
  fi
fi
cat "$res"
