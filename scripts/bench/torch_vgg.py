"""PyTorch fp32 baseline for `deno task bench`: the same VGG (PROTOCOL.md) and SGD step.

Prints one JSON object: {"torch": version, "device": ..., "threads": n, "results": [...]}.
Usage: python3 torch_vgg.py --width 0.25 --batch 32 --steps 10 [--device cpu|cuda] [--norm both]
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

WIDTHS = [64, 128, 256, 256, 512, 512, 512, 512]
POOL_AFTER = {1, 2, 4, 6, 8}


def vgg(width: float, batchnorm: bool) -> nn.Module:
    layers = []
    cin = 3
    for i, w in enumerate(WIDTHS, start=1):
        cout = max(1, round(w * width))
        layers.append(nn.Conv2d(cin, cout, 3, padding=1))
        if batchnorm:
            layers.append(nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))
        layers.append(nn.ReLU())
        if i in POOL_AFTER:
            layers.append(nn.MaxPool2d(2, 2))
        cin = cout
    d = max(1, round(512 * width))
    layers += [nn.Flatten(), nn.Linear(cin, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 10)]
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def bench(width: float, batch: int, steps: int, batchnorm: bool, device: str) -> dict:
    torch.manual_seed(0)
    model = vgg(width, batchnorm).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1000
    return {"width": width, "batch": batch, "batchnorm": batchnorm, "msPerStep": ms,
            "imagesPerSecond": batch / (ms / 1000)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=float, action="append")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--norm", choices=["both", "batchnorm", "none"], default="both")
    a = p.parse_args()
    if a.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    norms = {"both": [True, False], "batchnorm": [True], "none": [False]}[a.norm]
    results = [bench(w, a.batch, a.steps, bn, a.device) for w in (a.width or [0.25]) for bn in norms]
    print(json.dumps({"torch": torch.__version__, "device": a.device,
                      "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
