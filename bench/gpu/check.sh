#!/bin/sh
# GPU check of issue 4, one short script for a GPU machine with JAX and
# PyTorch installed: times the GoMLX training step on XLA/PJRT CUDA (the
# CUDA PJRT plugin that JAX installs) next to PyTorch on the same GPU.
#
# Prepare here (no GPU needed; cgo, ~2 min the first time):
#   CGO_ENABLED=1 go build -o bench/gpu/gobench-xla ./bench/gobench
# then, on the GPU machine, from the repository root:
#   sh bench/gpu/check.sh            # prints RESULT lines and a table
# Variables: CONFIGS (default "128x8:10 320x8:10"), PJRT_PLUGIN (path of
# the CUDA PJRT plugin, found in JAX's site-packages when unset), PYTHON.
set -u
cd "$(dirname "$0")/../.."
CONFIGS=${CONFIGS:-"128x8:10 320x8:10"}
PYTHON=${PYTHON:-python3}
BIN=bench/gpu/gobench-xla
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if [ -z "${PJRT_PLUGIN:-}" ]; then
	PJRT_PLUGIN=$("$PYTHON" - <<'PY'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
for r in roots:
    for pat in ("jax_plugins/xla_cuda*/xla_cuda_plugin.so", "jax_plugins/*/*.so", "jaxlib/*cuda*plugin*.so"):
        for f in sorted(glob.glob(os.path.join(r, pat))):
            print(f)
            raise SystemExit
PY
)
fi
echo "PJRT plugin: ${PJRT_PLUGIN:-not found}"
[ -n "${PJRT_PLUGIN:-}" ] || { echo "no CUDA PJRT plugin found: set PJRT_PLUGIN" >&2; exit 1; }
export GOMLX_NO_AUTO_INSTALL=1
export GOMLX_BACKEND="xla:$PJRT_PLUGIN"
# The plugin needs the CUDA libraries that JAX's nvidia-* wheels install.
NV=$("$PYTHON" -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null || true)
if [ -n "$NV" ]; then
	for d in "$NV"/nvidia/*/lib; do LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; done
	export LD_LIBRARY_PATH
fi
OUT=$(mktemp)
for c in $CONFIGS; do
	shape=${c%%:*}; steps=${c#*:}; size=${shape%%x*}; batch=${shape#*x}
	echo "== ${size}x${size} batch $batch: GoMLX on $GOMLX_BACKEND"
	timeout 240 "$BIN" -size "$size" -batch "$batch" -steps "$steps" -warmup 3 2>&1 | tee -a "$OUT" | grep -v '^step'
	echo "== ${size}x${size} batch $batch: PyTorch"
	timeout 120 "$PYTHON" bench/gpu/pytorch_gpu.py --size "$size" --batch "$batch" --steps "$steps" 2>&1 | tee -a "$OUT"
done
"$PYTHON" - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l[7:]) for l in open(sys.argv[1]) if l.startswith("RESULT ")]
by = {}
for r in rows:
    by.setdefault((r["size"], r["batch"]), {})[r["impl"]] = r
print("\n| size | batch | GoMLX s/step | PyTorch s/step | throughput GoMLX/PyTorch |\n|---|---|---|---|---|")
for (s, b), d in sorted(by.items()):
    g, p = d.get("gomlx"), d.get("pytorch")
    print("| %d | %d | %s | %s | %s |" % (s, b, "%.4f" % g["s_per_step"] if g else "-", "%.4f" % p["s_per_step"] if p else "-",
          "%.3f" % (p["s_per_step"] / g["s_per_step"]) if g and p else "-"))
dev = next((r.get("device") for r in rows if r.get("device")), "?")
print("\nGPU:", dev)
PY
