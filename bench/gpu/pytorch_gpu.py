"""PyTorch training-step timing of the U-Net-ResNet18 on a GPU, for the GPU
check (bench/gpu/check.sh): the same model, loss and optimiser as
../shared/bench/pytorch-unet-r18 (self-contained here because only the
repository is copied to the GPU machine).

  python3 pytorch_gpu.py --size 320 --batch 8 --steps 10
Prints one line starting with RESULT (JSON), with the field names of bench.py.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Block(nn.Module):
    def __init__(self, cin, cskip, cout):
        super().__init__()
        self.c1, self.c2 = conv_bn_relu(cin + cskip, cout), conv_bn_relu(cout, cout)

    def forward(self, x, skip=None):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], 1)
        return self.c2(self.c1(x))


class UNet(nn.Module):
    def __init__(self, cin=1):
        super().__init__()
        r = torchvision.models.resnet18(weights=None)
        r.conv1 = nn.Conv2d(cin, 64, 7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu)
        self.pool, self.l1, self.l2, self.l3, self.l4 = r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4
        self.dec = nn.ModuleList(Block(i, s, o) for i, s, o in
                                 zip((512, 256, 128, 64, 32), (256, 128, 64, 64, 0), (256, 128, 64, 32, 16)))
        self.head = nn.Conv2d(16, 1, 1)

    def forward(self, x):
        s0 = self.stem(x)
        s1 = self.l1(self.pool(s0))
        s2 = self.l2(s1)
        s3 = self.l3(s2)
        x = self.l4(s3)
        for blk, skip in zip(self.dec, (s3, s2, s1, s0, None)):
            x = blk(x, skip)
        return self.head(x)


def loss_fn(logits, target, gamma=2.0, alpha=0.25, eps=1e-7):
    p = torch.sigmoid(logits)
    dice = 1 - 2 * (p * target).sum() / (p.sum() + target.sum()).clamp_min(eps)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    focal = (1 - torch.exp(-bce)).pow(gamma) * bce * (alpha * target + (1 - alpha) * (1 - target))
    return dice + focal.mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    dev = torch.device("cuda")
    torch.manual_seed(0)
    m = UNet().to(dev)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    x = torch.randn(a.batch, 1, a.size, a.size, device=dev)
    y = (torch.rand(a.batch, 1, a.size, a.size, device=dev) < 0.3).float()
    times = []
    for i in range(a.warmup + a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(m(x), y)
        loss.backward()
        opt.step()
        loss.item()
        torch.cuda.synchronize()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    res = dict(impl="pytorch", device=torch.cuda.get_device_name(0), torch=torch.__version__, mode="train",
               size=a.size, batch=a.batch, steps=a.steps, s_per_step=med, s_min=min(times), s_max=max(times),
               img_per_s=a.batch / med, max_gpu_mem_mib=torch.cuda.max_memory_allocated() / 2**20)
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
