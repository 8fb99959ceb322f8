"""The untimed training before a worker's first round (green_ai.search.study).

The first training of a process costs more (kernel selection, allocator growth): an untimed
one first, so the idle baseline and round 0 see a warm device like every later round.
"""

from __future__ import annotations

import contextlib
import time

import torch

from green_ai.config.train import TrainConfig
from green_ai.data import DeviceData
from green_ai.experiment import TaskRunner, make_net
from green_ai.search.space import largest_batch_size
from green_ai.training import warm_up
from green_ai.training.optimizers import build_optimizer
from green_ai.training.task import TaskContext, TaskData


def warm_up_study(
    settings: TrainConfig, data: TaskData, device: torch.device, task: TaskRunner
) -> float | None:
    """Warm the device up for the study's rounds; its seconds, or None when `warmup_steps`
    is 0. The classify task on device data warms up on `warmup_steps` batches of the largest
    batch size any round uses; any other task runs one untimed epoch."""
    s = settings
    if not s.warmup_steps:
        return None
    source = data.source
    if s.task.name == "classify" and isinstance(source, DeviceData):
        return warm_up(
            lambda: make_net(s, data.input_shape, data.num_classes),
            source,
            batch_size=largest_batch_size(s.hparams, s.batch_size),
            steps=s.warmup_steps,
            seconds=s.warmup_s,
        )
    return warm_up_task(s, data, device, task)


def warm_up_task(
    settings: TrainConfig, data: TaskData, device: torch.device, task: TaskRunner
) -> float:
    """One untimed epoch of the study's task on its first round's kind of net; the global RNG
    state is left as it was. Returns its seconds."""
    started = time.perf_counter()
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        model = make_net(settings, data.input_shape, data.num_classes).to(device)
        ctx = TaskContext(
            model=model,
            data=data,
            optimizer_factory=lambda p: build_optimizer(settings.optimizer, p, {}),
            hparams={},
            options={"eval_every_epoch": False, **settings.task.options},
            num_epochs=1,
            batch_size=largest_batch_size(settings.hparams, settings.batch_size),
            seed=0,
            repetition=0,
            round=-1,
            device=device,
            objective=settings.search.objective,
        )
        with contextlib.suppress(Exception):  # what fails here fails again, measured, in round 0
            task.fit(ctx)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started
