"""`python -m green_ai.infer`: a stream of image requests served in batches (thesis chapter 4).

python -m green_ai.infer model=shufflenet_v2_x1_0 frequency=32 batching=greedy
python -m green_ai.infer -m +experiment=inference_batching      # the thesis's 100 runs
python -m green_ai.infer mode=recommend recommend.limit_s=0.5   # simulator, §4.5.1
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from green_ai.config.store import register_configs
from green_ai.errors import UserError

register_configs()


@hydra.main(config_path="../conf", config_name="infer", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from green_ai.inference import run_inference

    try:
        run_inference(cfg)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
