"""Errors a user can act on.

A `UserError` is raised for bad input (a wrong override, missing dataset files, a sensor that
is not there). The command-line entry points print its message on one line and exit with
status 2 instead of a traceback: the message itself names the problem and the fix.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment; the message says what is wrong and how to fix it."""
