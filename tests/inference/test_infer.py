"""`python -m green_ai.infer` end to end: real runs into a temporary MLflow store, the
profile → simulate → recommend path, config errors."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from green_ai.errors import UserError
from green_ai.inference import run_inference, settings_from

from .conftest import CONF, TINY

RUN_METRICS = {
    "energy_per_image_j",
    "energy_j",
    "duration_s",
    "response_max_s",
    "response_p50_s",
    "response_p95_s",
    "response_p99_s",
    "batch_size_mean",
    "batches",
    "throughput_rps",
    "arrival_lag_max_s",
}
ENERGY_METRICS = {"energy_per_image_j", "energy_j"}
Compose = Callable[..., DictConfig]


def _runs(tmp_path: Path) -> list:  # type: ignore[type-arg]
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    return mlflow.search_runs(
        experiment_names=["green_ai"], output_format="list", order_by=["start_time ASC"]
    )


@pytest.mark.slow
def test_tiny_runs_land_in_mlflow(
    infer_cfg: Compose, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts beside the working directory
    fixed = run_inference(infer_cfg(*TINY, "batching=fixed", "batch_size=5"))
    greedy = run_inference(infer_cfg(*TINY, "batching=greedy", "energy=none"))
    timeout = run_inference(
        infer_cfg(*TINY, "batching=timeout", "batch_size=8", "batching.max_delay_s=0.01")
    )
    # 24 requests in batches of 5: four full and a flushed one of 4.
    assert fixed["batches"] == 5
    assert fixed["batch_size_mean"] == pytest.approx(24 / 5)
    assert set(fixed) >= RUN_METRICS
    assert fixed["energy_j"] > 0  # estimated from CPU time
    assert fixed["response_max_s"] >= fixed["response_p99_s"] >= fixed["response_p50_s"] > 0
    assert ENERGY_METRICS.isdisjoint(greedy)  # energy=none: absent, never 0
    assert timeout["batches"] >= 3

    runs = _runs(tmp_path)
    assert len(runs) == 3
    first, second, third = runs
    for run in runs:
        assert run.data.tags["green_ai.kind"] == "inference"
        assert run.data.tags["git_commit"]
        assert run.data.params["model"] == "shufflenet_v2_x0_5"
        assert run.data.params["device"] == "cpu"
        assert run.data.params["requests"] == "24"
    assert set(first.data.metrics) >= RUN_METRICS
    assert first.data.metrics["batches"] == 5
    assert first.data.params["batching"] == "fixed"
    assert first.data.params["batch_size"] == "5"
    assert first.data.tags["energy.kind"] == "estimated"
    assert second.data.params["batching"] == "greedy"
    assert second.data.params["batch_size"] == "none"
    assert second.data.params["max_batch"] == "128"
    assert ENERGY_METRICS.isdisjoint(second.data.metrics)
    assert third.data.params["max_delay_s"] == "0.01"


@pytest.mark.slow
def test_profile_then_simulate_then_recommend(infer_cfg: Compose, tmp_path: Path) -> None:
    profile_overrides = [
        *TINY,
        "profile.batch_sizes=[1,4,8]",
        "profile.min_time_s=0.02",
        "profile.idle_s=0.05",
        "profile.pauses_s=[0.005,0.02]",
    ]
    out = run_inference(infer_cfg(*profile_overrides, "mode=profile"))
    saved = json.loads(Path(out["profile"]).read_text())
    assert saved["batch_sizes"] == [1, 4, 8]
    assert saved["pauses_s"] == [0.005, 0.02]
    assert all(t > 0 for row in [saved["service_s"], *saved["service_cold_s"]] for t in row)
    assert [len(row) for row in saved["energy_cold_j"]] == [3, 3]
    assert saved["energy_j"] is not None and saved["idle_power_w"] is not None
    assert saved["meta"]["model"] == "shufflenet_v2_x0_5"

    predicted = run_inference(
        infer_cfg(*profile_overrides, "mode=simulate", "batching=fixed", "batch_size=4")
    )
    assert predicted["batches"] == 6
    # The virtual loop wakes late by lags drawn from those the profile measured.
    assert 0.0 <= predicted["arrival_lag_max_s"] <= max(saved["wake_lag_s"])
    assert predicted["energy_per_image_j"] > 0

    advice = run_inference(infer_cfg(*profile_overrides, "mode=recommend", "recommend.limit_s=10"))
    assert advice["recommended"] is not None
    # With a generous limit the recommendation is the least energy per image of them all.
    tight = run_inference(
        infer_cfg(*profile_overrides, "mode=recommend", "recommend.limit_s=1e-9")
    )
    assert tight == {"recommended": None}

    # A profile of another model is refused rather than silently used.
    with pytest.raises(UserError, match="is of shufflenet_v2_x0_5"):
        run_inference(infer_cfg(*TINY, "model.name=alexnet", "image_size=64", "mode=simulate"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["frequency=0"], "frequency=0.0 must be"),
        (["frequency=-16"], "frequency=-16.0 must be"),
        (["batch_size=0"], "batch_size=0 must be an integer of at least 1"),
        (["batching=greedy", "batching.max_batch=0"], "max_batch=0"),
        (["batching=timeout", "batching.max_delay_s=-0.5"], "max_delay_s=-0.5"),
        (["requests=0"], "requests=0"),
        (["arrivals=uniform"], "arrivals='uniform' is unknown"),
        (["mode=train"], "mode='train' is unknown"),
        (["model.name=resnet19"], "did you mean resnet18"),
        (["image_size=16"], "too small for alexnet: the smallest that works is"),
        (["warmup.batches=-1"], "warmup.batches=-1"),
        (["cpu_threads=0"], "cpu_threads=0"),
        (["mode=recommend", "recommend.limit_s=0"], "recommend.limit_s=0"),
    ],
)
def test_bad_settings_are_user_errors(
    infer_cfg: Compose, overrides: list[str], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        settings_from(infer_cfg(*overrides))


@pytest.mark.slow
def test_the_thesis_experiment_is_100_configurations(infer_cfg: Compose) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "infer", overrides=["+experiment=inference_batching"], return_hydra_config=True
        )
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert isinstance(params, dict)
    axes = {k: str(v).split(",") for k, v in params.items()}
    assert len(list(itertools.product(*axes.values()))) == 100
    assert axes["frequency"] == ["16", "32", "64", "128"]
    # Every strategy composes into the batching the thesis names (§4.3.1).
    seen = set()
    for name in axes["batching"]:
        s = settings_from(infer_cfg(f"batching={name}", "image_size=224"))
        seen.add(s.policy.describe())
    assert seen == {"fixed-16", "fixed-32", "fixed-64", "fixed-128", "greedy-128"}
    for model in axes["model"]:
        assert settings_from(infer_cfg(f"model={model}")).model == model


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "green_ai.infer", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_command_prints_a_user_error_on_one_line_and_exits_2(tmp_path: Path) -> None:
    result = _cli("frequency=0", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: frequency=0")


@pytest.mark.slow
def test_a_multirun_runs_every_configuration(tmp_path: Path) -> None:
    result = _cli(
        "-m",
        "model.name=shufflenet_v2_x0_5,squeezenet1_1",
        "frequency=200,400",
        "batching=greedy",
        "image_size=32",
        "requests=8",
        "warmup.batches=1",
        "warmup.batch_size=2",
        "energy=none",
        "device=cpu",
        "cpu_threads=1",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        f"hydra.sweep.dir={tmp_path}/multirun",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = _runs(tmp_path)
    combos = {(r.data.params["model"], r.data.params["frequency"]) for r in runs}
    assert combos == {
        (m, f) for m in ("shufflenet_v2_x0_5", "squeezenet1_1") for f in ("200", "400")
    }


def test_the_thesis_design_warms_up_256_by_32_and_ad_hoc_runs_until_steady(
    infer_cfg: Compose,
) -> None:
    thesis = settings_from(infer_cfg("+experiment=inference_batching")).warmup
    assert (thesis.mode, thesis.batches, thesis.batch_size) == ("fixed", 256, 32)
    assert settings_from(infer_cfg()).warmup.mode == "steady"


@pytest.mark.slow
def test_a_run_records_its_warmup_co2_and_batches_and_prints_one_line(
    infer_cfg: Compose,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    out = run_inference(
        infer_cfg(*TINY, "batching=fixed", "batch_size=6", "energy.grid_intensity_g_per_kwh=300")
    )
    assert out["co2_g"] == pytest.approx(out["energy_j"] / 3.6e6 * 300)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1
    assert printed[0].startswith("measured  shufflenet_v2_x0_5")
    assert "fixed-6" in printed[0]
    (run,) = _runs(tmp_path)
    assert run.data.params["warmup"] == "steady"
    assert int(run.data.params["warmup_batches"]) >= 16  # warmup.min_batches
    assert run.data.metrics["co2_g"] == pytest.approx(out["co2_g"])
    assert run.data.metrics["warmup_s"] > 0
    import mlflow

    csv = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/batches.csv").splitlines()
    assert csv[0] == "first,size,start_s,end_s,energy_j,power_peak_w"
    assert [line.split(",")[:2] for line in csv[1:]] == [[str(6 * i), "6"] for i in range(4)]
