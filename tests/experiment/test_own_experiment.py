"""A researcher's own experiment, run as a user runs it: `examples/my_lab` copied to a directory
outside the repository (its package on PYTHONPATH, its conf/ on Hydra's searchpath), nothing of
green_ai edited. README "Your own experiment" quotes the first command."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from search.workers import tracked_runs

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_lab"
# The README's command, shrunk a little more for the tests.
OWN = [
    "net=tinyres",
    "dataset=blobs",
    "optimizer=sgd",
    "hparams=tinyres_sgd",
    "task=cosine",
    "epochs=2",
    "repetitions=2",
    "batch_size=64",
    "dataset.n_train=256",
    "dataset.n_test=128",
    "device=cpu",
    "energy=estimate",
    "progress=log",
]

pytestmark = pytest.mark.slow


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """The example as a user's own directory, outside the repository."""
    target = tmp_path / "LAB"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def green(lab: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    flags = [a for a in args if a.startswith("-")]  # `-m` (a multirun) before the overrides
    overrides = [a for a in args if not a.startswith("-")]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "green_ai.train",
            *flags,
            f"hydra.searchpath=[file://{lab}/conf]",
            *overrides,
        ],
        cwd=cwd or lab.parent,
        env=_env(lab),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # log lines and error lines, in order
        text=True,
        timeout=900,
    )


def green_report(lab: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m green_ai.report out_dir=report ARGS` where the studies ran."""
    return subprocess.run(
        [sys.executable, "-m", "green_ai.report", "out_dir=report", *args],
        cwd=lab.parent,
        env=_env(lab),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )


def _env(lab: Path) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(lab)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _study(cwd: Path) -> optuna.Study:
    storage = f"sqlite:///{cwd}/studies.db"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def test_the_example_runs_with_its_own_net_data_optimizer_space_and_loop(lab: Path) -> None:
    done = green(lab, *OWN, "rounds=3")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 rounds (3 new), best accuracy" in done.stdout
    cwd = lab.parent
    parents, rounds = tracked_runs(f"sqlite:///{cwd}/mlflow.db")
    (parent,) = parents
    params = parent.data.params
    assert (params["net"], params["dataset"], params["optimizer"], params["task"]) == (
        "tinyres",
        "blobs",
        "sgd",
        "cosine",
    )
    assert "conv" not in params  # a _target_ net has no layer counts
    assert parent.data.metrics["net.parameters"] > 0
    assert len(rounds) == 3
    for run in rounds:
        # Every searched value is a param of its round, wherever it went.
        assert {"lr", "momentum", "width", "label_smoothing"} <= set(run.data.params)
        metrics = run.data.metrics
        # What fit returned (averaged over the repetitions), the searched net's own counts,
        # the loop's own per-epoch numbers, and the joules of every window.
        assert {"accuracy", "val_loss", "accuracy_std", "rep_val_loss"} <= set(metrics)
        assert {"net.parameters", "lr", "train_loss", "epoch_energy_j"} <= set(metrics)
        assert metrics["energy_j"] > 0
    study = _study(cwd)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    # ctx.report gave the first repetition's accuracy after each epoch.
    assert all(sorted(t.intermediate_values) == [0, 1] for t in study.trials)
    widths = {run.data.params["width"] for run in rounds}
    counts = {run.data.metrics["net.parameters"] for run in rounds}
    assert len(counts) == len(widths)  # the searched width built nets of other sizes


def test_two_workers_share_the_example_study_and_it_prunes(lab: Path) -> None:
    args = [*OWN, "rounds=4", "search.pruner=median", "+search.pruner_options.n_startup_trials=1"]
    env = _env(lab)
    cmd = [sys.executable, "-m", "green_ai.train", f"hydra.searchpath=[file://{lab}/conf]"]
    procs = [
        subprocess.Popen(
            [*cmd, *args, f"study.worker={w}"],
            cwd=lab.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for w in (0, 1)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    study = _study(lab.parent)
    counted = [t for t in study.trials if t.state.is_finished() and t.state.name != "FAIL"]
    assert len(counted) == 4  # exactly `rounds`, however the two workers shared them
    assert {t.state.name for t in counted} <= {"COMPLETE", "PRUNED"}
    assert all(t.intermediate_values for t in counted)  # ctx.report fed the pruner


def test_an_objective_of_the_loop_with_its_direction(lab: Path) -> None:
    done = green(
        lab, *OWN, "rounds=2", "search.objectives=[val_loss]", "search.directions=[minimize]"
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "best val_loss" in done.stdout
    study = _study(lab.parent)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.metric_names == ["val_loss"]
    best = min(t.value for t in study.trials if t.value is not None)
    (parent,), rounds = tracked_runs(f"sqlite:///{lab.parent}/mlflow.db")
    assert parent.data.metrics["best_val_loss"] == pytest.approx(best)
    assert (parent.data.params["objective"], parent.data.params["direction"]) == (
        "val_loss",
        "minimize",
    )
    assert all("val_loss" in r.data.metrics for r in rounds)
    # The report ranks the study's rounds by its own objective, lowest first.
    report = green_report(lab)
    assert report.returncode == 0, report.stdout[-3000:]
    with (lab.parent / "report" / "best_val_loss.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["best_val_loss"]) == pytest.approx(best)


BAD_FILES = {
    "conf/net/missing.yaml": "_target_: my_lab.models.Missing\n",
    "conf/net/raises.yaml": "_target_: my_lab.bad.raising_net\n",
    "conf/net/notmodule.yaml": "_target_: my_lab.bad.not_a_module\n",
    "conf/dataset/wrong.yaml": "_target_: my_lab.bad.wrong_data\nn_train: 1\nn_test: 1\n",
    "conf/hparams/depth.yaml": "params:\n  depth: {type: int, low: 1, high: 3, target: net}\n",
    "conf/hparams/nobounds.yaml": "params:\n  lr: {log: true}\n",
    "conf/hparams/inverted.yaml": "params:\n  lr: {low: 0.3, high: 0.01}\n",
    "my_lab/bad.py": (
        "def raising_net(num_classes, width=8):\n    raise ValueError('no such width')\n\n\n"
        "def not_a_module(num_classes, width=8):\n    return 'a string'\n\n\n"
        "def wrong_data(n_train=1, n_test=1):\n    return [1, 2]\n"
    ),
}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["net=missing"], "net._target_=my_lab.models.Missing does not import"),
        (["net=raises"], "the builder raised ValueError: no such width"),
        (["net=notmodule"], "returned a str, not a torch.nn.Module"),
        (["dataset=wrong"], "dataset._target_=my_lab.bad.wrong_data"),
        (["hparams=depth"], "net.depth (searched with target: net) is not an argument"),
        (["hparams=nobounds"], "hparams.params.lr has no bounds"),
        (["hparams=inverted"], "low=0.3 must be below high=0.01"),
        (["conv=4"], "conv=4 sets a layer count of the thesis's nets"),
        (["hparams=adam3"], "hparams.params.beta1 is not an argument of torch.optim.SGD"),
    ],
)
def test_a_wrong_piece_is_one_line_before_any_study_or_run(
    lab: Path, overrides: list[str], message: str
) -> None:
    for name, text in BAD_FILES.items():
        (lab / name).write_text(text)
    done = green(lab, *OWN, *overrides)
    assert done.returncode == 2, done.stdout[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], done.stdout[-3000:]
    assert "Traceback" not in done.stdout
    assert _no_study_nor_run(lab.parent)


def _no_study_nor_run(cwd: Path) -> bool:
    studies = cwd / "studies.db"
    if studies.exists() and optuna.get_all_study_summaries(f"sqlite:///{studies}"):
        return False
    mlflow_db = cwd / "mlflow.db"
    if mlflow_db.exists():
        with sqlite3.connect(mlflow_db) as db:
            if db.execute("select count(*) from runs").fetchone()[0]:
                return False
    return True


def test_an_objective_that_fit_never_returns_fails_its_round_and_stops_the_study(
    lab: Path,
) -> None:
    done = green(lab, *OWN, "search.objectives=[f1]", "search.directions=[maximize]")
    assert done.returncode == 2, done.stdout[-3000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("error:")]
    assert "fit returned accuracy, val_loss but not f1" in line
    study = _study(lab.parent)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.FAIL
    assert "not f1" in trial.user_attrs["fail_reason"]


def test_a_sweep_over_the_nets_own_key_and_the_report_on_that_factor(lab: Path) -> None:
    cwd = lab.parent
    done = green(
        lab,
        "-m",
        *[o for o in OWN if not o.startswith("hparams=")],
        "hparams=sgd_momentum",
        "rounds=1",
        "repetitions=3",
        "net.width=4,8",
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "width4" in done.stdout and "width8" in done.stdout  # run names lead with them
    report = green_report(lab, "guards.effect_min_n=2")
    assert report.returncode == 0, report.stdout[-3000:]
    text = (cwd / "report" / "report.md").read_text()
    assert "Factorial (net.width" in text
    assert "net.width=4" in text and "net.width=8" in text


def test_a_config_dir_inside_the_package_is_found_by_pkg_url(lab: Path) -> None:
    shutil.copytree(lab / "conf", lab / "my_lab" / "conf")
    shutil.rmtree(lab / "conf")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "green_ai.train",
            "hydra.searchpath=[pkg://my_lab.conf]",
            *OWN,
            "rounds=1",
            "repetitions=1",
            "epochs=1",
        ],
        cwd=lab.parent,
        env=_env(lab),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 rounds (1 new)" in done.stdout


def test_gp_pi_searches_integers_categories_and_the_batch_size(lab: Path) -> None:
    (lab / "conf/hparams/mixed.yaml").write_text(
        "params:\n"
        "  lr: {low: 1.0e-2, high: 0.3, log: true}\n"
        "  width: {type: int, low: 4, high: 12, target: net}\n"
        "  label_smoothing: {choices: [0.0, 0.1], target: task}\n"
        "  batch_size: {choices: [32, 128], target: batch_size}\n"
    )
    args = [o for o in OWN if not o.startswith("hparams=")]
    done = green(
        lab,
        *args,
        "hparams=mixed",
        "search=gp_pi",
        "search.sampler.n_startup_trials=2",
        "search.sampler.n_candidates=64",
        "rounds=3",
        "repetitions=1",
    )
    assert done.returncode == 0, done.stdout[-3000:]
    study = _study(lab.parent)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    for t in study.trials:  # each value of its own kind, as MLflow params too
        assert isinstance(t.params["width"], int) and t.params["batch_size"] in (32, 128)
    _, rounds = tracked_runs(f"sqlite:///{lab.parent}/mlflow.db")
    assert all({"batch_size", "width"} <= set(r.data.params) for r in rounds)
