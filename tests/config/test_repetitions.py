"""`repetitions`: a whole number, or `auto` with a target; the energy keys of this design."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from omegaconf import DictConfig

from green_ai.config.energy import EnergyConfig
from green_ai.config.store import train_settings
from green_ai.errors import UserError


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["repetitions=auto"], "repetitions=auto needs design.target_ci"),
        (["repetitions=foo"], "repetitions='foo' must be a whole number of at least 1, or auto"),
        (["repetitions=0"], "repetitions=0 must be an integer of at least 1"),
        (
            ["repetitions=auto", "design.target_ci=0.05", "energy=none"],
            "repetitions=auto stops on the energy interval but energy=none",
        ),
        (
            [
                "repetitions=auto",
                "design.target_ci=0.05",
                "design.min_repetitions=5",
                "design.max_repetitions=4",
            ],
            "design.min_repetitions=5 is above design.max_repetitions=4",
        ),
    ],
)
def test_wrong_repetitions_are_one_line(
    make_cfg: Callable[..., DictConfig], overrides: list[str], message: str
) -> None:
    with pytest.raises(UserError) as err:
        train_settings(make_cfg(*overrides))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_auto_and_fixed_repetitions(make_cfg: Callable[..., DictConfig]) -> None:
    fixed = train_settings(make_cfg("repetitions=5"))
    assert (fixed.adaptive, fixed.max_repetitions, fixed.repetitions) == (False, 5, 5)
    auto = train_settings(
        make_cfg(
            "repetitions=auto",
            "design.target_ci=0.05",
            "energy=estimate",
            "design.max_repetitions=7",
        )
    )
    assert (auto.adaptive, auto.max_repetitions) == (True, 7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"idle_every_s": -1}, "energy.idle_every_s=-1 must be a number >= 0 s"),
        ({"disagreement_pct": 0}, "energy.disagreement_pct=0 must be a number > 0"),
        ({"idle_windows": 0}, "energy.idle_windows=0 must be an integer of at least 1"),
    ],
)
def test_wrong_energy_design_keys(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError) as err:
        EnergyConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_energy_design_defaults_keep_todays_measurement() -> None:
    cfg = EnergyConfig()
    assert (cfg.idle_every_s, cfg.disagreement_pct, cfg.idle_windows) == (None, 5.0, 5)
