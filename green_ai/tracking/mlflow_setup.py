"""Where runs go and what every run is tagged with.

MLflow is imported lazily: `import mlflow` costs seconds, and `--help` or a config error
should answer at once.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from green_ai.errors import UserError
from green_ai.locks import create_sqlite_file, file_lock
from green_ai.paths import launch_dir
from green_ai.urls import redact_text, redact_url

# Seconds a tracking server has to answer before `check_tracking` gives up.
CONNECT_TIMEOUT_S = 10

KIND_TRAIN_STUDY = "train_study"
KIND_TRAIN_ROUND = "train_round"
KIND_INFERENCE = "inference"

DEFAULT_URI = "sqlite:///mlflow.db"

# MLflow 3's UI treats an experiment as classic model training (runs table, metrics, compare)
# when it carries this tag; without it the UI may take it for a GenAI app (traces, judges).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def resolve_uri(uri: str | None) -> str:
    """Config first, then `MLFLOW_TRACKING_URI`, then the embedded SQLite store.

    A relative SQLite path is anchored at the directory the command was started from, not at
    Hydra's per-job output directory, so every job of a sweep lands in one store.
    """
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    prefix = "sqlite:///"
    if chosen.startswith(prefix) and not chosen.startswith(prefix + "/"):
        chosen = prefix + str(Path(launch_dir(), chosen[len(prefix) :]).resolve())
    return chosen


def setup_tracking(tracking: Any) -> str:
    """Point MLflow at the `tracking` settings' store and experiment; return its id.

    Processes started together on a new SQLite store would race in MLflow's table creation
    (and leave a half-made file that breaks later runs): they take turns under a file lock.
    """
    import mlflow

    from green_ai.logs import quiet_libraries

    quiet_libraries()  # `import mlflow` installed its own log handler and format
    uri = resolve_uri(tracking.uri)
    mlflow.set_tracking_uri(uri)
    with _store_lock(uri):
        experiment_id = ensure_experiment(str(tracking.experiment))
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def ensure_experiment(name: str) -> str:
    """The id of experiment `name`, created as a model training experiment so that MLflow's UI
    shows its runs table; one made by an older version without the tag gets it (a kind a
    person chose in the UI is kept)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    tags = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return str(client.create_experiment(name, tags=tags))
        except MlflowException:  # another process (on a tracking server) created it first
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise UserError(
            f"tracking.experiment={name}: the experiment is deleted in MLflow; restore it "
            f"(mlflow experiments restore --experiment-id {found.experiment_id}) or choose "
            "another name"
        )
    if EXPERIMENT_KIND_TAG not in found.tags:
        client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    return str(found.experiment_id)


def check_tracking(tracking: Any) -> None:
    """Fail in seconds, naming the URI (no password) and the fix, where runs cannot go.

    Creates nothing: a server is asked for its health page, an SQLite file only looked for.
    """
    uri = resolve_uri(tracking.uri)
    shown = f"tracking.uri={redact_url(uri)}"
    scheme = uri.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=CONNECT_TIMEOUT_S):
                return
        except urllib.error.HTTPError:
            return  # it answered: a server that has no /health page is still there
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise UserError(
                f"{shown}: no MLflow server answers ({reason}); start it (mlflow server "
                "--host ...) or leave tracking.uri unset for the local SQLite file mlflow.db"
            ) from None
    if scheme == "sqlite":
        folder = Path(uri[len("sqlite:///") :]).parent
        if not folder.is_dir():
            raise UserError(f"{shown}: folder {folder} does not exist; create it or fix the path")
    elif (scheme == "file" or uri.startswith(("/", "."))) and os.environ.get(
        "MLFLOW_ALLOW_FILE_STORE", ""
    ).lower() not in ("1", "true"):
        raise UserError(
            f"{shown}: MLflow refuses plain-file stores; use sqlite:///mlflow.db or a server URL"
        )


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """One process at a time; a new SQLite store is created whole before anyone uses it."""
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///") :]
        with file_lock(path + ".lock"):
            create_sqlite_file(path, _create_sqlite_store)
            yield
    else:
        yield


def _create_sqlite_store(url: str) -> None:
    """MLflow's tables at `url`, made as MLflow makes them on first use."""
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(url, DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH).engine.dispose()


def config_container(cfg: Any) -> Any:
    """Settings (a dataclass or a DictConfig) as plain dicts and lists."""
    if isinstance(cfg, DictConfig | ListConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    return cfg


def config_yaml(cfg: Any) -> str:
    """The resolved settings as YAML with every credential in a URL hidden."""
    return redact_text(OmegaConf.to_yaml(OmegaConf.create(config_container(cfg))))


def flatten_config(cfg: Any, prefix: str = "") -> dict[str, str]:
    """The resolved config as dotted keys with string values (MLflow params), credentials
    in URLs hidden."""
    container = config_container(cfg)
    out: dict[str, str] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))
        else:
            out[key] = redact_text(str(node))[:6000]  # MLflow's param value limit

    walk(container, prefix)
    return out


def git_commit() -> str:
    """The commit of the code that ran, with `-dirty` when the tree had local changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def hydra_overrides() -> str:
    """The command-line overrides of this Hydra job, or '' outside Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return redact_text(" ".join(HydraConfig.get().overrides.task))
    except ValueError:
        return ""
