"""Training-loop throughput: green_ai's loop against a tutorial loop and a bare loop.

Trains the same SimpleCNN on the same synthetic images three ways, interleaved in one run:

- framework: the `classify` task's `fit(ctx)` on device tensors, as a study runs each
             repetition (green_ai.training.classify; the study adds the energy windows);
- tutorial:  a torchvision-style Dataset of PIL images + ToTensor/Normalize + DataLoader,
             the loop most tutorials show;
- bare:      slices of pre-stacked tensors in a fixed order, nothing else (the compute limit).

The framework scores the test split (a sixth of the training size, FashionMNIST's ratio) at
the end; `framework+eval` after every epoch (the default, so
per-epoch test accuracy can be logged). Prints images/s of each (median over repeats) and
the ratios. Goal: framework within 10% of bare, and faster than tutorial.

    python scripts/bench_training.py [--images 4096] [--epochs 2] [--repeats 3]
    python scripts/bench_training.py --smoke     # every loop once on a few batches
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from green_ai.data import DeviceData
from green_ai.data.synthetic import make_synthetic
from green_ai.nets import build_net
from green_ai.training import configure_device, make_optimizer, resolve_device
from green_ai.training.classify import fit
from green_ai.training.optimizers import ADAM, build_optimizer
from green_ai.training.task import TaskContext, TaskData


def make_model(device: torch.device, conv: int) -> nn.Module:
    torch.manual_seed(0)
    model = build_net(
        "simplecnn", input_shape=(1, 28, 28), num_classes=10, conv=conv, linear=3, relu=1
    )
    return model.to(device)


class PILImages(Dataset):
    """What a tutorial builds: one PIL image per sample, converted on every access."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        pixels = (images - images.min()) / (images.max() - images.min()) * 255
        self.images = [Image.fromarray(p[0].to(torch.uint8).numpy(), mode="L") for p in pixels]
        self.labels = labels.tolist()
        self.transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[i]), self.labels[i]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --smoke: every loop timed once on a few batches, one thread, on the CPU.
SMOKE = {"images": 256, "epochs": 1, "repeats": 1, "device": "cpu", "threads": 1}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--conv", type=int, default=1, help="SimpleCNN conv blocks")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    configure_device(device)  # as a study does; applies to all three loops alike
    x, y, tx, ty = make_synthetic(
        shape="fashion_mnist",
        num_classes=10,
        train_samples=args.images,
        test_samples=max(args.images // 6, 1),
        seed=0,
    )
    mean, std = x.mean(), x.std()
    data = DeviceData(
        "synthetic",
        ((x - mean) / std).to(device),
        y.to(device),
        ((tx - mean) / std).to(device),
        ty.to(device),
        10,
    )
    loader = DataLoader(PILImages(x, y), batch_size=args.batch_size, shuffle=True)
    hp = {"lr": 1e-3}
    loss_fn = nn.CrossEntropyLoss()

    task_data = TaskData(
        train=(data.train_x, data.train_y),
        test=(data.test_x, data.test_y),
        num_classes=10,
        input_shape=data.input_shape,
        source=data,
    )

    def repetition(eval_every_epoch: bool) -> None:
        model = make_model(device, args.conv)
        fit(
            TaskContext(
                model=model,
                data=task_data,
                optimizer_factory=lambda p: build_optimizer(ADAM, p, hp),
                hparams=hp,
                options={"eval_every_epoch": eval_every_epoch},
                num_epochs=args.epochs,
                batch_size=args.batch_size,
                seed=0,
                repetition=0,
                round=0,
                device=device,
                objective="accuracy",
            )
        )

    def framework() -> None:
        # As a study with eval_every_epoch=false runs it: test accuracy once, at the end.
        repetition(eval_every_epoch=False)

    def framework_eval() -> None:
        # The default: test accuracy after every epoch, logged as a step metric.
        repetition(eval_every_epoch=True)

    def tutorial() -> None:
        model = make_model(device, args.conv)
        opt = make_optimizer(model.parameters(), hp)
        model.train()
        for _ in range(args.epochs):
            for xb, yb in loader:
                xb, yb = xb.to(device), yb.to(device)
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()

    def bare() -> None:
        model = make_model(device, args.conv)
        opt = make_optimizer(model.parameters(), hp)
        model.train()
        for _ in range(args.epochs):
            for start in range(0, args.images, args.batch_size):
                xb = data.train_x[start : start + args.batch_size]
                yb = data.train_y[start : start + args.batch_size]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(xb), yb).backward()
                opt.step()

    ways: dict[str, Callable[[], None]] = {
        "framework": framework,
        "framework+eval": framework_eval,
        "tutorial": tutorial,
        "bare": bare,
    }
    bare()  # warm-up: allocator, kernels, thread pools
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, fn in ways.items():  # interleaved, so drifts hit all three alike
            sync(device)
            started = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - started)
    images = args.images * args.epochs
    rate = {name: images / statistics.median(t) for name, t in times.items()}
    print(
        f"SimpleCNN conv={args.conv} linear=3, device {device}, "
        f"{args.images} images × {args.epochs} epochs, batch "
        f"{args.batch_size}, median of {args.repeats}, torch threads {torch.get_num_threads()}"
    )
    for name, r in rate.items():
        print(f"  {name:14s} {r:10.0f} images/s")
    print(f"framework / bare     = {rate['framework'] / rate['bare']:.3f}  (goal >= 0.90)")
    print(f"framework / tutorial = {rate['framework'] / rate['tutorial']:.3f}  (goal > 1)")
    print(
        f"framework+eval / bare = {rate['framework+eval'] / rate['bare']:.3f}  "
        f"(evaluating {len(data.test_x)} test images after every epoch)"
    )


if __name__ == "__main__":
    main()
