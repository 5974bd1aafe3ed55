"""Print the Go-vs-PyTorch table of scripts/bench.sh from its results (JSON lines).

Each configuration (mode train or infer, size, batch) has one Go row (gobench)
and one PyTorch row (bench.py of ../shared/bench/pytorch-unet-r18). Columns:
median seconds per training step (or forward pass), images per second, peak RSS from /usr/bin/time -v, the share
of the CPUs other processes used during the timed steps, and the ratios
Go/PyTorch of throughput (images/s; higher is better for Go) and of peak RSS.
"""
import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for r in rows:
        by.setdefault((r.get("mode", "train"), r["size"], r["batch"]), {})[r.get("impl", "pytorch")] = r
    print()
    print("| mode | size | batch | impl | s/step | img/s | peak RSS MiB | others' CPU | throughput Go/PyTorch | RSS Go/PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (mode, size, batch), d in sorted(by.items(), key=lambda kv: (kv[0][0] != "train", kv[0][1], kv[0][2])):
        go, pt = d.get("gomlx"), d.get("pytorch")
        for name, r in (("Go (GoMLX)", go), ("PyTorch", pt)):
            if r is None:
                continue
            ratio = rss_ratio = ""
            if name.startswith("Go") and go and pt:
                ratio = "%.3f" % (go["img_per_s"] / pt["img_per_s"])
                rss_ratio = "%.2f" % (go["time_v_maxrss_mib"] / pt["time_v_maxrss_mib"])
            print("| %s | %d | %d | %s | %.3f | %.2f | %.0f | %.0f%% | %s | %s |" % (
                mode, size, batch, name, r["s_per_step"], r["img_per_s"], r["time_v_maxrss_mib"],
                100 * r.get("others_cpu_frac", 0), ratio, rss_ratio))
    busy = max((r.get("others_cpu_frac", 0) for r in rows), default=0)
    print()
    print("Targets (issue 4): throughput Go/PyTorch >= 0.33 at 128x128 batch 8; Go peak RSS <= 4 GB at 320x320 batch 8.")
    print("Target (issue 10): opacity analyze runs two such forward passes (lungs, opacity) per image at the trained size in <= 1 s.")
    if busy > 0.05:
        print("WARNING: other processes used up to %.0f%% of the CPUs during some timed steps: "
              "compare ratios of rows taken at the same time, and rerun on an idle machine." % (100 * busy))


if __name__ == "__main__":
    main(sys.argv[1])
