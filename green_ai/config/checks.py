"""Range and choice checks for the typed settings, each failing with one line.

The settings dataclasses call these from `__post_init__`, so a wrong value is reported once,
before anything runs, as `key=value` and what is allowed (a `UserError`: exit 2, no traceback).
OmegaConf has already checked the types; these check what a type cannot say.
"""

from __future__ import annotations

from collections.abc import Iterable

from green_ai.errors import UserError


def require_int(key: str, value: int, *, minimum: int, maximum: int | None = None) -> None:
    """`value` is an integer in [minimum, maximum]."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        allowed = f"of at least {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise UserError(f"{key}={value!r} must be an integer {allowed}")


def require_number(
    key: str, value: float, *, low: float | None = None, strict: bool = False, unit: str = ""
) -> None:
    """`value` is a number above `low` (`strict`: greater than, else at least)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if not ok:
        bound = "" if low is None else f" {'>' if strict else '>='} {low:g}"
        raise UserError(f"{key}={value!r} must be a number{bound}{unit}")


def require_choice(key: str, value: object, choices: Iterable[object], why: str = "") -> None:
    """`value` is one of `choices`."""
    options = list(choices)
    if value not in options:
        listed = ", ".join(str(o) for o in options)
        raise UserError(f"{key}={value!r} is not one of {listed}{'; ' + why if why else ''}")
