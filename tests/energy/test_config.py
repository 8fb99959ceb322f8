"""`EnergyConfig` (green_ai/config/energy.py) and the `energy` group files that extend it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from green_ai.config.energy import EnergyConfig, energy_backends
from green_ai.errors import UserError

from .fakes import CONF

BACKENDS = sorted(p.stem for p in (CONF / "energy").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _base_energy() -> Iterator[None]:
    # What the config package does for every group; stored again here so this file stands alone.
    ConfigStore.instance().store(group="energy", name="base_energy", node=EnergyConfig)
    yield
    GlobalHydra.instance().clear()


def composed(config: str, *overrides: str) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(config, overrides=list(overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backend": "smi"}, "energy.backend='smi' is not one of auto, estimate, none, nvml"),
        ({"interval_s": 0}, "energy.interval_s=0 must be a number > 0 s"),
        ({"idle_s": -1}, "energy.idle_s=-1 must be a number >= 0 s"),
        ({"watts_per_core": "many"}, "energy.watts_per_core='many' must be a number"),
        ({"grid_intensity_g_per_kwh": -5}, "energy.grid_intensity_g_per_kwh=-5"),
        ({"devices": ["first"]}, "energy.devices=.* list of CUDA device indices"),
        ({"backends": []}, r"energy.backends=\[\] is empty"),
        ({"backends": ["nvml", "smi"]}, "energy.backends='smi' is not one of"),
        ({"backends": ["auto", "rapl"]}, "auto and none stand alone"),
        ({"backends": ["nvml", "nvml"]}, "names a meter twice"),
        ({"backends": ["rapl", "estimate"]}, "count the CPU twice"),
        ({"region": "XX"}, "energy.region='XX' is not in the shipped table; use one of .* NL"),
    ],
)
def test_bad_values_are_one_line_user_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message) as err:
        EnergyConfig(**overrides)
    assert "\n" not in str(err.value)


def test_good_values_are_normalised() -> None:
    cfg = EnergyConfig(backends=("nvml", "estimate"), region=" nl ", devices=(0, 1))  # type: ignore[arg-type]
    assert cfg.backends == ["nvml", "estimate"] and cfg.devices == [0, 1]
    assert cfg.region == "NL"
    assert cfg.meters == ["nvml", "estimate"]
    assert EnergyConfig(backend="rapl").meters == ["rapl"]


@pytest.mark.parametrize("name", BACKENDS)
def test_each_group_file_sets_only_its_backend_and_declares_it(name: str) -> None:
    raw = OmegaConf.load(CONF / "energy" / f"{name}.yaml")
    # The defaults live once, in the dataclass; a file names and declares its backend.
    assert set(raw) == {"defaults", "backend", "factory", "parts"}
    assert list(raw.defaults) == ["base_energy", "_self_"]
    assert raw.backend == name
    energy = composed("config", f"energy={name}").energy
    declared = {"backend": name, "factory": OmegaConf.to_container(raw.factory)}
    declared["parts"] = OmegaConf.to_container(raw.parts) if raw.parts is not None else None
    assert asdict(EnergyConfig(**energy)) == {**asdict(EnergyConfig()), **declared}


def test_the_backends_are_the_group_files_and_nothing_else() -> None:
    assert sorted(energy_backends()) == BACKENDS == ["auto", "estimate", "none", "nvml", "rapl"]
    import green_ai.config.energy as module

    assert not [v for v in vars(module).values() if isinstance(v, tuple) and "nvml" in v]


def test_a_backend_of_ones_own_is_a_file_in_the_search_path(tmp_path: Any) -> None:
    (tmp_path / "energy").mkdir()
    (tmp_path / "energy" / "plug.yaml").write_text(
        "defaults: [base_energy, _self_]\nbackend: plug\n"
        "factory: {_target_: lab.plug.open, host: 10.0.0.5}\nparts: [gpu]\n"
    )
    cfg = composed("config", "energy=plug", f"hydra.searchpath=[file://{tmp_path}]").energy
    assert cfg.backend == "plug" and cfg.factory.host == "10.0.0.5"
    from green_ai.config.groups import searching

    with searching((f"file://{CONF}", f"file://{tmp_path}")):
        assert EnergyConfig(backends=["plug", "rapl"]).meters == ["plug", "rapl"]
        with pytest.raises(UserError, match=r"\[plug,nvml\] would count the GPU twice"):
            EnergyConfig(backends=["plug", "nvml"])
    with pytest.raises(UserError, match="'plug' is not one of"):  # not without the search path
        EnergyConfig(backend="plug")


def test_defaults_are_the_thesis_settings() -> None:
    cfg = EnergyConfig()
    assert cfg.interval_s == 0.1  # thesis §3.3.3: 100 ms
    assert cfg.devices is None and cfg.backends is None and cfg.region is None


def test_inference_still_polls_every_10_ms_without_idle_baseline() -> None:
    energy = composed("infer").energy
    assert (energy.interval_s, energy.idle_s) == (0.01, 0)  # thesis §4.2.3


def test_the_schema_types_command_line_values() -> None:
    energy = composed("config", "energy.backends=[nvml,rapl]", "energy.region=NL").energy
    assert EnergyConfig(**energy).backends == ["nvml", "rapl"]
    with pytest.raises(Exception, match="devices"):
        composed("config", "energy.devices=[first]")


def test_measure_app_composes_with_auto_and_the_default_tracking() -> None:
    cfg = composed("measure")
    assert cfg.energy.backend == "auto" and cfg.tracking.experiment == "green_ai"
