"""One training study: an Optuna study of `rounds` trials × `repetitions` trainings.

Thesis §3.3.1: a round picks hyperparameters; the net is trained `repetitions` times with
them; the round's score is the mean test accuracy. The study lives in a database and is
named after its config, so the same command resumes it. Each round is tracked in MLflow as
it runs, with the joules of every round, repetition and epoch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from green_ai.data import DeviceData, dataset_shape, load_dataset
from green_ai.devices import device_name
from green_ai.energy import EnergyMeter, Measurement, build_meter, co2_g, measurement_metrics
from green_ai.errors import UserError
from green_ai.nets import build_net
from green_ai.paths import launch_dir
from green_ai.progress import MODES as PROGRESS_MODES
from green_ai.progress import Progress
from green_ai.search.space import build_space, suggest
from green_ai.tracking import StudyRuns
from green_ai.training import (
    DivergedError,
    EpochResult,
    configure_device,
    resolve_device,
    train_repetition,
)
from green_ai.training.loop import seed_everything

log = logging.getLogger("green_ai")

INTERRUPTED = "interrupted"
# A round that stopped for a reason outside it (Ctrl-C, a config error found mid-round) is
# recorded as failed with this user attribute set, and is not counted: a rerun redoes it.
REDO = "redo_on_rerun"
# Config keys that do not change what a study computes: a rerun that differs only in these
# continues the same study (rounds=3 after rounds=2 adds one round).
_NOT_IDENTITY = ("rounds", "tracking", "study", "energy", "progress", "device", "hydra")
_OBJECTIVES = {"accuracy": "maximize", "energy": "minimize"}


@dataclass(frozen=True)
class StudyOutcome:
    study_name: str
    best_accuracy: float | None
    rounds_completed: int
    new_rounds: int
    stop_reason: str | None
    parent_run_id: str
    energy_j: float | None


def study_name(cfg: DictConfig) -> str:
    """A readable name plus a hash of everything that changes what the study computes."""
    if cfg.study.get("name"):
        return str(cfg.study.name)
    identity = {
        k: v
        for k, v in OmegaConf.to_container(cfg, resolve=True).items()  # type: ignore[union-attr]
        if k not in _NOT_IDENTITY
    }
    identity["search"] = {k: v for k, v in identity["search"].items() if k != "energy_budget_j"}
    digest = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    return (
        f"{cfg.net.name}-conv{cfg.conv}-linear{cfg.linear}-relu{cfg.relu}-{cfg.dataset.name}"
        f"-{cfg.search.name}-{cfg.hparams.name}-{digest}"
    )


def validate(cfg: DictConfig) -> None:
    """Cheap checks of the shortcuts, before anything is loaded or measured."""
    for key, minimum in (
        ("conv", 0),
        ("linear", 1),
        ("epochs", 1),
        ("rounds", 1),
        ("repetitions", 1),
        ("batch_size", 1),
    ):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise UserError(f"{key}={value!r} must be an integer of at least {minimum}")
    if cfg.relu not in (0, 1):
        raise UserError(f"relu={cfg.relu!r} must be 0 (no ReLU in the conv blocks) or 1")
    if cfg.progress not in PROGRESS_MODES:
        raise UserError(f"progress={cfg.progress!r} is not one of {', '.join(PROGRESS_MODES)}")
    objectives = list(cfg.search.get("objectives") or ["accuracy"])
    if objectives[0] != "accuracy" or any(o not in _OBJECTIVES for o in objectives):
        raise UserError(
            f"search.objectives={objectives} is not supported; use [accuracy] or [accuracy,energy]"
        )
    budget = cfg.search.get("energy_budget_j")
    if budget is not None and float(budget) <= 0:
        raise UserError(f"search.energy_budget_j={budget} must be positive (or null for none)")


def storage_url(cfg: DictConfig) -> str:
    """The configured Optuna storage, or SQLite `studies.db` in the launch directory."""
    url = cfg.study.get("storage")
    if url:
        return str(url)
    return f"sqlite:///{Path(launch_dir(), 'studies.db').resolve()}"


def open_study(
    name: str, storage: str, directions: list[optuna.study.StudyDirection], attempts: int = 6
) -> optuna.Study:
    """Create the study, or load it if it exists.

    Workers started together on an empty shared database race to create Optuna's tables
    (PostgreSQL: a unique violation on a new table's type, or "type already exists"); the loser
    retries after a short, randomised pause and then finds the tables made.
    """
    for attempt in range(attempts - 1):
        try:
            return optuna.create_study(
                study_name=name, storage=storage, directions=directions, load_if_exists=True
            )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            time.sleep(0.1 * (attempt + 1) + random.random() * 0.2)
    return optuna.create_study(  # the last attempt lets its error through
        study_name=name, storage=storage, directions=directions, load_if_exists=True
    )


def run_study(cfg: DictConfig) -> StudyOutcome:
    """Run (or resume) the study that `cfg` describes; see the module docstring."""
    validate(cfg)
    input_shape, num_classes = dataset_shape(cfg.dataset)
    _make_net(cfg, input_shape, num_classes)  # an unsupported layer count fails before loading
    space = build_space(cfg.hparams)
    objectives = list(cfg.search.get("objectives") or ["accuracy"])
    device = resolve_device(str(cfg.device))
    configure_device(device)
    meter = build_meter(cfg.energy, device)
    try:
        if "energy" in objectives and meter.backend == "none":
            raise UserError(
                "search.objectives includes energy but energy=none measures no joules; "
                "use energy=auto, nvml, rapl or estimate"
            )
        data = load_dataset(cfg.dataset, device, seed=int(cfg.seed))
        return _Study(cfg, data, space, objectives, meter).run()
    finally:
        meter.close()


def _make_net(
    cfg: DictConfig, input_shape: tuple[int, int, int], num_classes: int
) -> torch.nn.Module:
    options = OmegaConf.to_container(cfg.net.get("options") or {}, resolve=True)
    return build_net(
        str(cfg.net.name),
        input_shape=input_shape,
        num_classes=num_classes,
        conv=int(cfg.conv),
        linear=int(cfg.linear),
        relu=int(cfg.relu),
        options=options,  # type: ignore[arg-type]
    )


class _Study:
    def __init__(
        self,
        cfg: DictConfig,
        data: DeviceData,
        space: dict[str, Any],
        objectives: list[str],
        meter: EnergyMeter,
    ) -> None:
        self.cfg = cfg
        self.data = data
        self.space = space
        self.objectives = objectives
        self.meter = meter
        self.name = study_name(cfg)
        self.grid_intensity = float(cfg.energy.get("grid_intensity_g_per_kwh", 0.0))
        self.budget = cfg.search.get("energy_budget_j")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = storage_url(cfg)
        directions = [optuna.study.StudyDirection[_OBJECTIVES[o].upper()] for o in objectives]
        existing = open_study(self.name, storage, directions)
        # A resumed study offsets the sampler's seed by the trials it already has (the same
        # seed again would redraw the first rounds' hyperparameters), and each worker sharing
        # the study by its number (workers started together would draw alike).
        seed = (
            int(cfg.seed)
            + len(existing.get_trials(deepcopy=False))
            + 1_000_003 * int(cfg.study.get("worker") or 0)
        )
        self.sampler = instantiate(cfg.search.sampler)(space=space, seed=seed)
        # The sampler's seed depends on the trials the study holds, so it joins the opened study
        # afterwards instead of opening the storage a second time.
        existing.sampler = self.sampler
        self.study = existing

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> StudyOutcome:
        cfg = self.cfg
        rounds = int(cfg.rounds)
        done = self._counted_trials()
        runs = StudyRuns(
            cfg,
            self.name,
            tags={
                "device": device_name(self.data.train_x.device),
                "energy.backend": self.meter.backend,
                "energy.kind": self.meter.kind,
                "energy.devices": ", ".join(self.meter.device_names),
            },
        )
        progress = Progress(
            str(cfg.progress),
            rounds=rounds,
            done=min(len(done), rounds),
            epochs_per_round=int(cfg.epochs) * int(cfg.repetitions),
        )
        verb = "resuming" if done else "starting"
        progress.info(
            f"{verb} study {self.name}: {len(done)}/{rounds} rounds done "
            f"(storage {_redact(storage_url(cfg))}, MLflow run {runs.run_id})"
        )
        stop_reason: str | None = None
        new_rounds = 0
        status = "FINISHED"
        try:
            if len(done) < rounds:
                idle_w = self.meter.measure_idle()
                if idle_w is not None:
                    runs.log_metrics(runs.run_id, {"idle_power_w": idle_w})
            while True:
                done = self._counted_trials()
                stop_reason = self._stop_reason(done, rounds)
                if stop_reason:
                    break
                self._run_round(runs, progress)
                new_rounds += 1
                self._log_totals(runs)
        except KeyboardInterrupt:
            status = "KILLED"
            stop_reason = INTERRUPTED
            raise
        except BaseException as err:  # the parent run says the study broke, and why
            status = "FAILED"
            stop_reason = f"{type(err).__name__}: {err}"
            raise
        finally:
            progress.close()
            done = self._counted_trials()
            best = self._best_accuracy(done)
            energy = self._total_energy(done)
            runs.finish(status=status, tags={"stop_reason": stop_reason or ""})
            if len(self.objectives) > 1:
                runs.log_dict(self._pareto_front(), "pareto_front.json")
        if stop_reason and stop_reason != f"{rounds} rounds completed":
            log.info("study %s stopped: %s", self.name, stop_reason)
        return StudyOutcome(
            study_name=self.name,
            best_accuracy=best,
            rounds_completed=len(done),
            new_rounds=new_rounds,
            stop_reason=stop_reason,
            parent_run_id=runs.run_id,
            energy_j=energy,
        )

    def _stop_reason(self, done: list[optuna.trial.FrozenTrial], rounds: int) -> str | None:
        if len(done) >= rounds:
            return f"{rounds} rounds completed"
        is_exhausted = getattr(self.sampler, "is_exhausted", None)
        if is_exhausted is not None and is_exhausted(self.study):
            return f"the grid is exhausted after {len(done)} rounds (fewer than rounds={rounds})"
        total = self._total_energy(done)
        if self.budget is not None and total is not None and total >= float(self.budget):
            return (
                f"energy budget reached: {total:.1f} J measured >= "
                f"search.energy_budget_j={float(self.budget):.1f} J"
            )
        return None

    def _run_round(self, runs: StudyRuns, progress: Progress) -> None:
        cfg = self.cfg
        trial = self.study.ask()
        hparams = suggest(trial, self.space)
        run_id = runs.start_round(trial.number, hparams)
        trial.set_user_attr("mlflow_run_id", run_id)
        progress.start_round()
        reps = int(cfg.repetitions)
        accuracies: list[float] = []
        window_prefix = f"round{trial.number}"
        failure: str | None = None
        round_m: Measurement | None = None
        try:
            with self.meter.window(window_prefix) as round_w:
                for rep in range(reps):
                    rep_started = time.perf_counter()
                    with self.meter.window(f"{window_prefix}.rep{rep}") as rep_w:
                        result = self._train_once(
                            trial.number, rep, hparams, runs, run_id, progress
                        )
                    accuracies.append(result)
                    rep_metrics = {
                        "rep_accuracy": result,
                        "rep_duration_s": time.perf_counter() - rep_started,
                    }
                    if rep_w.measurement is not None and rep_w.measurement.energy_j is not None:
                        rep_metrics["rep_energy_j"] = rep_w.measurement.energy_j
                    runs.log_metrics(run_id, rep_metrics, step=rep)
            round_m = round_w.measurement
        except KeyboardInterrupt:
            self._abandon(trial, runs, run_id, INTERRUPTED)
            raise
        except UserError as err:  # the whole study stops; the rerun after the fix redoes it
            self._abandon(trial, runs, run_id, f"stopped: {err}")
            raise
        except DivergedError as err:
            failure = f"diverged: {err}"
            round_m = round_w.measurement
        except Exception as err:  # a failed round is recorded; the study goes on (SPEC)
            failure = f"{type(err).__name__}: {err}"
            round_m = round_w.measurement
            log.exception("round %d failed", trial.number)

        metrics: dict[str, float] = {}
        if round_m is not None:
            metrics.update(measurement_metrics(round_m))
            if round_m.energy_j is not None:
                trial.set_user_attr("energy_j", round_m.energy_j)
                metrics["co2_g"] = co2_g(round_m.energy_j, self.grid_intensity)
            if round_m.reason:
                trial.set_user_attr("energy_reason", round_m.reason)
        if accuracies:
            mean = sum(accuracies) / len(accuracies)
            var = sum((a - mean) ** 2 for a in accuracies) / len(accuracies)
            metrics.update({"accuracy": mean, "accuracy_std": math.sqrt(var)})
            trial.set_user_attr("rep_accuracies", accuracies)
        runs.log_metrics(run_id, metrics)

        if failure is None and len(self.objectives) > 1:
            energy = self._objective_energy(round_m)
            if energy is None:
                failure = "no energy figure for the energy objective: " + (
                    (round_m.reason if round_m else None) or "not measured"
                )
        if failure is not None:
            trial.set_user_attr("fail_reason", failure)
            self.study.tell(trial, state=TrialState.FAIL)
            runs.finish_round(run_id, failed_reason=failure)
            progress.round_done(f"round {trial.number} failed: {failure}")
            return
        values: list[float] = [metrics["accuracy"]]
        if len(self.objectives) > 1:
            values.append(self._objective_energy(round_m) or 0.0)
        self.study.tell(trial, values if len(values) > 1 else values[0])
        runs.finish_round(run_id)
        joules = f", {metrics['energy_j']:.1f} J" if "energy_j" in metrics else ""
        shown = ", ".join(f"{k}={v:.5g}" for k, v in hparams.items())
        progress.round_done(
            f"round {trial.number}: accuracy {metrics['accuracy']:.4f} "
            f"({metrics.get('duration_s', 0.0):.1f} s{joules}) {shown}"
        )

    def _train_once(
        self,
        number: int,
        rep: int,
        hparams: dict[str, float],
        runs: StudyRuns,
        run_id: str,
        progress: Progress,
    ) -> float:
        cfg = self.cfg
        epochs = int(cfg.epochs)
        seed = (int(cfg.seed) * 1_000_003 + number * 1_009 + rep) % 2**31
        seed_everything(seed)
        model = _make_net(cfg, self.data.input_shape, self.data.num_classes)
        model = model.to(self.data.train_x.device)
        prefix = f"round{number}.rep{rep}"

        def on_epoch(e: EpochResult) -> None:
            step = rep * epochs + e.epoch
            metrics = {"train_loss": e.train_loss, "epoch_duration_s": e.duration_s}
            if e.test_accuracy is not None:
                metrics["test_accuracy"] = e.test_accuracy
            m = e.measurement
            if m is not None and m.energy_j is not None:
                metrics["epoch_energy_j"] = m.energy_j
            runs.log_metrics(run_id, metrics, step=step)
            progress.epoch(f"rep {rep} loss {e.train_loss:.3f}")

        result = train_repetition(
            model,
            self.data,
            hparams,
            epochs=epochs,
            batch_size=int(cfg.batch_size),
            seed=seed,
            eval_every_epoch=bool(cfg.get("eval_every_epoch", True)),
            epoch_window=lambda epoch: self.meter.window(f"{prefix}.epoch{epoch}"),
            on_epoch=on_epoch,
        )
        return result.accuracy

    # -- study-level figures -------------------------------------------------------------

    def _abandon(
        self, trial: optuna.trial.Trial, runs: StudyRuns, run_id: str, reason: str
    ) -> None:
        """Record a round cut short from outside as failed, to be redone by the next run."""
        trial.set_user_attr("fail_reason", reason)
        trial.set_user_attr(REDO, True)
        self.study.tell(trial, state=TrialState.FAIL)
        runs.finish_round(run_id, failed_reason=reason)

    def _counted_trials(self) -> list[optuna.trial.FrozenTrial]:
        """Finished rounds; a round cut short by Ctrl-C or a config error is not counted and
        will be redone."""
        return [
            t
            for t in self.study.get_trials(deepcopy=False)
            if t.state == TrialState.COMPLETE
            or (t.state == TrialState.FAIL and not t.user_attrs.get(REDO))
        ]

    @staticmethod
    def _total_energy(trials: list[optuna.trial.FrozenTrial]) -> float | None:
        values = [t.user_attrs["energy_j"] for t in trials if "energy_j" in t.user_attrs]
        return float(sum(values)) if values else None

    @staticmethod
    def _best_accuracy(trials: list[optuna.trial.FrozenTrial]) -> float | None:
        values = [t.values[0] for t in trials if t.state == TrialState.COMPLETE and t.values]
        return max(values) if values else None

    @staticmethod
    def _objective_energy(m: Measurement | None) -> float | None:
        if m is None:
            return None
        return m.energy_net_j if m.energy_net_j is not None else m.energy_j

    def _log_totals(self, runs: StudyRuns) -> None:
        done = sorted(self._counted_trials(), key=lambda t: t.number)
        best = self._best_accuracy(done)
        totals: dict[str, float] = {"rounds_completed": float(len(done))}
        if best is not None:
            totals["best_accuracy"] = best
        energy = self._total_energy(done)
        if energy is not None:
            totals["energy_j"] = energy
            totals["co2_g"] = co2_g(energy, self.grid_intensity)
            # Cumulative joules at every round, so convergence can be plotted against energy.
            runs.log_metrics(runs.run_id, {"cumulative_energy_j": energy}, step=done[-1].number)
        runs.log_metrics(runs.run_id, totals)

    def _pareto_front(self) -> dict[str, Any]:
        return {
            "objectives": self.objectives,
            "trials": [
                {"number": t.number, "values": t.values, "params": t.params}
                for t in self.study.best_trials
            ],
        }


def _redact(url: str) -> str:
    """Hide a password in a database URL before it is printed."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url
