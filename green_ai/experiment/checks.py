"""Cheap checks of a study's pieces, before anything is loaded, measured or created.

Each `_target_` is imported and its signature checked against the keys it will get (fixed
ones and searched ones); a user's dataset is not loaded here: preflight runs in the launcher's
process for every job of a sweep (its loading errors come at the job's start, still before
any study or MLflow run exists). Where the input shape is known without loading (the thesis's
datasets), the net is built and run once on a tiny batch.
"""

from __future__ import annotations

from green_ai.config.train import TrainConfig
from green_ai.data import dataset_shape
from green_ai.errors import UserError
from green_ai.experiment.build import make_net
from green_ai.nets import net_options
from green_ai.training.optimizers import check_optimizer, resolve_callable


def check_experiment(settings: TrainConfig) -> None:
    """Every piece imports and takes its arguments; see the module docstring."""
    hparams = settings.hparams
    shape: tuple[tuple[int, int, int], int] | None = None
    if settings.dataset.target is None:
        shape = dataset_shape(settings.dataset)
    else:
        from green_ai.data import check_target_dataset

        check_target_dataset(settings.dataset.target, settings.dataset.kwargs)
    searched_net = hparams.targeting("net")
    if settings.net.is_thesis:
        known = net_options(settings.net.name)
        for key in searched_net:
            if key not in known:
                raise UserError(
                    f"hparams.params.{key} (target: net) is not an option of net="
                    f"{settings.net.name} (its options: {', '.join(known) or 'none'})"
                )
    else:
        from green_ai.nets import check_target_net

        assert settings.net.target is not None
        check_target_net(settings.net.target, settings.net.kwargs, searched=searched_net)
    if shape is not None:
        check_net_on(settings, *shape)
    check_optimizer(settings.optimizer, hparams.targeting("optimizer"))
    resolve_callable(settings.task.target, "task._target_")


def check_net_on(settings: TrainConfig, input_shape: tuple[int, ...], num_classes: int) -> None:
    """Build the net for this input (layer counts it cannot support fail here) and, for a
    `_target_` net, run it once on two inputs of that shape."""
    model = make_net(settings, input_shape, num_classes)
    if not settings.net.is_thesis:
        from green_ai.nets import probe_net

        probe_net(model, tuple(input_shape), name=settings.net.name)  # type: ignore[arg-type]
