"""Paths and messages as text: a file name may hold bytes that are not UTF-8, which Python keeps
as lone surrogates and neither DuckDB nor a terminal can take."""

from __future__ import annotations

from pathlib import Path


def shown(text: object) -> str:
    """`text` with every byte that is not UTF-8 written as a backslash escape (`\\xff`)."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_utf8(text: Path | str) -> bool:
    """Whether `text` holds only UTF-8 text (DuckDB can be given it as a path)."""
    try:
        str(text).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False
