"""One round of a study: train `repetitions` times with the round's values, tell Optuna.

Each repetition is one call of the task's `fit(ctx)` (green_ai.training.task) inside the
repetition's energy window; each epoch the task runs through `ctx.epochs()` is a window of its
own. The round tells its observers (green_ai.search.events) everything it measures as it
happens: each epoch's figures and joules, each repetition's, then the round's (thesis
§3.3.3); MLflow records them (green_ai.tracking). Optuna gets the first repetition's reported
value after every epoch as the trial's intermediate values (what optuna-dashboard plots and
pruners decide on; why the first: green_ai.search.pruning), and the round's joules, duration
and CO2 as the trial's user attributes, with what observers returned at its start (its
MLflow run).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
import torch
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState

from green_ai.config.train import TrainConfig
from green_ai.energy import (
    EnergyMeter,
    Measurement,
    co2_g,
    measurement_metrics,
    measurement_tags,
)
from green_ai.errors import UserError
from green_ai.experiment import TaskRunner, make_net
from green_ai.nets import layer_counts
from green_ai.search.events import (
    EpochDone,
    Observers,
    RepetitionDone,
    RoundAbandoned,
    RoundDone,
    RoundMeasured,
    RoundStarted,
    StudyTotals,
)
from green_ai.search.pareto_pruning import ParetoPruner
from green_ai.search.space import values_for
from green_ai.search.workers import FAIL_REASON
from green_ai.stats.intervals import Interval, mean_interval, net_interval
from green_ai.training import DivergedError
from green_ai.training.loop import seed_everything
from green_ai.training.optimizers import build_optimizer
from green_ai.training.task import EpochRecord, TaskContext, TaskData

log = logging.getLogger("green_ai")

INTERRUPTED = "interrupted"
# A trial's mean gross joules per repetition: the energy budget of repetitions=auto.
REP_ENERGY_MEAN = "rep_energy_mean_j"


def epoch_metric(objective: str) -> str:
    """The name of the epoch's reported value in MLflow: `test_accuracy` for accuracy (the
    classify task's held-out accuracy), else `epoch_<objective>` (e.g. `epoch_val_loss`): the
    round's own `val_loss` (the repetitions' mean, step 0) must not share a history with it,
    or MLflow's latest value would be an epoch's."""
    return "test_accuracy" if objective == "accuracy" else f"epoch_{objective}"


@dataclass
class RoundResult:
    """What a round's repetitions gave: each one's numbers, the round's window, and why it
    stopped early (failure) or where it was pruned."""

    values: list[dict[str, float]] = field(default_factory=list)
    net_counts: dict[str, float] = field(default_factory=dict)  # a net the values changed
    measurement: Measurement | None = None
    failure: str | None = None
    pruned_epoch: int | None = None
    reps: list[Measurement] = field(default_factory=list)  # each finished repetition's window
    settle_s: float = 0.0  # waited for the device to settle before its repetitions


class RoundRunner:
    """Runs rounds of one study; each `run` is one Optuna trial."""

    def __init__(
        self,
        settings: TrainConfig,
        data: TaskData,
        meter: EnergyMeter,
        space: Mapping[str, BaseDistribution],
        observers: Observers,
        *,
        device: torch.device,
        task: TaskRunner | None = None,
    ) -> None:
        self.settings = settings
        self.data = data
        self.meter = meter
        self.space = space
        self.observers = observers
        self.device = device
        self.task = task or TaskRunner(settings)
        self.objectives = list(settings.search.objectives)
        self.objective = settings.search.objective
        self._trained = False  # a round trained in this process since the first idle baseline

    def run(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        hparams: dict[str, Any],
        grid_intensity: float,
    ) -> TrialState:
        """Train the round of `trial` (already reserved), tell Optuna; return its state.

        A round cut short from outside (Ctrl-C, SIGTERM, a config error found mid-round) is
        recorded as failed, its runs closed, and the exception goes on: a rerun redoes it.
        """
        # What the observers record of the round (its MLflow run) exists before it trains.
        attrs = self.observers.round_started(RoundStarted(trial.number, hparams))
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        # Optuna takes intermediate values of single-objective studies only; the Pareto
        # pruner keeps its own (green_ai.search.pareto_pruning).
        pareto = isinstance(study.pruner, ParetoPruner)
        reporting = trial if len(study.directions) == 1 or pareto else None
        try:
            result = self._train_repetitions(trial.number, hparams, reporting)
        except KeyboardInterrupt as err:
            self._abandon(study, trial, hparams, str(err) or INTERRUPTED, killed=True)
            raise
        except UserError as err:  # the whole study stops; the rerun after the fix redoes it
            self._abandon(study, trial, hparams, f"stopped: {err}", killed=False)
            raise
        metrics = self._round_metrics(trial, result, grid_intensity)
        # Measured or estimated, and why a figure is missing.
        tags = measurement_tags(result.measurement) if result.measurement is not None else {}
        self.observers.round_measured(RoundMeasured(trial.number, metrics, tags))
        return self._tell(study, trial, result, metrics, hparams)

    def _tell(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        result: RoundResult,
        metrics: dict[str, float],
        hparams: Mapping[str, Any],
    ) -> TrialState:
        """Tell Optuna how the round ended, then the observers."""
        number, failure = trial.number, result.failure
        if failure is None and result.pruned_epoch is not None:
            trial.set_user_attr("pruned_epoch", result.pruned_epoch)
            study.tell(trial, state=TrialState.PRUNED)
            line = _pruned_line(number, result.pruned_epoch, metrics, hparams)
            self.observers.round_done(RoundDone(number, TrialState.PRUNED, line))
            return TrialState.PRUNED
        values: list[float] = []
        if failure is None:
            values, failure = self._objective_values(result, metrics)
        if failure is not None:
            trial.set_user_attr(FAIL_REASON, failure)
            study.tell(trial, state=TrialState.FAIL)
            line = f"round {number} failed: {failure}"
            self.observers.round_done(RoundDone(number, TrialState.FAIL, line, failure))
            return TrialState.FAIL
        study.tell(trial, values if len(values) > 1 else values[0])
        line = _round_line(number, self.objective, metrics, hparams)
        if self.settings.adaptive:
            line += _adaptive_note(metrics)
        self.observers.round_done(RoundDone(number, TrialState.COMPLETE, line))
        return TrialState.COMPLETE

    def _objective_values(
        self, result: RoundResult, metrics: Mapping[str, float]
    ) -> tuple[list[float], str | None]:
        """The study's objective values of a finished round, or why it has none."""
        values = []
        for objective in self.objectives:
            if objective == "energy":
                energy = _objective_energy(result, adaptive=self.settings.adaptive)
                if energy is None:
                    m = result.measurement
                    reason = (m.reason if m else None) or "not measured"
                    return [], f"no energy figure for the energy objective: {reason}"
                values.append(energy)
                continue
            value = metrics[objective]
            if not math.isfinite(value):
                return [], f"diverged: {objective} is {value}"
            values.append(value)
        return values, None

    def _train_repetitions(
        self, number: int, hparams: dict[str, Any], trial: optuna.Trial | None
    ) -> RoundResult:
        """Train `repetitions` times (with `auto`: until the energy interval is narrow enough,
        see `_wants_repetition`) in one energy window; a failure ends the round early and is
        returned as its reason (the study goes on, SPEC)."""
        result = RoundResult()
        prefix = f"round{number}"
        self._remeasure_idle(number)
        self._trained = True
        with self.meter.window(prefix) as round_w:
            try:
                while self._wants_repetition(len(result.reps), result):
                    self._train_repetition(number, len(result.reps), hparams, trial, result)
            except optuna.TrialPruned:
                # The joules of the stopped repetition are in the round's window; it has no
                # repetition figures, as it is no training iteration (thesis §3.5.2's unit).
                assert result.pruned_epoch is not None
            except DivergedError as err:
                result.failure = f"diverged: {err}"
            except (KeyboardInterrupt, UserError):
                raise
            except Exception as err:
                result.failure = f"{type(err).__name__}: {err}"
                log.exception("round %d failed", number)
        result.measurement = round_w.measurement
        return result

    def _train_repetition(
        self,
        number: int,
        rep: int,
        hparams: dict[str, Any],
        trial: optuna.Trial | None,
        result: RoundResult,
    ) -> None:
        """One repetition in its own energy window, after the device settled
        (design.settle_max_s); its figures go to the observers."""
        settle_max_s = self.settings.design.settle_max_s
        settled_s = self.meter.settle(settle_max_s)
        started = time.perf_counter()
        hooks = _EpochHooks(self, number, rep, trial)
        with self.meter.window(f"round{number}.rep{rep}") as rep_w:
            try:
                values = self._train_once(number, rep, hparams, hooks, result)
            finally:
                result.pruned_epoch = hooks.pruned_epoch
        result.values.append(values)
        assert rep_w.measurement is not None
        result.reps.append(rep_w.measurement)
        metrics = {f"rep_{k}": v for k, v in values.items()}
        metrics["rep_duration_s"] = time.perf_counter() - started
        if settle_max_s > 0:
            metrics["rep_settle_s"] = settled_s
            result.settle_s += settled_s
        metrics.update(_energy_metrics(rep_w.measurement, "rep_"))
        metrics.update(_thermal_metrics(rep_w.measurement, "rep_"))
        self.observers.repetition_done(RepetitionDone(number, rep, metrics))

    def _wants_repetition(self, done: int, result: RoundResult) -> bool:
        """Whether the round trains another repetition: until `repetitions`, or with
        `repetitions=auto` until the half-width of the energy interval is within
        design.target_ci of its mean (at least min_, at most max_repetitions)."""
        s = self.settings
        if done >= s.max_repetitions:
            return False
        if not s.adaptive or done < s.design.min_repetitions:
            return True
        assert s.design.target_ci is not None  # TrainConfig checks it
        reached = _objective_interval(result.reps, self.meter, s.design.confidence)
        return reached is None or reached.rel_half_width > s.design.target_ci

    def _remeasure_idle(self, number: int) -> None:
        """Measure idle power again once `energy.idle_every_s` passed since the last baseline
        (thesis §4.6.1: idle power drifted); the study's run gets it at this round's step."""
        every = self.settings.energy.idle_every_s
        age = self.meter.idle_age_s()
        if not every or age is None or age < every or not self._trained:
            return  # the study measured it just before this process's first round
        self.meter.settle(self.settings.design.settle_max_s)
        idle_w, first_w = self.meter.measure_idle(), self.meter.idle_first_w
        if idle_w is not None and first_w is not None:
            figures = {"idle_power_w": idle_w, "idle_drift_w": idle_w - first_w}
            self.observers.study_totals(StudyTotals(figures, step=number))

    def _train_once(
        self,
        number: int,
        rep: int,
        hparams: dict[str, Any],
        hooks: _EpochHooks,
        result: RoundResult,
    ) -> dict[str, float]:
        """One repetition: seeds, the net with this round's values, the task's `fit`."""
        s = self.settings
        seed = (s.seed * 1_000_003 + number * 1_009 + rep) % 2**31
        seed_everything(seed)
        net_values = values_for(s.hparams, hparams, "net")
        model = make_net(s, self.data.input_shape, self.data.num_classes, net_values)
        model = model.to(self.device)
        if rep == 0 and net_values:  # the searched values change the net: say how
            result.net_counts = {f"net.{k}": float(v) for k, v in layer_counts(model).items()}
        batch = values_for(s.hparams, hparams, "batch_size").values()
        optimizer_values = values_for(s.hparams, hparams, "optimizer")
        ctx = TaskContext(
            model=model,
            data=self.data,
            optimizer_factory=lambda p: build_optimizer(s.optimizer, p, optimizer_values),
            hparams=hparams,
            options={"eval_every_epoch": s.eval_every_epoch, **s.task.options},
            num_epochs=s.epochs,
            batch_size=int(next(iter(batch), s.batch_size)),
            seed=seed,
            repetition=rep,
            round=number,
            device=self.device,
            objective=self.objective,
            hooks=hooks,
            prune_last_epoch=s.max_repetitions > 1,
        )
        try:
            return self.task(ctx)
        finally:
            ctx.end_epoch(record=False)  # a window the task left open by raising

    def _round_metrics(
        self, trial: optuna.Trial, result: RoundResult, grid_intensity: float
    ) -> dict[str, float]:
        metrics: dict[str, float] = dict(result.net_counts)
        m = result.measurement
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
        if result.pruned_epoch is None and result.values:
            # The round's score: each number the task returned, averaged over its repetitions
            # (thesis §3.3.1: the mean test accuracy), with its spread.
            for key in result.values[0]:
                reps = [v[key] for v in result.values if key in v]
                mean = sum(reps) / len(reps)
                var = sum((a - mean) ** 2 for a in reps) / len(reps)
                metrics.update({key: mean, f"{key}_std": math.sqrt(var)})
            reps = [v.get(self.objective, math.nan) for v in result.values]
            attr = "rep_accuracies" if self.objective == "accuracy" else f"rep_{self.objective}"
            trial.set_user_attr(attr, reps)
        if result.pruned_epoch is not None:
            # Not a result: the round stopped early and its repetitions were not all trained
            # (Optuna records the last intermediate value as the trial's value).
            metrics["pruned_epoch"] = float(result.pruned_epoch)
        metrics.update(self._repetition_figures(trial, result))
        return metrics

    def _repetition_figures(self, trial: optuna.Trial, result: RoundResult) -> dict[str, float]:
        """How many repetitions ran, how long they waited to settle, and the interval of their
        mean joules (gross, and net where idle power was measured): none below two."""
        s = self.settings
        out = {"repetitions_run": float(len(result.reps))}
        if s.design.settle_max_s > 0:
            out["settle_s"] = result.settle_s
        gross = [m.energy_j for m in result.reps]
        if gross and all(j is not None for j in gross):
            # The energy budget of repetitions=auto counts this (green_ai.search.study).
            trial.set_user_attr(
                REP_ENERGY_MEAN, sum(j for j in gross if j is not None) / len(gross)
            )
        intervals = _rep_intervals(result.reps, self.meter, s.design.confidence)
        for name, iv in intervals.items():
            out.update(
                {f"{name}_mean": iv.mean, f"{name}_ci_low": iv.low, f"{name}_ci_high": iv.high}
            )
        reached = _objective_of(intervals)
        if reached is not None:
            out["rep_energy_ci_rel"] = reached.rel_half_width
        for key in ("repetitions_run", "rep_energy_ci_rel"):  # optuna-dashboard shows them too
            if key in out:
                trial.set_user_attr(key, out[key])
        return out

    def _abandon(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        hparams: Mapping[str, Any],
        reason: str,
        *,
        killed: bool,
    ) -> None:
        """Record a round cut short from outside as failed (not counted: it is redone)."""
        trial.set_user_attr(FAIL_REASON, reason)
        study.tell(trial, state=TrialState.FAIL)
        self.observers.round_abandoned(RoundAbandoned(trial.number, hparams, reason, killed))


class _EpochHooks:
    """A repetition's epochs as the task runs them: energy windows, the observers, and the
    trial's intermediate values (the first repetition's only)."""

    def __init__(
        self, runner: RoundRunner, number: int, rep: int, trial: optuna.Trial | None
    ) -> None:
        self.runner = runner
        self.number = number
        self.rep = rep
        self.trial = trial if rep == 0 else None
        self.pruned_epoch: int | None = None
        pruner = self.trial.study.pruner if self.trial is not None else None
        # Multi-objective: the round's curve goes to the Pareto pruner, not to Optuna.
        self.pareto = pruner if isinstance(pruner, ParetoPruner) else None

    def _window(self, epoch: int) -> str:
        return f"round{self.number}.rep{self.rep}.epoch{epoch}"

    def begin_epoch(self, epoch: int) -> None:
        self.runner.meter.begin(self._window(epoch))

    def end_epoch(self, epoch: int) -> Measurement:
        m = self.runner.meter.end(self._window(epoch))
        if self.pareto is not None and self.trial is not None:
            self.pareto.report_energy(self.trial, epoch, _window_energy(m))
        return m

    def epoch_done(self, record: EpochRecord) -> None:
        r, s = self.runner, self.runner.settings
        step = self.rep * s.epochs + record.epoch
        metrics = {**record.metrics, "epoch_duration_s": record.duration_s}
        if record.value is not None:
            metrics[epoch_metric(r.objective)] = record.value
        metrics.update(_energy_metrics(record.measurement, "epoch_"))
        loss = record.metrics.get("train_loss")
        shown = "" if loss is None else f" loss {loss:.3f}"
        if record.value is not None:
            shown += f" {r.objective} {record.value:.4f}"
        line = (
            f"round {self.number}: rep {self.rep + 1}/{s.repetitions} "
            f"epoch {record.epoch + 1}/{s.epochs}{shown}"
        )
        r.observers.epoch_done(EpochDone(self.number, self.rep, step, metrics, line))

    def report(self, epoch: int, value: float, *, can_prune: bool) -> bool:
        if self.trial is None:
            return False
        if self.pareto is not None:
            self.pareto.report_value(self.trial, epoch, value)
            prune = can_prune and self.pareto.should_prune_at(self.trial, epoch)
        else:
            self.trial.report(value, step=epoch)
            prune = can_prune and self.trial.should_prune()
        if prune:
            self.pruned_epoch = epoch
            return True
        return False


def _energy_metrics(m: Measurement | None, prefix: str) -> dict[str, float]:
    """Gross and idle-subtracted joules of a repetition or epoch window (thesis §3.3.3: the
    factorial analyses one net figure per training iteration); absent ones stay absent."""
    out: dict[str, float] = {}
    if m is not None and m.energy_j is not None:
        out[f"{prefix}energy_j"] = m.energy_j
        if m.energy_net_j is not None:
            out[f"{prefix}energy_net_j"] = m.energy_net_j
    return out


def _thermal_metrics(m: Measurement | None, prefix: str) -> dict[str, float]:
    """The GPU's temperature at both edges and mean SM clock of a window, where NVML gave them
    (thesis §4.6.1: the device's thermal state is a threat to a later cell's joules)."""
    if m is None:
        return {}
    figures = {
        "temp_c_start": m.temp_c_start,
        "temp_c_end": m.temp_c_end,
        "sm_clock_mhz_mean": m.sm_clock_mhz_mean,
    }
    return {f"{prefix}{k}": v for k, v in figures.items() if v is not None}


def _rep_intervals(
    reps: list[Measurement], meter: EnergyMeter, confidence: float
) -> dict[str, Interval]:
    """`rep_energy_j` (gross) and `rep_energy_net_j` (net, carrying the idle baseline's
    spread): the t-intervals of the mean per repetition (green_ai.stats.intervals)."""
    out: dict[str, Interval] = {}
    gross = [m.energy_j for m in reps]
    if gross and all(j is not None for j in gross):
        iv = mean_interval([j for j in gross if j is not None], confidence)
        if iv is not None:
            out["rep_energy_j"] = iv
    net = [m.energy_net_j for m in reps]
    if net and all(j is not None for j in net):
        iv = net_interval(
            [j for j in net if j is not None],
            [m.duration_s for m in reps],
            idle_sd_w=meter.idle_sd_w or 0.0,
            idle_n=meter.idle_n,
            confidence=confidence,
        )
        if iv is not None:
            out["rep_energy_net_j"] = iv
    return out


def _objective_interval(
    reps: list[Measurement], meter: EnergyMeter, confidence: float
) -> Interval | None:
    """The interval of the energy objective's figure per repetition: net where idle power was
    measured, else gross (what `repetitions=auto` narrows)."""
    return _objective_of(_rep_intervals(reps, meter, confidence))


def _objective_of(intervals: Mapping[str, Interval]) -> Interval | None:
    """Of `_rep_intervals`' figures, the energy objective's: net, else gross."""
    return intervals.get("rep_energy_net_j", intervals.get("rep_energy_j"))


def _window_energy(m: Measurement | None) -> float | None:
    """A window's energy figure: idle-subtracted joules where idle was measured, else gross."""
    if m is None:
        return None
    return m.energy_net_j if m.energy_net_j is not None else m.energy_j


def _objective_energy(result: RoundResult, *, adaptive: bool = False) -> float | None:
    """The energy objective: idle-subtracted joules where idle was measured, else gross; the
    round's with a fixed `repetitions`, its mean per repetition with `auto` (a round that
    needed more repetitions to be sure of its joules did not cost more per training)."""
    m = result.measurement
    if adaptive and result.reps:
        net = [r.energy_net_j for r in result.reps]
        gross = [r.energy_j for r in result.reps]
        for figures in (net, gross):
            if all(j is not None for j in figures):
                return sum(j for j in figures if j is not None) / len(figures)
    energy = _window_energy(m)
    if adaptive and energy is not None and result.reps:
        return energy / len(result.reps)
    return energy


def _round_line(
    number: int, objective: str, metrics: Mapping[str, float], hparams: Mapping[str, Any]
) -> str:
    return f"round {number}: {objective} {metrics[objective]:.4f} {_cost(metrics, hparams)}"


def _adaptive_note(metrics: Mapping[str, float]) -> str:
    """What repetitions=auto reached: how many repetitions, and the interval's half-width."""
    reps = int(metrics.get("repetitions_run", 0))
    width = metrics.get("rep_energy_ci_rel")
    return f" [{reps} repetitions" + (f", ±{width:.1%}]" if width is not None else "]")


def _pruned_line(
    number: int, epoch: int, metrics: Mapping[str, float], hparams: Mapping[str, Any]
) -> str:
    return f"round {number}: pruned after epoch {epoch + 1} {_cost(metrics, hparams)}"  # 1-based


def _cost(metrics: Mapping[str, float], hparams: Mapping[str, Any]) -> str:
    joules = f", {metrics['energy_j']:.1f} J" if "energy_j" in metrics else ""
    duration = f"{metrics['duration_s']:.1f} s" if "duration_s" in metrics else "no duration"
    shown = ", ".join(
        f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in hparams.items()
    )
    return f"({duration}{joules}) {shown}"
