"""Training-loop throughput: this checkout's `train_repetition` against another commit's, and a
bare loop, interleaved in one process on the same device.

    git archive <commit> green_ai | tar -x -C /tmp/old      # the loop to compare against
    python scripts/bench_loop_versions.py --old /tmp/old --device cuda
    python scripts/bench_loop_versions.py --smoke    # this checkout's loop against itself, tiny

Each round runs the three loops once (SimpleCNN conv=2 linear=3, Adam, random 1×28×28 images,
no evaluation); the first round warms up and is not counted. Prints images/s per round and the
ratios of the medians. The other commit's loop module is loaded under a name of its own, so
both loops train the same nets built by this checkout's `build_net`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from green_ai.data import DeviceData  # noqa: E402
from green_ai.nets import build_net  # noqa: E402
from green_ai.training import train_repetition  # noqa: E402


def load_old_loop(root: Path) -> Callable[..., object]:
    path = root / "green_ai" / "training" / "loop.py"
    if not path.is_file():
        sys.exit(f"error: {path} not found; export a commit's green_ai into --old (see --help)")
    spec = importlib.util.spec_from_file_location("old_training_loop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module.train_repetition  # type: ignore[no-any-return]


# --smoke: one counted round on a few batches, on the CPU, this checkout against itself.
SMOKE = {"old": ROOT, "device": "cpu", "images": 128, "epochs": 1, "batch_size": 32, "rounds": 1}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="folder holding the other green_ai (required)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    if args.old is None:
        sys.exit("error: --old is required: export a commit's green_ai into a folder (see --help)")
    old_repetition = load_old_loop(args.old)
    device = torch.device(args.device)
    images, epochs, batch = args.images, args.epochs, args.batch_size

    torch.manual_seed(0)
    x = torch.randn(images, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (images,), device=device)
    data = DeviceData("random", x, y, x[: images // 6], y[: images // 6], 10)
    loss_fn = nn.CrossEntropyLoss()

    def model() -> nn.Module:
        torch.manual_seed(0)
        net = build_net(
            "simplecnn", input_shape=(1, 28, 28), num_classes=10, conv=2, linear=3, relu=1
        )
        return net.to(device)

    def bare() -> None:
        net = model()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        for _ in range(epochs):
            for s in range(0, images, batch):
                opt.zero_grad(set_to_none=True)
                loss_fn(net(x[s : s + batch]), y[s : s + batch]).backward()
                opt.step()

    def looped(repetition: Callable[..., object]) -> Callable[[], None]:
        def run() -> None:
            repetition(
                model(),
                data,
                {"lr": 1e-3},
                epochs=epochs,
                batch_size=batch,
                seed=0,
                eval_every_epoch=False,
            )

        return run

    ways = {"bare": bare, "old": looped(old_repetition), "new": looped(train_repetition)}

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    rates: dict[str, list[float]] = {name: [] for name in ways}
    for r in range(args.rounds + 1):
        for name, fn in ways.items():
            sync()
            started = time.perf_counter()
            fn()
            sync()
            rate = images * epochs / (time.perf_counter() - started)
            if r:
                rates[name].append(rate)
            print(f"round {r}{' (warm-up)' if not r else ''} {name}: {rate:.0f} images/s")
    med = {name: statistics.median(v) for name, v in rates.items()}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(json.dumps({"median_images_per_s": med, "torch": torch.__version__, "device": where}))
    print(
        f"old / bare {med['old'] / med['bare']:.3f}   new / bare {med['new'] / med['bare']:.3f}"
        f"   new / old {med['new'] / med['old']:.3f}"
    )


if __name__ == "__main__":
    main()
