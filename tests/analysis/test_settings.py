"""The report's typed settings (green_ai/config/report.py): defaults, conversion, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from green_ai.config.report import (
    ClusterSettings,
    FactorialSettings,
    GuardSettings,
    PeakPowerSettings,
    PosthocSettings,
    ReportConfig,
)
from green_ai.errors import UserError
from green_ai.report import report_settings

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose_report(*overrides: str) -> object:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("report", list(overrides))


def test_defaults_equal_the_yaml() -> None:
    cfg = compose_report()
    yaml = OmegaConf.to_container(cfg)
    assert isinstance(yaml, dict)
    assert dataclasses.asdict(ReportConfig()) == yaml


def test_composed_config_becomes_typed_settings() -> None:
    settings = report_settings(compose_report("factorial.unit=round", "input=r.csv"))
    assert isinstance(settings.factorial, FactorialSettings)
    assert (settings.factorial.unit, settings.input) == ("round", "r.csv")
    assert settings.peak_power.small_max_batch == 2.0
    assert settings.tracking.experiment == "green_ai"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FactorialSettings(unit="weekly"), "factorial.unit='weekly' is not one of"),
        (lambda: PosthocSettings(p_adjust="none"), "posthoc.p_adjust='none' is not one of holm"),
        (lambda: ClusterSettings(method="dbscan"), "clusters.method='dbscan' is not one of"),
        (lambda: GuardSettings(normality_min_n=2), "guards.normality_min_n=2 must be an integer"),
        (
            lambda: GuardSettings(effect_min_n=1),
            "guards.effect_min_n=1 must be an integer of at least 2",
        ),
        (
            lambda: PeakPowerSettings(small_max_batch=128, large_min_batch=64),
            "peak_power.large_min_batch=64 must be greater than peak_power.small_max_batch=128",
        ),
        (lambda: ReportConfig(alpha=1.5), "alpha=1.5 must be a significance level"),
        (lambda: ReportConfig(alpha=0), "alpha=0 must be a number > 0"),
        (lambda: ReportConfig(target_pct=100), "target_pct=100 must be a percentage below 100"),
        (lambda: ReportConfig(energy_metric="joules"), "energy_metric='joules' is not one of"),
        (lambda: ReportConfig(input=""), "input='' must name a CSV file"),
    ],
)
def test_wrong_value_is_one_line_naming_key_value_and_allowed(build: object, message: str) -> None:
    with pytest.raises(UserError) as err:
        build()  # type: ignore[operator]
    assert message in str(err.value) and "\n" not in str(err.value)


def test_wrong_type_or_unknown_key_is_one_line() -> None:
    # The schema is in the composition: Hydra refuses these, run_app prints them on one line.
    from hydra.errors import HydraException

    from green_ai.config.hydra_app import describe_hydra_error

    with pytest.raises(HydraException) as err:
        compose_report("alpha=often")
    assert describe_hydra_error(err.value) == (
        "alpha=often: Value 'often' of type 'str' could not be converted to Float"
    )
    with pytest.raises(HydraException) as err:
        compose_report("clusters.k=3")
    assert "\n" not in describe_hydra_error(err.value)
    assert "Key 'k' not in 'ClusterSettings'" in describe_hydra_error(err.value)
    # Settings built outside Hydra are checked the same way, as a UserError.
    with pytest.raises(UserError, match=r"^alpha: Value 'often' .* Float$"):
        report_settings({"alpha": "often"})  # type: ignore[arg-type]
