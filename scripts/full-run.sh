#!/usr/bin/env bash
# The researcher's full run, checked, in one go:
#   1. setup      make setup
#   2. data       make data (downloads the real data into ./data), or the
#                 data folder given as DATA, or the synthetic cohort (DATA=synthetic)
#   3. build      make build (and make build-xla for an XLA backend)
#   4. train      opacity train at the chosen size on the available backend
#                 (the run folder the notebooks then reuse), timed, with the
#                 run's own phase times (run.json)
#   5. notebooks  every notebook, headless (scripts/run-notebooks.sh reproduce)
#   6. verdict    every number against the committed expected values
#                 (scripts/verdict.sh check)
# and writes a short report: what ran, where the time went, the verdict.
#
#   scripts/full-run.sh [DATA]
#
# DATA: fetch (default: make data into ./data; needs the internet), a data
# folder (e.g. ../shared/data), or synthetic. Environment:
#   FULL_RUN_SIZE   the size preset (default full: the paper's 320x320, 50 epochs)
#   FULL_RUN_OUT    the report folder (default .cache/full-run/SIZE-DATA); holds
#                   report.md, report.json, figures/ (every figure and table),
#                   runs/ (the trained run), and each phase's log
#   GOMLX_BACKEND   default: xla:cuda when nvidia-smi sees a GPU and a CUDA PJRT
#                   plugin is found (scripts/cuda-pjrt-plugin.py: JAX's jax-cuda13-pjrt),
#                   else go (the CPU)
#   FULL_RUN_BIN    a prebuilt opacity binary (for an offline GPU machine without
#                   the Go module cache: build it elsewhere with make build-xla);
#                   the build phase is then skipped
# A failed setup (an offline machine without Jupyter) does not stop the
# training: the notebooks and the verdict are then skipped, saying why.
# Exit status: 0 when every phase ran and the verdict is PASS or NO VERDICT
# (no expected values committed for these settings: the report says so),
# 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export PATH="$(go env GOPATH)/bin:/usr/local/go/bin:$PATH"

data_arg=${1:-fetch}
size=${FULL_RUN_SIZE:-full}
case "$data_arg" in
  fetch) tag=data ;;
  synthetic) tag=synthetic ;;
  *) tag=$(basename "$(realpath -m -- "$data_arg")") ;;
esac
out=$(realpath -m -- "${FULL_RUN_OUT:-.cache/full-run/$size-$tag}")
rm -rf "$out/figures" "$out/phases.tsv" "$out"/*.log
mkdir -p "$out"
phases="$out/phases.tsv"
: >"$phases"
t_start=$SECONDS
status=ok

say() { echo "full-run: $*"; }
# phase NAME CMD...: runs CMD with its output in OUT/NAME.log (and on the
# terminal), records its wall time; a failure ends the run.
phase() {
  local name=$1; shift
  local t0=$SECONDS rc=0
  say "== $name: $*"
  "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  printf '%s\t%d\t%d\n' "$name" "$((SECONDS - t0))" "$rc" >>"$phases"
  say "   $name: $((SECONDS - t0)) s (exit $rc)"
  return "$rc"
}

# The backend: a GPU through XLA when one is there with a PJRT plugin, else the CPU.
gpu=""
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
fi
if [ -z "${GOMLX_BACKEND:-}" ]; then
  export GOMLX_BACKEND=go
  if [ -n "$gpu" ]; then
    plugin=$(/usr/bin/env python3 scripts/cuda-pjrt-plugin.py 2>/dev/null)
    if [ -n "$plugin" ]; then
      mkdir -p "$out/pjrt" && ln -sf "$plugin" "$out/pjrt/pjrt_c_api_cuda_plugin.so"
      site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
      export GOMLX_BACKEND=xla:cuda PJRT_PLUGIN_LIBRARY_PATH="$out/pjrt" GOMLX_NO_AUTO_INSTALL=1 GOPJR_CUDA_CHECKS=0
      export LD_LIBRARY_PATH="$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
    else
      say "a GPU ($gpu) but no CUDA PJRT plugin (pip install jax[cuda13] brings one): training on the CPU"
    fi
  fi
fi
opacity=bin/opacity
case "$GOMLX_BACKEND" in xla*) opacity=bin/opacity-xla ;; esac

notes=()
if ! phase setup make setup; then
  notes+=("make setup failed (see setup.log): the notebooks and the verdict need what it installs")
  setup_failed=1
fi

# The data.
if [ "$status" = ok ]; then
  case "$data_arg" in
    fetch) phase data make data && data=$repo/data || status=failed ;;
    synthetic) data="" ; printf 'data\t0\t0\n' >>"$phases" ;;
    *) data=$(realpath -m -- "$data_arg")
       if [ -d "$data" ]; then printf 'data\t0\t0\n' >>"$phases"; else say "no data folder $data"; status=failed; fi ;;
  esac
fi

if [ "$status" = ok ]; then
  if [ -n "${FULL_RUN_BIN:-}" ]; then opacity=$(realpath -- "$FULL_RUN_BIN"); printf 'build\t0\t0\n' >>"$phases"; notes+=("prebuilt binary $opacity")
  elif [ "$opacity" = bin/opacity-xla ]; then phase build sh -c 'make build && make build-xla' || status=failed
  else phase build make build || status=failed; fi
fi

# Settings of the notebooks and of opacity train: the same run folder. The
# preset as it is: opacity train reads flags, not variables, so any other
# OPACITY_* setting would make the notebooks train a run of their own.
for v in $(compgen -e | grep '^OPACITY_'); do unset "$v"; done
export OPACITY_SIZE=$size OPACITY_RUNS="$out/runs" OPACITY_FIGURES="$out/figures"
if [ -n "${data:-}" ]; then export OPACITY_DATA=$data; fi
if [ "$status" = ok ]; then
  args=(train --preset "$size" --runs "$OPACITY_RUNS" --backend "$GOMLX_BACKEND")
  if [ -n "${data:-}" ]; then args+=(--data "$data"); fi
  phase train "$opacity" "${args[@]}" || status=failed
fi
if [ "$status" = ok ] && [ -n "${setup_failed:-}" ]; then
  status=failed
  notes+=("notebooks and verdict skipped: make setup failed")
fi
if [ "$status" = ok ]; then
  VERDICT=0 phase notebooks scripts/run-notebooks.sh reproduce || status=failed
fi
verdict_line="not run"
if [ "$status" = ok ]; then
  phase verdict scripts/verdict.sh check "$OPACITY_FIGURES" || status=failed
  verdict_line=$(grep -E '^verdict: (PASS|DIFF|NO VERDICT)' "$out/verdict.log" | head -1 | sed 's/^verdict: //')
fi
total=$((SECONDS - t_start))

# The report.
# The run opacity train made (or found complete): the folder its log names.
run_dir=""
if [ -f "$out/train.log" ]; then
  run_dir=$(grep -o "run folder $OPACITY_RUNS/[^ ]*" "$out/train.log" | tail -1 | sed 's/^run folder //')
fi
{
  echo "# Full run: $size, data ${data:-synthetic cohort}, backend $GOMLX_BACKEND"
  echo
  echo "- commit $(git rev-parse --short=7 HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)'), $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), GPU: ${gpu:-none}; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- outcome: **$status**, $((total / 60)) min $((total % 60)) s wall in all"
  echo "- verdict: $verdict_line (table: verdict.log)"
  for n in "${notes[@]}"; do echo "- note: $n"; done
  echo
  echo "| phase | wall | exit |"
  echo "|---|---|---|"
  while IFS=$'\t' read -r n s rc; do echo "| $n | $((s / 60)) min $((s % 60)) s | $rc |"; done <"$phases"
  echo
  if [ -f "$out/notebooks.log" ]; then
    echo "Notebooks (run-notebooks.sh): $(grep -E '^== |^   ok' "$out/notebooks.log" | paste -sd' ' | sed 's/== //g; s/\.ipynb //g; s/   ok (\([0-9]*\) s)/ \1 s,/g; s/,$//')"
    echo
  fi
  if [ -n "$run_dir" ] && [ -f "$run_dir/run.json" ]; then
    echo "Training ($(basename "$run_dir")), where its time went (run.json, seconds):"
    echo
    /usr/bin/python3 - "$run_dir/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d.get("timing") or {}
tot = t.get("total") if isinstance(t.get("total"), dict) else t
rows = [(k, v) for k, v in (tot or {}).items() if isinstance(v, (int, float))]
if isinstance(t.get("prepare_s"), (int, float)):
    rows.insert(0, ("prepare_s", t["prepare_s"]))
print(f"backend {d.get('backend', '?')}, {d.get('steps_per_epoch', '?')} steps per epoch, status {d.get('status', '?')}\n")
if rows:
    print("| part | seconds |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v:.1f} |")
else:
    print("(no timing in run.json)")
PY
    echo
  fi
} >"$out/report.md"
/usr/bin/python3 - "$phases" "$out/report.json" "$status" "$total" "$verdict_line" "$size" "${data:-synthetic}" "$GOMLX_BACKEND" "${gpu:-}" <<'PY'
import json, sys
phases = [dict(zip(("phase", "seconds", "exit"), l.rstrip("\n").split("\t"))) for l in open(sys.argv[1]) if l.strip()]
for p in phases:
    p["seconds"], p["exit"] = int(p["seconds"]), int(p["exit"])
json.dump({"status": sys.argv[3], "wall_s": int(sys.argv[4]), "verdict": sys.argv[5], "size": sys.argv[6],
           "data": sys.argv[7], "backend": sys.argv[8], "gpu": sys.argv[9], "phases": phases},
          open(sys.argv[2], "w"), indent=1)
PY
echo
cat "$out/report.md"
say "report: $out/report.md (and report.json); figures: $OPACITY_FIGURES"
[ "$status" = ok ]
