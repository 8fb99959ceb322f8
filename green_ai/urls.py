"""Credentials never leave the process: URLs are redacted before they are printed or stored.

Storage and tracking URLs may carry a password (`postgresql://user:secret@host/db`) or a token
in the query string; what is logged, printed or written to MLflow goes through `redact_url`.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

HIDDEN = "***"
# Query parameters that carry a secret (libpq's `password`, tokens of HTTP tracking servers).
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|token|access_token|secret)=)[^&]*")
# user:password@ in any scheme://, for URLs SQLAlchemy cannot parse.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@]*):[^@/]*@")


def redact_url(url: str) -> str:
    """`url` with any password or token replaced by `***`; other text unchanged."""
    try:
        text = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        text = url
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{HIDDEN}@", text)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + HIDDEN, text)


def redact_text(text: str) -> str:
    """Every URL-looking credential in free text (a command line, a YAML dump) redacted."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{HIDDEN}@", text)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + HIDDEN, text)
