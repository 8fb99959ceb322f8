"""One round of a study: ask Optuna for hyperparameters, train `repetitions` times, tell it.

Everything a round measures reaches MLflow as it happens: each epoch's loss, accuracy and
joules, each repetition's, then the round's (thesis §3.3.3). Optuna gets the first
repetition's test accuracy after every epoch as the trial's intermediate values (what
optuna-dashboard plots and pruners decide on; why the first: green_ai.search.pruning), and
the round's joules, duration, CO2 and MLflow run as the trial's user attributes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

import optuna
import torch
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState

from green_ai.config.train import TrainConfig
from green_ai.data import DeviceData
from green_ai.energy import (
    EnergyMeter,
    Measurement,
    co2_g,
    measurement_metrics,
    measurement_tags,
)
from green_ai.errors import UserError
from green_ai.nets import build_net
from green_ai.progress import Progress
from green_ai.search.workers import FAIL_REASON
from green_ai.tracking import StudyRuns
from green_ai.training import DivergedError, EpochResult, train_repetition
from green_ai.training.loop import seed_everything

log = logging.getLogger("green_ai")

INTERRUPTED = "interrupted"


def make_net(
    settings: TrainConfig, input_shape: tuple[int, int, int], num_classes: int
) -> torch.nn.Module:
    """The study's network for this input; a layer count it cannot support is a UserError."""
    return build_net(
        settings.net.name,
        input_shape=input_shape,
        num_classes=num_classes,
        conv=settings.conv,
        linear=settings.linear,
        relu=settings.relu,
        options=dict(settings.net.options),
    )


class RoundRunner:
    """Runs rounds of one study; each `run` is one Optuna trial."""

    def __init__(
        self,
        settings: TrainConfig,
        data: DeviceData,
        meter: EnergyMeter,
        space: Mapping[str, BaseDistribution],
        runs: StudyRuns,
        progress: Progress,
    ) -> None:
        self.settings = settings
        self.data = data
        self.meter = meter
        self.space = space
        self.runs = runs
        self.progress = progress
        self._trial: optuna.Trial | None = None  # the trial to report epochs to, if any
        self._pruned_epoch: int | None = None

    def run(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        hparams: dict[str, float],
        grid_intensity: float,
    ) -> TrialState:
        """Train the round of `trial` (already reserved), tell Optuna; return its state.

        A round cut short from outside (Ctrl-C, SIGTERM, a config error found mid-round) is
        recorded as failed, its runs closed, and the exception goes on: a rerun redoes it.
        """
        run_id = self.runs.start_round(trial.number, hparams)
        trial.set_user_attr("mlflow_run_id", run_id)
        self.progress.start_round()
        # Optuna takes intermediate values of single-objective studies only.
        self._trial = trial if len(study.directions) == 1 else None
        try:
            accuracies, round_m, failure = self._train_repetitions(trial.number, hparams, run_id)
        except KeyboardInterrupt as err:
            self._abandon(study, trial, run_id, str(err) or INTERRUPTED, killed=True)
            raise
        except UserError as err:  # the whole study stops; the rerun after the fix redoes it
            self._abandon(study, trial, run_id, f"stopped: {err}", killed=False)
            raise
        pruned_epoch = self._pruned_epoch
        metrics = self._round_metrics(trial, accuracies, round_m, grid_intensity)
        if pruned_epoch is not None:
            # Not a result: the round stopped early and its repetitions were not all trained
            # (Optuna records the last intermediate value as the trial's value).
            metrics.pop("accuracy", None)
            metrics.pop("accuracy_std", None)
            metrics["pruned_epoch"] = float(pruned_epoch)
        self.runs.log_metrics(run_id, metrics)
        if round_m is not None:  # measured or estimated, and why a figure is missing
            self.runs.set_tags(run_id, measurement_tags(round_m))
        if failure is None and pruned_epoch is not None:
            trial.set_user_attr("pruned_epoch", pruned_epoch)
            study.tell(trial, state=TrialState.PRUNED)
            self.runs.finish_round(run_id, pruned=True)
            self.progress.round_done(_pruned_line(trial.number, pruned_epoch, metrics, hparams))
            return TrialState.PRUNED
        multi_objective = len(study.directions) > 1
        energy = _objective_energy(round_m)
        if failure is None and multi_objective and energy is None:
            reason = (round_m.reason if round_m else None) or "not measured"
            failure = f"no energy figure for the energy objective: {reason}"
        if failure is not None:
            trial.set_user_attr(FAIL_REASON, failure)
            study.tell(trial, state=TrialState.FAIL)
            self.runs.finish_round(run_id, failed_reason=failure)
            self.progress.round_done(f"round {trial.number} failed: {failure}", counted=False)
            return TrialState.FAIL
        if multi_objective:
            assert energy is not None
            study.tell(trial, [metrics["accuracy"], energy])
        else:
            study.tell(trial, metrics["accuracy"])
        self.runs.finish_round(run_id)
        self.progress.round_done(_round_line(trial.number, metrics, hparams))
        return TrialState.COMPLETE

    def _train_repetitions(
        self, number: int, hparams: dict[str, float], run_id: str
    ) -> tuple[list[float], Measurement | None, str | None]:
        """Train `repetitions` times in one energy window; a failure ends the round early and
        is returned as its reason (the study goes on, SPEC)."""
        accuracies: list[float] = []
        failure: str | None = None
        self._pruned_epoch = None
        prefix = f"round{number}"
        with self.meter.window(prefix) as round_w:
            try:
                for rep in range(self.settings.repetitions):
                    started = time.perf_counter()
                    with self.meter.window(f"{prefix}.rep{rep}") as rep_w:
                        accuracy = self._train_once(number, rep, hparams, run_id)
                    accuracies.append(accuracy)
                    metrics = {
                        "rep_accuracy": accuracy,
                        "rep_duration_s": time.perf_counter() - started,
                    }
                    metrics.update(_energy_metrics(rep_w.measurement, "rep_"))
                    self.runs.log_metrics(run_id, metrics, step=rep)
            except optuna.TrialPruned:
                # The joules of the stopped repetition are in the round's window; it has no
                # repetition figures, as it is no training iteration (thesis §3.5.2's unit).
                assert self._pruned_epoch is not None
            except DivergedError as err:
                failure = f"diverged: {err}"
            except (KeyboardInterrupt, UserError):
                raise
            except Exception as err:
                failure = f"{type(err).__name__}: {err}"
                log.exception("round %d failed", number)
        return accuracies, round_w.measurement, failure

    def _train_once(self, number: int, rep: int, hparams: dict[str, float], run_id: str) -> float:
        s = self.settings
        seed = (s.seed * 1_000_003 + number * 1_009 + rep) % 2**31
        seed_everything(seed)
        model = make_net(s, self.data.input_shape, self.data.num_classes)
        model = model.to(self.data.train_x.device)
        prefix = f"round{number}.rep{rep}"

        def on_epoch(e: EpochResult) -> None:
            step = rep * s.epochs + e.epoch
            metrics = {"train_loss": e.train_loss, "epoch_duration_s": e.duration_s}
            if e.test_accuracy is not None:
                metrics["test_accuracy"] = e.test_accuracy
            metrics.update(_energy_metrics(e.measurement, "epoch_"))
            self.runs.log_metrics(run_id, metrics, step=step)
            shown = "" if e.test_accuracy is None else f" accuracy {e.test_accuracy:.4f}"
            self.progress.epoch(
                f"round {number}: rep {rep + 1}/{s.repetitions} epoch {e.epoch + 1}/{s.epochs} "
                f"loss {e.train_loss:.3f}{shown}"
            )
            trial = self._trial
            if rep == 0 and trial is not None and e.test_accuracy is not None:
                trial.report(e.test_accuracy, step=e.epoch)
                # After the last epoch of the only repetition nothing is left to save.
                left = e.epoch < s.epochs - 1 or s.repetitions > 1
                if left and trial.should_prune():
                    self._pruned_epoch = e.epoch
                    raise optuna.TrialPruned(f"pruned after epoch {e.epoch}")

        result = train_repetition(
            model,
            self.data,
            hparams,
            epochs=s.epochs,
            batch_size=s.batch_size,
            seed=seed,
            eval_every_epoch=s.eval_every_epoch,
            epoch_window=lambda epoch: self.meter.window(f"{prefix}.epoch{epoch}"),
            on_epoch=on_epoch,
        )
        return result.accuracy

    def _round_metrics(
        self,
        trial: optuna.Trial,
        accuracies: list[float],
        m: Measurement | None,
        grid_intensity: float,
    ) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if m is not None:
            metrics.update(measurement_metrics(m))
            trial.set_user_attr("duration_s", m.duration_s)
            if m.energy_j is not None:
                metrics["co2_g"] = co2_g(m.energy_j, grid_intensity)
                trial.set_user_attr("energy_j", m.energy_j)
                trial.set_user_attr("co2_g", metrics["co2_g"])
            if m.energy_net_j is not None:
                trial.set_user_attr("energy_net_j", m.energy_net_j)
            if m.reason:
                trial.set_user_attr("energy_reason", m.reason)
        if accuracies:
            mean = sum(accuracies) / len(accuracies)
            var = sum((a - mean) ** 2 for a in accuracies) / len(accuracies)
            metrics.update({"accuracy": mean, "accuracy_std": math.sqrt(var)})
            trial.set_user_attr("rep_accuracies", accuracies)
        return metrics

    def _abandon(
        self, study: optuna.Study, trial: optuna.Trial, run_id: str, reason: str, *, killed: bool
    ) -> None:
        """Record a round cut short from outside as failed (not counted: it is redone)."""
        trial.set_user_attr(FAIL_REASON, reason)
        study.tell(trial, state=TrialState.FAIL)
        self.runs.finish_round(run_id, failed_reason=reason, killed=killed)


def _energy_metrics(m: Measurement | None, prefix: str) -> dict[str, float]:
    """Gross and idle-subtracted joules of a repetition or epoch window (thesis §3.3.3: the
    factorial analyses one net figure per training iteration); absent ones stay absent."""
    out: dict[str, float] = {}
    if m is not None and m.energy_j is not None:
        out[f"{prefix}energy_j"] = m.energy_j
        if m.energy_net_j is not None:
            out[f"{prefix}energy_net_j"] = m.energy_net_j
    return out


def _objective_energy(m: Measurement | None) -> float | None:
    """The energy objective: idle-subtracted joules where idle was measured, else gross."""
    if m is None:
        return None
    return m.energy_net_j if m.energy_net_j is not None else m.energy_j


def _round_line(number: int, metrics: Mapping[str, float], hparams: Mapping[str, float]) -> str:
    return f"round {number}: accuracy {metrics['accuracy']:.4f} {_cost(metrics, hparams)}"


def _pruned_line(
    number: int, epoch: int, metrics: Mapping[str, float], hparams: Mapping[str, float]
) -> str:
    return f"round {number}: pruned after epoch {epoch + 1} {_cost(metrics, hparams)}"  # 1-based


def _cost(metrics: Mapping[str, float], hparams: Mapping[str, float]) -> str:
    joules = f", {metrics['energy_j']:.1f} J" if "energy_j" in metrics else ""
    duration = f"{metrics['duration_s']:.1f} s" if "duration_s" in metrics else "no duration"
    shown = ", ".join(f"{k}={v:.5g}" for k, v in hparams.items())
    return f"({duration}{joules}) {shown}"
