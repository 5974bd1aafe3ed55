"""Per-op-kind profile of the PyTorch reference (torch.profiler) at one shape,
beside the Go side's grouped pprof samples (bench/pprofkinds), as one
markdown table; scripts/bench-profile.sh (make bench-profile) runs it.

  python3 torch_profile.py --size 128 --batch 8 --threads 2 \
      --go-train go-train.tsv --go-train-s 1.2 --go-infer go-infer.tsv --go-infer-s 0.4

The reference model comes from PYTORCH_DIR (unet_r18.py). One warm-up step,
then one profiled training step (forward, loss, backward, Adam) and one
profiled forward pass (eval mode, no_grad). Ops are grouped by kind (see
kind_of) on their self CPU time, which torch.profiler takes on the
calling thread (an op's OpenMP workers are inside its span), so a share is
of the step's wall time.

FLOPs: convolutions only, from every Conv2d's shapes (forward hooks):
2*N*Hout*Wout*Cout*Cin*k^2 for the forward, the same again for each of the
input gradient and the weight gradient (the first convolution, on the
images, has no input gradient on either side).
"""
import argparse
import os
import sys

import torch
import torch.nn as nn

PYTORCH_DIR = os.environ.get("PYTORCH_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "bench", "pytorch-unet-r18"))
sys.path.insert(0, PYTORCH_DIR)
from unet_r18 import UNetResNet18, dice_focal_loss  # noqa: E402

# Kinds, in print order. An op goes to the kind of its nearest enclosing
# scope that has one (the Adam step, the loss's forward, the autograd node
# whose backward it computes), else to the kind of its own name.
KINDS = ["conv forward", "conv backward (input+weight grads)", "batch norm", "ReLU", "max pool",
         "upsample", "concatenate", "residual add", "loss", "optimizer (Adam)", "other"]
# autograd node (evaluate_function: XBackward0) -> kind
BACKWARD = [("ConvolutionBackward", "conv backward (input+weight grads)"), ("BatchNormBackward", "batch norm"),
            ("ReluBackward", "ReLU"), ("ThresholdBackward", "ReLU"), ("MaxPool2DWithIndicesBackward", "max pool"),
            ("UpsampleNearest2DBackward", "upsample"), ("CatBackward", "concatenate"),
            ("AddBackward", "residual add"), ("AccumulateGrad", "other")]
# forward op name (substring) -> kind
FORWARD = [("convolution_backward", "conv backward (input+weight grads)"), ("convolution", "conv forward"),
           ("conv2d", "conv forward"), ("batch_norm", "batch norm"), ("relu", "ReLU"), ("clamp_min", "ReLU"),
           ("threshold_backward", "ReLU"), ("max_pool", "max pool"), ("upsample", "upsample"),
           ("aten::cat", "concatenate"), ("aten::add", "residual add")]


def kind_of(e):
    p = e
    while p is not None:
        n = p.name
        if n.startswith("Optimizer.step") or n.startswith("Optimizer.zero_grad"):
            return "optimizer (Adam)"
        if n == "loss":
            return "loss"
        if n.startswith("autograd::engine::evaluate_function:"):
            for key, k in BACKWARD:
                if key in n:
                    return k
            return "loss"  # the other autograd nodes are the loss's (sigmoid, mul, exp, pow, ...)
        p = p.cpu_parent
    for key, k in FORWARD:
        if key in e.name:
            return k
    return "other"


def conv_flops(model, channels, size, batch):
    """(forward, input-gradient, weight-gradient) FLOPs of one batch, convolutions only."""
    per = []

    def hook(m, inp, out):
        kh, kw = m.kernel_size
        per.append(2 * batch * out.shape[2] * out.shape[3] * m.out_channels * (m.in_channels // m.groups) * kh * kw)

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, channels, size, size))
    for h in hs:
        h.remove()
    fwd = sum(per)
    return fwd, fwd - per[0], fwd  # no input gradient for the first convolution


def go_saving(model, size, batch):
    """Forward FLOPs the Go layers do not execute: the decoder convolves the
    upsampled part of its input with sub-pixel 2x2 kernels at the low
    resolution (xla/gofast upConv), 16 instead of 36 multiply-adds per low
    pixel, so 5/9 of that part's FLOPs (and of its two gradients') are not
    done. (Smaller differences are left out: the output-side convolution of
    decoder block 4's skip computes on the padded grid, +6% of its FLOPs.)"""
    saved, h, low = 0, size // 32, None
    for i, blk in enumerate(model.decoder):
        conv = blk.conv1[0]
        low = 512 if i == 0 else model.decoder[i - 1].conv2[0].out_channels
        h *= 2
        saved += 2 * batch * h * h * conv.out_channels * low * 9 * 5 // 9
    return saved


def profile(fn):
    fn()  # warm-up
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    by = {}
    total = 0.0
    for e in prof.events():
        k = kind_of(e)
        by[k] = by.get(k, 0.0) + e.self_cpu_time_total / 1e6
        total += e.self_cpu_time_total / 1e6
    return by, total, prof


def read_go(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, s, share = line.rstrip("\n").split("\t")
            out[k] = (float(s), float(share))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--go-train", help="pprofkinds output of the Go training step")
    ap.add_argument("--go-train-s", type=float, help="Go training step, median s")
    ap.add_argument("--go-train-steps", type=int, default=1, help="profiled Go training steps")
    ap.add_argument("--go-infer-steps", type=int, default=1, help="profiled Go forward passes")
    ap.add_argument("--go-infer", help="pprofkinds output of the Go forward pass")
    ap.add_argument("--go-infer-s", type=float, help="Go forward pass, median s")
    ap.add_argument("--peak", type=float, default=0, help="machine peak GFLOP/s (for scale)")
    ap.add_argument("--verbose", action="store_true", help="print the top PyTorch ops")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNetResNet18(in_channels=a.channels)
    fwd, dgrad, wgrad = conv_flops(model, a.channels, a.size, a.batch)
    saved = go_saving(model, a.size, a.batch)
    x = torch.randn(a.batch, a.channels, a.size, a.size)
    y = (torch.rand(a.batch, 1, a.size, a.size) < 0.3).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train():
        model.train()
        opt.zero_grad(set_to_none=True)
        out = model(x)
        with torch.profiler.record_function("loss"):
            loss = dice_focal_loss(out, y)
        loss.backward()
        opt.step()
        return loss.item()

    def infer():
        model.eval()
        with torch.no_grad():
            return model(x).sum().item()

    rows = []
    cores = os.cpu_count()
    for mode, fn, flops, go_path, go_s, go_n in (
            ("train", train, fwd + dgrad + wgrad, a.go_train, a.go_train_s, a.go_train_steps),
            ("infer", infer, fwd, a.go_infer, a.go_infer_s, a.go_infer_steps)):
        go_flops = flops - saved * (3 if mode == "train" else 1)
        fn()  # a second warm-up, as bench.py's --warmup 2
        by, total, prof = profile(fn)
        if a.verbose:
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25), file=sys.stderr)
        conv_s = by.get("conv forward", 0) + by.get("conv backward (input+weight grads)", 0)
        go = read_go(go_path) if go_path else {}
        # Go kind -> wall-equivalent s per step: its CPU s / steps / cores
        gw = {k: s / go_n / cores for k, (s, _) in go.items()}
        rows.append((mode, by, total, conv_s, flops, gw, go_s, go_flops))

    print(f"\n### {a.size}x{a.size} batch {a.batch}, {a.threads} threads; convolution FLOPs per step:"
          f" forward {fwd / 1e9:.2f} G, input gradient {dgrad / 1e9:.2f} G, weight gradient {wgrad / 1e9:.2f} G"
          + (f"; machine peak {a.peak:.0f} GFLOP/s" if a.peak else ""))
    for mode, by, total, conv_s, flops, gw, go_s, go_flops in rows:
        print(f"\n{mode}: PyTorch {total:.3f} s profiled (self CPU time of all ops, one step),"
              f" convolutions {flops / 1e9:.2f} GFLOP in {conv_s:.3f} s = {flops / 1e9 / max(conv_s, 1e-9):.1f} GFLOP/s"
              + (f" ({100 * flops / 1e9 / max(conv_s, 1e-9) / a.peak:.0f}% of peak)" if a.peak else ""))
        print("\n| PyTorch kind | s | share |\n|---|---|---|")
        for k in KINDS:
            if k in by:
                print(f"| {k} | {by[k]:.3f} | {100 * by[k] / total:.1f}% |")
        if gw:
            mm_s = gw.get("matmul kernel", 0) + gw.get("matmul packing", 0)
            ker_s = gw.get("matmul kernel", 0)
            print(f"\n{mode}: Go {go_s:.3f} s/step (median), CPU samples per step / {cores} cores"
                  f" {gw['total']:.3f} s; convolutions {go_flops / 1e9:.2f} GFLOP by the direct algorithms (sub-pixel decoder, see go_saving;"
                  f" the reference's {flops / 1e9:.2f}) in matmul kernel+packing {mm_s:.3f} s"
                  f" = {go_flops / 1e9 / max(mm_s, 1e-9):.1f} GFLOP/s ({flops / 1e9 / max(mm_s, 1e-9):.1f} reference-equivalent),"
                  f" in the kernel alone {ker_s:.3f} s = {go_flops / 1e9 / max(ker_s, 1e-9):.1f} GFLOP/s"
                  + (f" ({100 * go_flops / 1e9 / max(ker_s, 1e-9) / a.peak:.0f}% of peak)" if a.peak else "")
                  + "; the layers xla/gofast runs by Winograd (F(2x2,3x3) or F(4x4,3x3)) do 2.25x or 4x fewer"
                    " multiply-adds, so where they run these rates are direct-equivalent, not executed")
            print(f"\n| Go kind (backend op) | s per step (CPU s / {cores}) | share of the step |\n|---|---|---|")
            for k, v in gw.items():
                if k != "total":
                    print(f"| {k} | {v:.3f} | {100 * v / go_s:.1f}% |")
            idle = go_s - gw["total"]
            print(f"| cores idle (step - sampled CPU / {cores}) | {idle:.3f} | {100 * idle / go_s:.1f}% |")

if __name__ == "__main__":
    main()
