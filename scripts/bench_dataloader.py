"""What streaming a dataset through a DataLoader costs against device tensors.

Trains the same small SimpleCNN with Adam on the same synthetic images, interleaved in one
run, fed two ways:

- memory: `DeviceData.train_batches`, one randperm gather per epoch then slices (the path of
  every dataset that fits the device);
- stream: a TensorDataset behind `StreamData.train_batches` (a DataLoader, shuffled by the
  same kind of generator, batches moved to the device), with 0 workers and, with
  `--workers 2`, also with 2 (persistent across epochs).

Prints, as a markdown table, seconds per epoch after the first (median over epochs and
repeats), stream / memory, and the first epoch (which starts the workers).

    python scripts/bench_dataloader.py [--images 8192] [--epochs 3] [--repeats 3] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.utils.data import TensorDataset

from green_ai.data import DeviceData, StreamData
from green_ai.data.synthetic import make_synthetic
from green_ai.nets import build_net
from green_ai.training import configure_device, resolve_device

Batches = Callable[[int, torch.Generator], Iterator[tuple[torch.Tensor, torch.Tensor]]]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(
    batches: Batches, device: torch.device, epochs: int, batch_size: int
) -> tuple[float, float]:
    """Train a fresh net for `epochs`; return the seconds of the first epoch (it starts any
    workers) and the median of the later ones (of all, for one epoch)."""
    torch.manual_seed(0)
    model = build_net(
        "simplecnn", input_shape=(1, 28, 28), num_classes=10, conv=2, linear=3, relu=1
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator(device=device).manual_seed(0)
    model.train()
    seconds = []
    for _ in range(epochs):
        sync(device)
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for xb, yb in batches(batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            loss_sum.add_(loss.detach())
        float(loss_sum.item())  # one read per epoch, as the training loop does
        seconds.append(time.perf_counter() - started)
    return seconds[0], statistics.median(seconds[1:] or seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="*", default=[0, 2])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: 512 images, 1 repeat")
    args = parser.parse_args()
    if args.smoke:
        args.images, args.epochs, args.repeats = 512, 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    configure_device(device)
    x, y, tx, ty = make_synthetic(
        shape="fashion_mnist",
        num_classes=10,
        train_samples=args.images,
        test_samples=max(args.images // 6, 1),
        seed=0,
    )
    memory = DeviceData("synthetic", x.to(device), y.to(device), tx.to(device), ty.to(device), 10)
    ways: dict[str, Batches] = {"memory": memory.train_batches}
    streams = []
    for workers in args.workers:
        stream = StreamData(
            name="synthetic",
            train=TensorDataset(x, y),
            test=TensorDataset(tx, ty),
            num_classes=10,
            input_shape=tuple(x.shape[1:]),
            num_workers=workers,
            pin_memory=device.type == "cuda",
            device=device,
        )
        streams.append(stream)
        ways[f"stream, {workers} workers"] = stream.train_batches

    train(memory.train_batches, device, 1, args.batch_size)  # warm-up: allocator, kernels
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, batches in ways.items():  # interleaved, so drifts hit every way alike
            seconds[name].append(train(batches, device, args.epochs, args.batch_size))
    for stream in streams:
        stream.close()

    base = statistics.median(later for _, later in seconds["memory"])
    print(
        f"SimpleCNN conv=2 linear=3, Adam, device {device}, {args.images} images × "
        f"{args.epochs} epochs, batch {args.batch_size}, median of {args.repeats}, "
        f"torch threads {torch.get_num_threads()}\n"
    )
    print("| feed | s / epoch | × memory | first epoch, s |")
    print("| --- | --- | --- | --- |")
    for name, values in seconds.items():
        median = statistics.median(later for _, later in values)
        first = statistics.median(first for first, _ in values)
        print(f"| {name} | {median:.3f} | {median / base:.3f} | {first:.3f} |")


if __name__ == "__main__":
    main()
