"""The launcher of `hydra/launcher=slurm` and `slurm_cpu`: submitit's, made safe to leave.

Over hydra-submitit-launcher's `SlurmLauncher` it adds, on the submitting side:

- a preflight of the request against the partition's nodes (`preflight.check_request`), run
  by the app's `Preflight` callback before anything is written, and again before submitting;
- a memory request sized for the study when `mem_gb` is null (`preflight.study_mem_gb`);
- a watch without `sacct` (`watch.watch`) after which a failed job still leaves the summary
  of those that finished, a line per failed job and the command that reruns the sweep;
- Ctrl-C or SIGTERM cancels the sweep's jobs (each records its round in flight as failed);

and inside each job, SLURM's requeue signal recorded by the study (`job`).
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as SubmititSlurmLauncher,
)
from omegaconf import DictConfig, OmegaConf

from green_ai.cluster.nodes import cancel
from green_ai.cluster.preflight import check_request, study_mem_gb
from green_ai.cluster.watch import Outcome, watch
from green_ai.config.hydra_app import SweepFailedError
from green_ai.errors import UserError

# Hydra imports every plugin module whenever an app starts (even for --help): what needs torch
# (the study's signals, the sweep's summary) is imported where it is used.

log = logging.getLogger("green_ai")


class JobStoppedError(Exception):
    """The job was stopped from outside (scancel, a time limit with no requeue)."""


class SlurmLauncher(SubmititSlurmLauncher):
    @staticmethod
    def request(params: Mapping[str, Any], config: DictConfig) -> dict[str, Any]:
        """The launcher's settings with the memory sized for the study where not set, checked
        against the cluster (`UserError` when no node fits)."""
        request = dict(params)
        if request.get("mem_gb") is None:
            dataset = config.get("dataset")
            data = OmegaConf.to_container(dataset, resolve=True) if dataset is not None else {}
            request["mem_gb"] = study_mem_gb(data if isinstance(data, dict) else {})  # type: ignore[arg-type]
        check_request(request)
        return request

    # -- the submitting side ------------------------------------------------------------

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from green_ai.search.workers import sigterm_as_interrupt

        assert self.config is not None
        params = self.request(self.params, self.config)
        jobs = self._submit(params, job_overrides, initial_job_idx)
        ids = " ".join(j.job_id for j in jobs)
        log.info("submitted %d SLURM jobs: %s", len(jobs), ids)
        try:
            with sigterm_as_interrupt():
                outcomes = watch(jobs)
        except KeyboardInterrupt:
            left = [j.job_id for j in jobs if not j.paths.result_pickle.exists()]
            cancel(left)
            print(
                f"cancelled {len(left)} SLURM jobs ({' '.join(left) or 'none left'}); each"
                " records its round in flight as failed",
                file=sys.stderr,
                flush=True,
            )
            raise
        failed = [o for o in outcomes if o.failure]
        if failed:
            self._report(failed, initial_job_idx, jobs)
        return [o.result for o in outcomes]

    def _submit(
        self, params: dict[str, Any], job_overrides: Sequence[Sequence[str]], first: int
    ) -> list[Any]:
        import submitit

        assert self.config is not None
        init_keys = {"submitit_folder", "max_num_timeout"}
        executor = submitit.AutoExecutor(
            cluster="slurm",
            folder=params["submitit_folder"],
            slurm_max_num_timeout=params["max_num_timeout"],
        )
        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{
                k if k in shared else f"slurm_{k}": v
                for k, v in params.items()
                if k not in init_keys
            }
        )
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        args = []
        for number, overrides in enumerate(job_overrides, start=first):
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
            state = Singleton.get_state()
            args.append(
                (list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}", state)
            )
        from submitit.core.utils import FailedJobError, FailedSubmissionError

        try:
            return list(executor.map_array(self, *zip(*args, strict=True)))
        except (FailedJobError, FailedSubmissionError) as err:
            lines = str(err).strip().splitlines() or ["no reason given"]
            raise UserError(
                f"SLURM refused the sweep's jobs: {lines[-1]}; fix the hydra.launcher settings"
                " it names (nothing was submitted)"
            ) from None

    def _report(self, failed: list[Outcome], first: int, jobs: list[Any]) -> None:
        """The summary of the jobs that finished, a line per failed job, the rerun command;
        then `SweepFailedError` (exit status 1, no traceback)."""
        from green_ai.sweep import print_summary

        assert self.config is not None
        summary = print_summary(Path(str(self.config.hydra.sweep.dir)))
        number = {j.job_id: first + i + 1 for i, j in enumerate(jobs)}
        for outcome in failed:
            job_id = outcome.job.job_id
            print(
                f"job {number[job_id]} (SLURM {job_id}) failed: {outcome.failure}; log:"
                f" {outcome.log_path}",
                file=sys.stderr,
            )
        others = "the others' results are above" if summary else "no job finished"
        raise SweepFailedError(
            f"{len(failed)} of {len(jobs)} SLURM jobs failed; {others}. Rerun the sweep to redo"
            f" what is missing (finished studies are kept): {rerun()}"
        )

    # -- inside the job -----------------------------------------------------------------

    def __call__(
        self,
        sweep_overrides: list[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: dict[type, Singleton],
    ) -> JobReturn:
        import submitit

        from green_ai.cluster.job import record_attempt, requeue_as_exception
        from green_ai.search.workers import Requeued, Terminated

        started = time.time()
        try:
            with requeue_as_exception():
                return super().__call__(
                    sweep_overrides, job_dir_key, job_num, job_id, singleton_state
                )
        except Requeued:
            folder = Path(submitit.JobEnvironment().paths.folder)
            record_attempt(folder, job_num + 1, time.time() - started)
            sys.exit(-1)  # as submitit's handler does once the job is requeued
        except Terminated as err:  # a result that says why, instead of no result at all
            raise JobStoppedError(str(err)) from None


def rerun() -> str:
    """The command line that started this process, to run it again."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    head = ["python", "-m", spec.name] if spec is not None else ["python", sys.argv[0]]
    return shlex.join([*head, *sys.argv[1:]])
