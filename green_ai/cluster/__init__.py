"""Running a sweep's studies as SLURM jobs: the launcher behind `hydra/launcher=slurm` and
`hydra/launcher=slurm_cpu`.

- `nodes`: what the cluster offers (`sinfo`) and what a job is doing (`squeue`, no `sacct`);
- `preflight`: a request checked against the partition's nodes before anything is submitted;
- `launcher`: submitit's launcher with that check, a watch that survives failed jobs, Ctrl-C
  that cancels the sweep's jobs, and SLURM's requeue signal recorded by the study.
"""
