#!/usr/bin/env python3
"""Prints the path of the CUDA PJRT plugin that JAX's pip package installed
(jax-cuda13-pjrt, else jax-cuda12-pjrt), or nothing when there is none.

Used by scripts/full-run.sh and bench/gpu/run.sh, which expose it to go-xla
as PJRT_PLUGIN_LIBRARY_PATH/pjrt_c_api_cuda_plugin.so.
"""
import glob, os, importlib
for mod in ("jax_plugins.xla_cuda13", "jax_plugins.xla_cuda12"):
    try:
        m = importlib.import_module(mod)
    except Exception:
        continue
    so = sorted(glob.glob(os.path.join(os.path.dirname(m.__file__), "*.so")))
    if so:
        print(so[0]); break
