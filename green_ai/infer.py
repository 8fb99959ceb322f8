"""`python -m green_ai.infer`: a stream of image requests served in batches (thesis chapter 4).

python -m green_ai.infer model=shufflenet_v2_x1_0 frequency=32 batching=greedy
python -m green_ai.infer -m +experiment=inference_batching      # the thesis's 100 runs
python -m green_ai.infer mode=recommend recommend.limit_s=0.5   # simulator, §4.5.1
"""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from green_ai.config.hydra_app import fail, run_app
from green_ai.config.store import register_configs
from green_ai.errors import UserError

register_configs()


def preflight(cfg: DictConfig, *, multirun: bool) -> None:
    """A job's settings, checked before Hydra writes anything (no device is touched)."""
    from green_ai.inference.settings import checked_config

    checked_config(cfg)


@hydra.main(config_path="../conf", config_name="infer", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    from green_ai.inference import run_inference

    try:
        run_inference(cfg)
    except UserError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweep hands it back and ends on one line too
        fail(str(err))


def main() -> None:
    run_app(_main)


if __name__ == "__main__":
    main()
