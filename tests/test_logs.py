"""One log format on the terminal, and libraries' set-up lines only when `verbose`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import optuna
import pytest

from green_ai.logs import LIBRARIES, Formatter, quiet_libraries


@pytest.fixture(autouse=True)
def _quiet_again() -> Iterator[None]:
    yield
    quiet_libraries(False)


def record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_our_lines_are_time_and_message_others_say_who_and_how_bad() -> None:
    f = Formatter()
    ours = f.format(record("green_ai", logging.INFO, "round 0: accuracy 0.9"))
    assert ours.split(" ", 1)[1] == "round 0: accuracy 0.9"
    assert len(ours.split(" ", 1)[0]) == len("05:13:20")
    hydra = f.format(record("hydra._internal.core_plugins.basic_launcher", 20, "Launching"))
    assert hydra.endswith(" Launching") and "hydra" not in hydra
    warning = f.format(record("green_ai", logging.WARNING, "idle power not measured"))
    assert " WARNING idle power not measured" in warning
    other = f.format(record("mlflow.store", logging.WARNING, "slow"))
    assert other.endswith(" WARNING mlflow.store: slow")


def test_libraries_keep_to_warnings_unless_verbose(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("mlflow").addHandler(logging.StreamHandler())  # as `import mlflow` does
    quiet_libraries(False)
    for name in LIBRARIES:
        logging.getLogger(f"{name}.sub").info("set-up line of %s", name)
        logging.getLogger(f"{name}.sub").warning("warning of %s", name)
    shown = [r.getMessage() for r in caplog.records]
    assert not [m for m in shown if m.startswith("set-up line")]
    assert len([m for m in shown if m.startswith("warning of")]) == len(LIBRARIES)
    assert logging.getLogger("mlflow").handlers == []
    assert optuna.logging.get_verbosity() == logging.WARNING

    caplog.clear()
    quiet_libraries(True)
    logging.getLogger("alembic.runtime").info("Context impl SQLiteImpl.")
    assert [r.getMessage() for r in caplog.records] == ["Context impl SQLiteImpl."]
    quiet_libraries()  # None keeps the last setting
    assert logging.getLogger("alembic").level == logging.INFO
