"""MLflow runs of a training study: one parent per study, one nested run per round.

Everything is written as it happens (a round's run is created when the round starts and its
epochs are logged as they finish), so a crash loses at most the epoch in flight — the thesis
testbed wrote results only when a whole study had finished (SPEC "Known defects").
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial, TrialState

from green_ai.config.train import TrainConfig
from green_ai.tracking.mlflow_setup import (
    KIND_TRAIN_ROUND,
    KIND_TRAIN_STUDY,
    config_yaml,
    git_commit,
    hydra_overrides,
    setup_tracking,
)
from green_ai.tracking.names import round_label
from green_ai.tracking.ui import ensure_training_view

# Why a round ended without a result: the key on its Optuna trial (user attribute, written by
# the worker or the lost-round check) and on its MLflow run (tag).
FAIL_REASON = "fail_reason"

if TYPE_CHECKING:
    from mlflow import MlflowClient

# Shortcut keys that every parent run carries as plain params (docs/architecture.md).
SHORTCUTS = ("conv", "linear", "relu", "epochs", "rounds", "repetitions", "batch_size", "seed")


def study_params(cfg: TrainConfig) -> dict[str, str]:
    """The parent run's params: what a person compares between studies (the factors, the
    search, the budget), plus `config_hash`, plus each key the command line set (`net.width`,
    `optimizer`, ...: what a sweep varied, for the report's factorial). The whole resolved
    config is the `config.yaml` artifact, not params: ninety of them hid every metric in
    MLflow's table (issue 11)."""
    shortcuts = SHORTCUTS if cfg.net.is_thesis else SHORTCUTS[3:]  # no layer counts: _target_
    params = {
        "net": cfg.net.name,
        "dataset": cfg.dataset.name,
        "search": cfg.search.name,
        "hparams": cfg.hparams.name,
        "pruner": cfg.search.pruner,
        "optimizer": cfg.optimizer.name,
        # What the study optimises first, and which way (the report ranks rounds by it).
        "objective": cfg.search.objective,
        "direction": cfg.search.objective_directions()[0],
        # Every objective: the report tells Pareto studies ([accuracy,energy]) apart.
        "objectives": ",".join(cfg.search.objectives),
        "task": cfg.task.name,
        # The run order of the sweep the study ran in (thesis §3.7.1: time confounds a cell).
        "design.order": cfg.design.order,
        "design.seed": str(cfg.design.seed),
        **{key: str(getattr(cfg, key)) for key in shortcuts},
        "config_hash": config_hash(cfg),
    }
    for override in hydra_overrides().split():
        key, sep, value = override.partition("=")
        key = key.lstrip("+~")
        if (
            sep
            and key not in params
            # design.sweep_*: where an ordered sweep's job stands, not what the study is
            and not key.startswith(
                ("hydra.", "experiment", "study.", "tracking.", "design.sweep_")
            )
        ):
            params[key] = value
    return params


def config_hash(cfg: TrainConfig) -> str:
    """The first 12 hex digits of the SHA-256 of the `config.yaml` artifact: equal hashes,
    equal resolved configs."""
    return hashlib.sha256(config_yaml(cfg).encode()).hexdigest()[:12]


class StudyRuns:
    """The parent run of one study (found again on resume) and its nested round runs.

    `label` is the run's short name (green_ai.tracking.names.cell_label); the study's full
    name is the tag `study_name`.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        study_name: str,
        *,
        tags: Mapping[str, str],
        label: str | None = None,
    ) -> None:
        from mlflow import MlflowClient

        self.experiment_id = setup_tracking(cfg.tracking)
        self.client: MlflowClient = MlflowClient()
        ensure_training_view(self.client, self.experiment_id)
        self.study_name = study_name
        self.label = label or study_name
        # Each round of an ordered sweep's job records where it stands in the sweep.
        self.sweep_position = cfg.design.sweep_position
        params = study_params(cfg)
        existing = self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`green_ai.kind` = '{KIND_TRAIN_STUDY}' and tags.study_name = '{study_name}'"
            ),
            max_results=1,
        )
        all_tags = {
            "green_ai.kind": KIND_TRAIN_STUDY,
            "study_name": study_name,
            "git_commit": git_commit(),
            "hydra_overrides": hydra_overrides(),
            "mlflow.runName": self.label,
            **tags,
        }
        if existing:
            self.run_id = existing[0].info.run_id
            self.resumed = True
            self.client.update_run(self.run_id, status="RUNNING")
            logged = existing[0].data.params
            # Params are immutable in MLflow: a changed value (rounds=3 after rounds=2) is kept
            # as a tag so the run still says what the latest command asked for.
            for key, value in params.items():
                if key in logged and logged[key] != value:
                    all_tags[f"resumed_with.{key}"] = value
            all_tags.pop("mlflow.runName")
            self.label = existing[0].info.run_name or self.label
        else:
            run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=self.label)
            self.run_id = run.info.run_id
            self.resumed = False
            self._log_params(self.run_id, params)
            self.client.log_text(self.run_id, config_yaml(cfg), "config.yaml")
        self._set_tags(self.run_id, all_tags)

    def start_round(self, number: int, hparams: Mapping[str, float]) -> str:
        """Create the nested run of round `number` and return its run id."""
        tags = {
            "mlflow.parentRunId": self.run_id,
            "green_ai.kind": KIND_TRAIN_ROUND,
            "study_name": self.study_name,
            "round": str(number),
            "state": "RUNNING",
        }
        run = self.client.create_run(
            self.experiment_id, tags=tags, run_name=round_label(number, self.label)
        )
        self._log_params(
            run.info.run_id, {"round": str(number), **{k: repr(v) for k, v in hparams.items()}}
        )
        if self.sweep_position is not None:
            self.log_metrics(run.info.run_id, {"sweep_position": float(self.sweep_position)})
        return str(run.info.run_id)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        if batch:
            self.client.log_batch(run_id, metrics=batch, synchronous=True)

    def finish_round(
        self,
        run_id: str,
        *,
        failed_reason: str | None = None,
        killed: bool = False,
        pruned: bool = False,
    ) -> None:
        """Close a round's run: FINISHED (state COMPLETE, or PRUNED when a pruner stopped it
        early), FAILED, or KILLED when it was cut short."""
        tags = {"state": "FAIL" if failed_reason else "PRUNED" if pruned else "COMPLETE"}
        if failed_reason:
            tags[FAIL_REASON] = failed_reason[:5000]
        self._set_tags(run_id, tags)
        status = "KILLED" if killed else "FAILED" if failed_reason else "FINISHED"
        self.client.set_terminated(run_id, status=status)

    def kill_round(self, number: int, hparams: Mapping[str, float], reason: str) -> None:
        """Close round `number`'s open runs as KILLED with `reason`, or create one that says
        so where its worker stopped before creating it."""
        found = self._round_runs(f"tags.round = '{number}'")
        if not found:
            self.finish_round(self.start_round(number, hparams), failed_reason=reason, killed=True)
        for run in found:
            if run.info.status == "RUNNING":
                self.finish_round(run.info.run_id, failed_reason=reason, killed=True)

    def close_orphans(self, trials: Sequence[FrozenTrial], lost: Sequence[int] = ()) -> None:
        """Close the round runs that workers left RUNNING when they ended.

        `trials` are the rounds whose workers are done with them (the caller decides, as
        only the search knows which workers are gone); a RUNNING run of one that has ended
        is closed as its trial ended: FINISHED, or KILLED with the trial's reason. A `lost`
        round whose worker died before creating its run gets one, KILLED, so that every
        round the study spent is in MLflow.
        """
        by_number = {t.number: t for t in trials}
        for number in lost:
            trial = by_number.get(number)
            if trial is not None:
                self.kill_round(number, trial.params, _fail_reason(trial))
        for run in self._round_runs("attributes.status = 'RUNNING'"):
            trial = by_number.get(int(run.data.tags.get("round", -1)))
            if trial is None or trial.state == TrialState.RUNNING:
                continue
            if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
                self.finish_round(run.info.run_id, pruned=trial.state == TrialState.PRUNED)
            else:
                self.finish_round(run.info.run_id, failed_reason=_fail_reason(trial), killed=True)

    def _round_runs(self, condition: str) -> list[Any]:
        """This study's round runs that meet `condition` (an MLflow filter clause)."""
        return list(
            self.client.search_runs(
                [self.experiment_id],
                filter_string=(
                    f"tags.`green_ai.kind` = '{KIND_TRAIN_ROUND}' and tags.study_name = "
                    f"'{self.study_name}' and {condition}"
                ),
                max_results=10_000,
            )
        )

    def finish(
        self, *, status: str | None = "FINISHED", tags: Mapping[str, str] | None = None
    ) -> None:
        """Close the parent run with `status`, or only tag it (status None: other workers
        are still running rounds of the study)."""
        if tags:
            self._set_tags(self.run_id, tags)
        if status is not None:
            self.client.set_terminated(self.run_id, status=status)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self._set_tags(run_id, tags)

    def log_dict(self, data: Any, artifact_file: str) -> None:
        self.client.log_dict(self.run_id, data, artifact_file)

    def _log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow's batch limit for params
            self.client.log_batch(run_id, params=items[start : start + 100], synchronous=True)

    def _set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(
            run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()], synchronous=True
        )


def _fail_reason(trial: FrozenTrial) -> str:
    """Why a round ended without a result, as its worker or the lost-round check wrote it."""
    return str(trial.user_attrs.get(FAIL_REASON, "its worker ended mid-round"))
