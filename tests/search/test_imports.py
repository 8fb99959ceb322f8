"""The study loop knows its observers only through green_ai.search.events: no module of
green_ai/search imports MLflow tracking, progress, the sweep or the app that wires them."""

from __future__ import annotations

import ast
from pathlib import Path

import green_ai.search

SEARCH = Path(green_ai.search.__file__).parent
OBSERVERS = ("green_ai.tracking", "green_ai.progress", "green_ai.sweep", "green_ai.observers")
APPS = ("green_ai.train",)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function; relative imports are
    resolved against green_ai.search."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = ["green_ai", "search"][: 3 - node.level]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def reaches(module: str, names: tuple[str, ...]) -> bool:
    return any(module == n or module.startswith(f"{n}.") for n in names)


def test_no_search_module_imports_an_observer_or_the_app() -> None:
    modules = sorted(SEARCH.rglob("*.py"))
    assert {p.name for p in modules} >= {"study.py", "rounds.py", "events.py", "__init__.py"}
    wrong = {
        f"{p.relative_to(SEARCH)}: {m}"
        for p in modules
        for m in imported_modules(p)
        if reaches(m, OBSERVERS + APPS)
    }
    assert not wrong, sorted(wrong)


def test_the_check_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from green_ai.tracking import StudyRuns\n"
        "from .. import progress\nimport green_ai.sweep as s\n"
    )
    found = imported_modules(source)
    assert {"green_ai.tracking", "green_ai.progress", "green_ai.sweep"} <= found
    assert all(reaches(m, OBSERVERS) for m in ("green_ai.tracking", "green_ai.progress"))
