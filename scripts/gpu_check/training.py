"""GPU check, part 3: SimpleCNN training throughput, three loops, with GPU utilisation.

The three loops of `scripts/bench_training.py`, on the GPU: the framework's
`train_repetition` on device tensors (test accuracy once, at the end), a bare loop over slices
of pre-stacked device tensors (the compute limit), and a tutorial loop (a Dataset of PIL images,
ToTensor and Normalize, a DataLoader with its default of no worker processes, batches copied to
the GPU). Runs are interleaved so drifts hit all loops alike; images/s is the median over
repeats. Each run is a window of the package's NVML meter, which gives the mean GPU
utilisation (thesis §3.6.3 reads it as the share of time the GPU had work) and joules per image.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import Part, build_nvml_meter, fmt, parse_args, ratio, run_part, sync, why_not

CONV, LINEAR, BATCH = 2, 3, 128  # conf/config.yaml's defaults


def main(part: Part) -> None:
    import torch
    from PIL import Image
    from torch import nn
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    from green_ai.nets import build_net

    device = torch.device("cpu" if part.cpu else "cuda:0")
    images, epochs, batch = (256, 1, 64) if part.cpu else (60_000, 3, BATCH)
    torch.manual_seed(0)
    # Random images: throughput does not depend on what the pixels show.
    x = torch.randn(images, 1, 28, 28)
    y = torch.randint(0, 10, (images,))
    tx, ty = x[: images // 6], y[: images // 6]  # FashionMNIST's test/train ratio
    train_x, train_y = x.to(device), y.to(device)
    loss_fn = nn.CrossEntropyLoss()

    def model() -> nn.Module:
        torch.manual_seed(0)
        net = build_net(
            "simplecnn", input_shape=(1, 28, 28), num_classes=10, conv=CONV, linear=LINEAR, relu=1
        )
        return net.to(device)

    class PILImages(Dataset):
        """What a tutorial builds: one PIL image per sample, converted on every access."""

        def __init__(self) -> None:
            pixels = ((x - x.min()) / (x.max() - x.min()) * 255).to(torch.uint8)
            self.images = [Image.fromarray(p[0].numpy(), mode="L") for p in pixels]
            self.labels = y.tolist()
            self.transform = transforms.Compose(
                [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
            )

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
            return self.transform(self.images[i]), self.labels[i]

    part.say("building the tutorial's PIL dataset")
    loader = DataLoader(PILImages(), batch_size=batch, shuffle=True)

    def bare() -> None:
        net = model()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        for _ in range(epochs):
            for start in range(0, images, batch):
                opt.zero_grad(set_to_none=True)
                loss_fn(
                    net(train_x[start : start + batch]), train_y[start : start + batch]
                ).backward()
                opt.step()

    def tutorial() -> None:
        net = model()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        for _ in range(epochs):
            for xb, yb in loader:
                xb, yb = xb.to(device), yb.to(device)
                opt.zero_grad()
                loss_fn(net(xb), yb).backward()
                opt.step()

    ways: dict[str, Callable[[], None]] = {}
    cannot = why_not("green_ai.training") or why_not("green_ai.data")
    if cannot is None:
        from green_ai.data import DeviceData
        from green_ai.training import train_repetition

        data = DeviceData("random", train_x, train_y, tx.to(device), ty.to(device), 10)

        def framework() -> None:
            train_repetition(
                model(),
                data,
                {"lr": 1e-3},
                epochs=epochs,
                batch_size=batch,
                seed=0,
                eval_every_epoch=False,
            )

        ways["framework"] = framework
    ways["bare"] = bare
    ways["tutorial"] = tutorial

    meter: Any = None
    meter_why = why_not("green_ai.energy")
    if meter_why is None:
        try:
            meter = build_nvml_meter(device, counter=True, interval_s=0.1)
        except Exception as exc:
            meter_why = f"{type(exc).__name__}: {exc}"

    def timed(name: str, fn: Callable[[], None]) -> tuple[float, Any]:
        if meter is not None:
            meter.begin(name)
        sync(device)
        started = time.perf_counter()
        fn()
        sync(device)
        elapsed = time.perf_counter() - started
        return elapsed, meter.end(name) if meter is not None else None

    part.say("warm-up: each loop once (also sizes the repeats)")
    first = {name: timed(name, fn)[0] for name, fn in ways.items()}
    one_round = sum(first.values())
    repeats = max(1, min(1 if part.cpu else 3, int(part.left_s() // max(one_round, 1e-3))))
    if part.left_s() < one_round:
        part.say("no time for a timed round after the warm-up")
        part.add("Not measured: the warm-up used the part's time budget.")
        return
    times: dict[str, list[float]] = {name: [] for name in ways}
    utils: dict[str, list[float]] = {name: [] for name in ways}
    joules: dict[str, list[float]] = {name: [] for name in ways}
    for r in range(repeats):
        for name, fn in ways.items():
            if part.left_s() < first[name]:
                break
            elapsed, m = timed(name, fn)
            times[name].append(elapsed)
            if m is not None and m.gpu_util_mean is not None:
                utils[name].append(m.gpu_util_mean)
            if m is not None and m.energy_j is not None:
                joules[name].append(m.energy_j)
            part.say(f"round {r + 1}/{repeats} {name}: {images * epochs / elapsed:.0f} images/s")
    if meter is not None:
        meter.close()

    seen = images * epochs
    rate = {n: seen / statistics.median(t) for n, t in times.items() if t}
    rows = [
        f"SimpleCNN conv={CONV} linear={LINEAR}, {images} random 1×28×28 images × {epochs} "
        f"epoch{'s' if epochs > 1 else ''}, batch {batch}, Adam; median of {repeats} "
        f"interleaved rounds after one warm-up round; torch threads {torch.get_num_threads()}.",
        "",
        "| loop | images/s | / bare | GPU util % | J/image (counter, gross) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in ("framework", "bare", "tutorial"):
        if name not in rate:
            why = cannot if name == "framework" and cannot else "time budget"
            rows.append(f"| {name} | not run: {why} | | | |")
            continue
        util = statistics.mean(utils[name]) if utils[name] else None
        j = statistics.median(joules[name]) / seen if joules[name] else None
        rows.append(
            f"| {name} | {rate[name]:.0f} | {fmt(ratio(rate[name], rate.get('bare')))} | "
            f"{fmt(util)} | {fmt(j)} |"
        )
    rows.append("")
    if "framework" in rate:
        rows.append(
            f"framework / bare = {fmt(ratio(rate['framework'], rate.get('bare')))} (goal ≥ 0.90); "
            f"framework / tutorial = {fmt(ratio(rate['framework'], rate.get('tutorial')))} "
            "(goal > 1)."
        )
    if meter is None:
        rows.append(f"GPU utilisation and joules not measured: {meter_why}")
    part.data = {"images_per_s": rate, "gpu_util": utils, "energy_j": joules, "repeats": repeats}
    part.add(*rows)


if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0])
    title = "Training throughput: SimpleCNN"
    run_part(main, Part("training", title, args.out, args.budget_s, args.cpu))
