"""Time training steps of the PyTorch reference U-Net/ResNet-18 on a CUDA GPU.

The GPU counterpart of ../shared/bench/pytorch-unet-r18/bench.py (which is
CPU-only): same model (unet_r18.py, imported from --ref), same loss, same
random batch (randn input, mask with 30% ones), Adam lr 1e-4, median of the
timed steps, each step ending with loss.item() (a device synchronisation).

  python3 torch_gpu_bench.py --ref DIR --size 320 --batch 8 --channels 1
Prints one line starting with RESULT (JSON).
"""
import argparse
import json
import statistics
import sys
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True, help="folder holding unet_r18.py")
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    sys.path.insert(0, a.ref)
    from unet_r18 import UNetResNet18, dice_focal_loss

    dev = torch.device("cuda")
    torch.manual_seed(a.seed)
    model = UNetResNet18(in_channels=a.channels).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(a.batch, a.channels, a.size, a.size, device=dev)
    y = (torch.rand(a.batch, 1, a.size, a.size, device=dev) < 0.3).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = dice_focal_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    times, losses = [], []
    torch.cuda.reset_peak_memory_stats()
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        losses.append(step())
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    res = dict(impl="pytorch", device=torch.cuda.get_device_name(0), torch=torch.__version__,
               cudnn=torch.backends.cudnn.version(), mode="train", size=a.size, batch=a.batch,
               channels=a.channels, steps=a.steps, warmup=a.warmup, s_per_step=med,
               s_min=min(times), s_max=max(times), img_per_s=a.batch / med,
               peak_gpu_mib=torch.cuda.max_memory_allocated() / 2**20,
               first_loss=losses[0], last_loss=losses[-1])
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
