"""One log format for every app, and libraries kept quiet unless `verbose=true`.

Hydra configures the handlers (`conf/hydra/job_logging/green_ai.yaml` and
`conf/hydra/hydra_logging/green_ai.yaml` both use `Formatter`). MLflow installs a handler of
its own with its own format when it is imported, and it, alembic and the launcher plugins log
their set-up steps ("Creating initial MLflow database tables...", "Joblib.Parallel(...) is
launching 4 jobs") at INFO: `quiet_libraries` routes them through our handlers and keeps them
to warnings unless asked (issue 11: a terminal a person reads).
"""

from __future__ import annotations

import logging

# Loggers of libraries whose INFO lines are set-up chatter, not results.
LIBRARIES = (
    "mlflow",
    "alembic",
    "huey",
    "sqlalchemy.engine",
    "optuna",
    "hydra_plugins",
    "submitit",
    "urllib3",
)

_verbose = False


class Formatter(logging.Formatter):
    """`HH:MM:SS message` for our INFO lines; the level and the logger's name where it
    matters (warnings, errors, and any library's line)."""

    def __init__(self, datefmt: str | None = "%H:%M:%S") -> None:
        super().__init__(datefmt=datefmt)

    def format(self, record: logging.LogRecord) -> str:
        when = self.formatTime(record, self.datefmt)
        ours = record.name == "green_ai" or record.name.startswith(("green_ai.", "hydra."))
        if record.levelno == logging.INFO and ours:
            head = when
        elif ours:
            head = f"{when} {record.levelname}"
        else:
            head = f"{when} {record.levelname} {record.name}:"
        text = f"{head} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def quiet_libraries(verbose: bool | None = None) -> None:
    """Send the libraries' records through the root handlers, at WARNING unless `verbose`.

    Called again after `import mlflow` (which reinstalls its own handler); `None` keeps the
    setting of the last call.
    """
    global _verbose
    if verbose is not None:
        _verbose = verbose
    level = logging.INFO if _verbose else logging.WARNING
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(level)
    try:  # Optuna adds a handler of its own to its root logger as well
        import optuna

        optuna.logging.disable_default_handler()
        optuna.logging.enable_propagation()
        optuna.logging.set_verbosity(level)
    except ImportError:  # pragma: no cover - optuna is a dependency
        pass


def is_verbose() -> bool:
    return _verbose
