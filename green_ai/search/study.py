"""One training study: an Optuna study of `rounds` trials × `repetitions` trainings.

Thesis §3.3.1: a round picks hyperparameters; the net is trained `repetitions` times with
them; the round's score is the mean test accuracy. The study lives in a database and is
named after its config, so the same command resumes it. Each round is tracked in MLflow as
it runs (green_ai.search.rounds), with the joules of every round, repetition and epoch, by
the observers the app gives it (green_ai.search.events, green_ai.observers).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import optuna
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState

from green_ai.config.store import train_settings
from green_ai.config.train import TrainConfig
from green_ai.devices import device_name, resolve_device
from green_ai.energy import EnergyMeter, build_meter, co2_g, grid_intensity
from green_ai.experiment import TaskRunner, check_experiment, load_data, make_net
from green_ai.experiment.checks import check_net_on
from green_ai.logs import quiet_libraries
from green_ai.nets import layer_counts
from green_ai.search.events import (
    LostRoundsSettled,
    Observer,
    Observers,
    RoundAbandoned,
    StudyDone,
    StudyOutcome,
    StudyStarted,
    StudyTotals,
    WarmedUp,
)
from green_ai.search.naming import study_name
from green_ai.search.pruning import build_pruner, check_pruner_options
from green_ai.search.rounds import INTERRUPTED, REP_ENERGY_MEAN, RoundRunner
from green_ai.search.space import build_space, suggest
from green_ai.search.storage import (
    check_storage,
    open_storage,
    open_study,
    storage_url,
    study_lock,
)
from green_ai.search.warmup import warm_up_study
from green_ai.search.workers import (
    FAIL_REASON,
    Requeued,
    fail_lost_trials,
    heartbeat,
    left_by_its_worker,
    sigterm_as_interrupt,
    trial_id,
    worker_attrs,
)
from green_ai.training import configure_device
from green_ai.training.task import TaskData
from green_ai.urls import redact_url

log = logging.getLogger("green_ai")

__all__ = ["StudyLoop", "check_feasible", "run_study", "suggest"]


def check_feasible(settings: TrainConfig) -> None:
    """Every piece imports and takes its arguments, layer counts fit the input, the pruner
    takes its options: before anything is loaded or measured (green_ai.experiment.checks)."""
    check_experiment(settings)
    check_pruner_options(settings.search)


_checked_stores: set[str] = set()


def check_stores(settings: TrainConfig) -> None:
    """The study database answers (checked once per process): a bad one fails in seconds,
    before anything is created in it. The app checks the stores its observers write."""
    url = storage_url(settings.study)
    if url not in _checked_stores:
        check_storage(url)
        _checked_stores.add(url)


def prepare_stores(settings: TrainConfig) -> None:
    """Create the study database's tables once, before the jobs of a sweep start on it
    together."""
    quiet_libraries(settings.verbose)
    open_storage(storage_url(settings.study), heartbeat_s=settings.study.heartbeat_s)


def run_study(cfg: TrainConfig | DictConfig, observers: Sequence[Observer] = ()) -> StudyOutcome:
    """Run (or resume) the study that `cfg` describes, telling `observers` as it goes (the
    app's: MLflow, progress, the sweep's summary; green_ai.observers); see the module
    docstring."""
    settings = train_settings(cfg)
    quiet_libraries(settings.verbose)
    check_feasible(settings)
    check_stores(settings)
    device = resolve_device(settings.device)
    configure_device(device)
    meter = build_meter(settings.energy, device)
    try:
        data = load_data(settings, device)
        if settings.dataset.target is not None or not settings.net.is_thesis:
            # A user's piece that fails on this data fails now, before a study or run exists.
            check_net_on(settings, data.input_shape, data.num_classes)
        with sigterm_as_interrupt():
            loop = StudyLoop(settings, data, meter, device=device, observers=observers)
            return loop.run()
    finally:
        meter.close()


# An ordered sweep (design.order, green_ai.schedule) runs a job per round of each cell. The
# device stays warm and its idle power known between the jobs one process runs (the basic
# launcher runs them in-process, joblib's workers persist): warm-up once per cell and idle
# baseline once per process, not once per round (thesis §3.3.3, §4.6.1).
_warm_cells: set[str] = set()
_idle_baselines: dict[tuple[str, ...], tuple[float, dict[str, float]]] = {}


def warm_up_once(loop: StudyLoop) -> float | None:
    """Warm the device up for `loop`'s rounds, once per process and cell in an ordered
    sweep; its seconds, None when nothing ran."""
    s = loop.settings
    wave = s.design.sweep_rounds is not None
    if wave and loop.name in _warm_cells:
        return None
    seconds = warm_up_study(s, loop.data, loop.device, loop.task)
    if wave:
        _warm_cells.add(loop.name)
    return seconds


def idle_once(loop: StudyLoop) -> float | None:
    """The idle baseline of `loop`'s meter: measured, or in an ordered sweep the one this
    process measured before on the same device and meter."""
    s, meter = loop.settings, loop.meter
    if s.design.sweep_rounds is None:
        return meter.measure_idle()
    key = (str(loop.device), meter.backend, str(s.energy.idle_s), str(s.energy.settle_s))
    if key in _idle_baselines:
        meter.idle_power_w, parts = _idle_baselines[key]
        meter.idle_power_parts_w = dict(parts)
        return meter.idle_power_w
    idle_w = meter.measure_idle()
    if idle_w is not None:
        _idle_baselines[key] = (idle_w, dict(meter.idle_power_parts_w))
    return idle_w


# Trial states that count as rounds: finished with a result. A failed round (diverged, raised,
# cut short, its worker lost) is recorded but not counted, and is redone.
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
# A worker whose rounds keep failing stops instead of spending the study on a broken setup.
MAX_CONSECUTIVE_FAILURES = 5
OTHERS_RUNNING = "the remaining rounds are running in other workers"


class StudyLoop:
    """Rounds until `rounds` are counted, the grid is exhausted or the energy budget is spent.

    Any number of workers may run one study: each reserves its next round under the study's
    lock, so together they run exactly `rounds` counted rounds, and the sampler sees every
    round in flight when it suggests the next.
    """

    def __init__(
        self,
        settings: TrainConfig,
        data: TaskData,
        meter: EnergyMeter,
        *,
        device: torch.device | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.settings = settings
        self.data = data
        self.device = device or _data_device(data)
        self.task = TaskRunner(settings)
        self.objective = settings.search.objective
        self.maximize = settings.search.objective_directions()[0] == "maximize"
        self.meter = meter
        self.observers = Observers(observers)
        self.name = study_name(settings)
        self.objectives = list(settings.search.objectives)
        self.space = build_space(settings.hparams)
        energy = settings.energy
        self.grid_intensity, self.grid_source = grid_intensity(
            energy.region, energy.grid_intensity_g_per_kwh
        )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.url = storage_url(settings.study)
        self.storage = open_storage(self.url, heartbeat_s=settings.study.heartbeat_s)
        self.study = open_study(self.name, self.storage, self._directions())
        self.sampler = self._sampler(len(self.study.get_trials(deepcopy=False)))
        # The sampler's seed depends on the trials the study holds, so it joins the opened
        # study afterwards instead of opening the storage a second time.
        self.study.sampler = self.sampler
        self.study.pruner = build_pruner(settings.search, epochs=settings.epochs)
        # Study-level figures known before any round (layer counts, idle power): told after
        # the first totals, so MLflow lists best_accuracy and energy_j first (its compare
        # page plots the first metric).
        self._pending: dict[str, float] = {}
        # What the observers returned at the study's start (its MLflow ids): study attributes.
        self.attrs: dict[str, Any] = {}

    def _directions(self) -> list[optuna.study.StudyDirection]:
        directions = self.settings.search.objective_directions()
        return [optuna.study.StudyDirection[d.upper()] for d in directions]

    def _sampler(self, existing_trials: int) -> optuna.samplers.BaseSampler:
        # A resumed study offsets the sampler's seed by the trials it already has (the same
        # seed again would redraw the first rounds' hyperparameters), and each worker sharing
        # the study by its number (workers started together would draw alike).
        seed = self.settings.seed + existing_trials + 1_000_003 * self.settings.study.worker
        factory = instantiate(self.settings.search.sampler)
        sampler: optuna.samplers.BaseSampler = factory(space=self.space, seed=seed)
        return sampler

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> StudyOutcome:
        with study_lock(self.url, self.name):  # one parent run, however many workers start
            started = StudyStarted(
                settings=self.settings,
                study_name=self.name,
                storage=redact_url(self.url),
                rounds_done=len(self.counted_trials()),
                tags=self._run_tags(),
            )
            self.attrs = dict(self.observers.study_started(started))
            self._settle_lost_rounds()
            self._describe_study()
        status: str | None = "FINISHED"
        stop_reason: str | None = None
        outcome: StudyOutcome | None = None
        try:
            stop_reason, new_rounds = self._rounds()
            if stop_reason == OTHERS_RUNNING:
                status = None  # the worker that finishes the last round closes the parent
            elif stop_reason.startswith("stopped"):
                status = "FAILED"
            outcome = self._outcome(stop_reason, new_rounds)
            return outcome
        except Requeued as err:  # the requeued job goes on: the parent stays open for it
            status, stop_reason = None, err.stop_reason
            raise
        except KeyboardInterrupt as err:
            status, stop_reason = "KILLED", str(err) or INTERRUPTED
            raise
        except BaseException as err:  # the parent run says the study broke, and why
            status, stop_reason = "FAILED", f"{type(err).__name__}: {err}"
            raise
        finally:
            tags = {"stop_reason": stop_reason or "", **self._energy_tags()}
            front = self._pareto_front() if len(self.objectives) > 1 else None
            self.observers.study_done(StudyDone(status, stop_reason, tags, front, outcome))

    def _outcome(self, stop_reason: str, new_rounds: int) -> StudyOutcome:
        done = self.counted_trials()
        return StudyOutcome(
            study_name=self.name,
            best_accuracy=self.best_value(done),
            rounds_completed=len(done),
            new_rounds=new_rounds,
            stop_reason=stop_reason,
            energy_j=total_energy(self.finished_trials()),
            objective=self.objective,
            attrs=self.attrs,
        )

    def _describe_study(self) -> None:
        """What optuna-dashboard shows of the study: its objectives' names, its factors and
        what the observers returned at its start."""
        names = ["energy_j" if o == "energy" else o for o in self.objectives]
        if self.study.metric_names != names:
            with warnings.catch_warnings():  # marked experimental since Optuna 3.2
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.study.set_metric_names(names)
        s = self.settings
        layers = {"conv": s.conv, "linear": s.linear, "relu": s.relu} if s.net.is_thesis else {}
        factors: dict[str, object] = {
            "net": s.net.name,
            **layers,
            "dataset": s.dataset.name,
            "search": s.search.name,
            "hparams": s.hparams.name,
            "pruner": s.search.pruner,
            "optimizer": s.optimizer.name,
            "task": s.task.name,
            "epochs": s.epochs,
            "repetitions": s.repetitions,
            "batch_size": s.batch_size,
            "seed": s.seed,
            **self.attrs,
        }
        attrs = self.study.user_attrs
        for key, value in factors.items():
            if attrs.get(key) != value:
                self.study.set_user_attr(key, value)

    def _rounds(self) -> tuple[str, int]:
        """Run rounds until a stop reason; return it and the number of rounds counted."""
        runner = self._runner()
        new_rounds = failures = 0
        while True:
            state = self._next_round(runner)
            if isinstance(state, str):
                if state != OTHERS_RUNNING:
                    # The worker that ends the study says its figures last: another worker's,
                    # counted before the last round ended, may have been told after it.
                    self._log_totals(cumulative=False)
                elif self._pending:  # no round ran in this process
                    self.observers.study_totals(StudyTotals(dict(self._pending)))
                    self._pending.clear()
                return state, new_rounds
            if state in COUNTED:
                new_rounds += 1
                failures = 0
            else:
                failures += 1
            self._log_totals()
            if failures >= MAX_CONSECUTIVE_FAILURES:
                return (
                    f"stopped after {failures} failed rounds in a row; the last: "
                    f"{self.study.trials[-1].user_attrs.get(FAIL_REASON, '?')}"
                ), new_rounds

    def _runner(self) -> RoundRunner:
        """The rounds' runner, once the device is warm (so that the idle baseline and round 0
        see it as every later round does) and its idle power known."""
        net = self._make_net()
        self._pending.update({f"net.{k}": float(v) for k, v in layer_counts(net).items()})
        if len(self.counted_trials()) < self.target_rounds:
            seconds = warm_up_once(self)
            if seconds is not None:
                self.observers.warmed_up(WarmedUp(seconds))
            idle_w = idle_once(self)
            if idle_w is not None:
                self._pending["idle_power_w"] = idle_w
        return RoundRunner(
            self.settings,
            self.data,
            self.meter,
            self.space,
            self.observers,
            device=self.device,
            task=self.task,
        )

    def _next_round(self, runner: RoundRunner) -> TrialState | str:
        """Reserve and run this worker's next round; its state, or why there is none."""
        asked: list[optuna.Trial] = []
        try:
            reserved = self._reserve(asked)
            if isinstance(reserved, str):
                return reserved
            trial, hparams = reserved
            with heartbeat(self.storage, self.study, trial):
                return runner.run(self.study, trial, hparams, self.grid_intensity)
        except KeyboardInterrupt as err:
            # Ctrl-C or SIGTERM between taking the round and training it (the runner
            # records one that arrives while it trains): recorded the same way.
            if asked:
                self._abandon(asked[0], str(err) or INTERRUPTED)
            raise

    def _abandon(self, trial: optuna.Trial, reason: str) -> None:
        """Record `trial`, if still running, as failed with `reason`, killed."""
        tid = trial_id(self.storage, self.study, trial.number)
        if self.storage.get_trial(tid).state != TrialState.RUNNING:
            return  # the runner recorded it already
        trial.set_user_attr(FAIL_REASON, reason)
        self.study.tell(trial, state=TrialState.FAIL)
        params = self.storage.get_trial_params(tid)
        self.observers.round_abandoned(RoundAbandoned(trial.number, params, reason, killed=True))

    def _reserve(self, asked: list[optuna.Trial]) -> tuple[optuna.Trial, dict[str, Any]] | str:
        """The next round for this worker, or why there is none. Under the study's lock,
        so that workers together never run more than `rounds` and never draw alike. The
        trial is put in `asked` as soon as it exists."""
        with study_lock(self.url, self.name):
            trials = self._settle_lost_rounds()
            counted = [t for t in trials if t.state in COUNTED]
            running = [t for t in trials if t.state == TrialState.RUNNING]
            stop_reason = self._stop_reason(counted, running)
            if stop_reason is not None:
                return stop_reason
            with warnings.catch_warnings():
                # Optuna expects heartbeats with Study.optimize; `heartbeat` records them here.
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = self.study.ask()
            asked.append(trial)
            for key, value in worker_attrs().items():
                trial.set_user_attr(key, value)
            if self.settings.design.sweep_position is not None:
                trial.set_user_attr("sweep_position", self.settings.design.sweep_position)
            return trial, suggest(trial, self.space)

    def _settle_lost_rounds(self) -> list[FrozenTrial]:
        """Under the study's lock: fail the rounds of workers that are gone, tell the
        observers which rounds gone workers left (their MLflow runs to close); return the
        study's trials."""
        lost = fail_lost_trials(self.study, self.storage)
        trials = self.study.get_trials(deepcopy=False)
        grace_s = 2 * self.settings.study.heartbeat_s
        left = [
            t
            for t in trials
            if t.number in lost
            or (t.state != TrialState.RUNNING and left_by_its_worker(t, grace_s))
        ]
        self.observers.lost_rounds_settled(LostRoundsSettled(left, lost))
        return trials

    def _make_net(self) -> torch.nn.Module:
        return make_net(self.settings, self.data.input_shape, self.data.num_classes)

    def best_value(self, trials: list[FrozenTrial]) -> float | None:
        """The best value of the first objective among completed rounds."""
        values = [t.values[0] for t in trials if t.state == TrialState.COMPLETE and t.values]
        if not values:
            return None
        return max(values) if self.maximize else min(values)

    def _stop_reason(self, done: list[FrozenTrial], running: list[FrozenTrial]) -> str | None:
        rounds, target = self.settings.rounds, self.target_rounds
        if len(done) >= rounds:
            return f"{rounds} rounds completed"
        if len(done) >= target:  # an ordered sweep's job: its later jobs run the rest
            return (
                f"{len(done)} of {rounds} rounds completed; the sweep runs the rest later "
                f"(design.order={self.settings.design.order})"
            )
        if len(done) + len(running) >= target:
            return OTHERS_RUNNING
        is_exhausted = getattr(self.sampler, "is_exhausted", None)
        if is_exhausted is not None and is_exhausted(self.study):
            return f"the grid is exhausted after {len(done)} rounds (fewer than rounds={rounds})"
        total = budget_energy(self.finished_trials(), adaptive=self.settings.adaptive)
        budget = self.settings.search.energy_budget_j
        if budget is not None and total is not None and total >= budget:
            return (
                f"energy budget reached: {total:.1f} J measured >= "
                f"search.energy_budget_j={budget:.1f} J"
            )
        return None

    @property
    def target_rounds(self) -> int:
        """The rounds this job runs the study up to: `rounds`, or fewer in a job of an
        ordered sweep (design.sweep_rounds)."""
        wave = self.settings.design.sweep_rounds
        return self.settings.rounds if wave is None else min(wave, self.settings.rounds)

    # -- study-level figures -------------------------------------------------------------

    def counted_trials(self) -> list[FrozenTrial]:
        """The rounds that count: finished with a result (see COUNTED)."""
        return self.study.get_trials(deepcopy=False, states=COUNTED)

    def finished_trials(self) -> list[FrozenTrial]:
        """Every round that ended, failed ones included: what the study has spent."""
        return self.study.get_trials(deepcopy=False, states=(*COUNTED, TrialState.FAIL))

    def _run_tags(self) -> dict[str, str]:
        return {
            "device": device_name(self.device),
            "energy.backend": self.meter.backend,
            "energy.kind": self.meter.kind,
            "energy.devices": ", ".join(self.meter.device_names),
            "grid_intensity_g_per_kwh": f"{self.grid_intensity:g}",
            "grid_intensity_source": self.grid_source,
        }

    def _energy_tags(self) -> dict[str, str]:
        """Whether this worker's joules were measured, estimated, or some rounds lack them."""
        tags = {"energy.kind": self.meter.overall_kind}
        if self.meter.lacking_windows:
            tags["energy.reason"] = (
                f"{self.meter.lacking_windows} windows lack energy: {self.meter.lacking_reason}"
            )
        return tags

    def _log_totals(self, *, cumulative: bool = True) -> None:
        """The study's figures so far; with `cumulative`, also its joules at the step of its
        latest counted round."""
        done = sorted(self.counted_trials(), key=lambda t: t.number)
        totals: dict[str, float] = {}
        best = self.best_value(done)
        if best is not None:
            totals[f"best_{self.objective}"] = best
        energy = total_energy(self.finished_trials())
        if energy is not None and done:
            totals["energy_j"] = energy
            if self.objective == "accuracy" and best:
                # Joules per percentage point of accuracy (the sweep table's J/point).
                totals["energy_per_point_j"] = energy / (100.0 * best)
            totals["co2_g"] = co2_g(energy, self.grid_intensity)
        totals["rounds_completed"] = float(len(done))
        self.observers.study_totals(StudyTotals({**totals, **self._pending}))
        self._pending.clear()
        if cumulative and energy is not None and done:
            # Cumulative joules at every round, so convergence can be plotted against energy.
            joules = StudyTotals({"cumulative_energy_j": energy}, step=done[-1].number)
            self.observers.study_totals(joules)

    def _pareto_front(self) -> dict[str, Any]:
        # COMPLETE rounds only: a pruned round has no values, its accuracy is no result.
        front = [t for t in self.study.best_trials if t.state == TrialState.COMPLETE]
        return {
            "objectives": self.objectives,
            "trials": [
                {"number": t.number, "values": t.values, "params": t.params} for t in front
            ],
        }


def total_energy(trials: list[FrozenTrial]) -> float | None:
    """Joules of the rounds that measured them; `None` when none did (never a fake 0).
    Failed rounds spent energy too: callers pass them where the total is what was spent."""
    values = [t.user_attrs["energy_j"] for t in trials if "energy_j" in t.user_attrs]
    return float(sum(values)) if values else None


def budget_energy(trials: list[FrozenTrial], *, adaptive: bool) -> float | None:
    """What `search.energy_budget_j` counts: the rounds' joules, or with repetitions=auto each
    round's mean joules per repetition (a round that needed more repetitions to be sure of its
    figure spends no more of the budget)."""
    if not adaptive:
        return total_energy(trials)
    values: list[float] = [
        t.user_attrs[REP_ENERGY_MEAN]
        if REP_ENERGY_MEAN in t.user_attrs
        else t.user_attrs["energy_j"]
        for t in trials
        if REP_ENERGY_MEAN in t.user_attrs or "energy_j" in t.user_attrs
    ]
    return float(sum(values)) if values else None


def _data_device(data: TaskData | None) -> torch.device:
    train = data.train if data is not None else None
    if isinstance(train, tuple) and isinstance(train[0], torch.Tensor):
        return train[0].device
    return torch.device("cpu")
