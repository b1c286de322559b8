"""Text from outside (file names, headers) where it must not break what holds it: bytes of a file
name that are not UTF-8, which Python keeps as lone surrogates and neither DuckDB nor a terminal
takes, and line ends, which would end an error line or a SQL comment early."""

from __future__ import annotations

from pathlib import Path


def escape(character: str) -> str:
    """A character as a backslash escape; a byte that was not UTF-8 as the byte (`\\xff`)."""
    if "\udc80" <= character <= "\udcff":
        return f"\\x{ord(character) - 0xDC00:02x}"
    return character.encode("unicode_escape").decode("ascii")


def utf8_text(text: object) -> str:
    """`text` as UTF-8 text DuckDB can store: only what is not UTF-8 is escaped."""
    return "".join(escape(c) if "\ud800" <= c <= "\udfff" else c for c in str(text))


def one_line(text: object) -> str:
    """`text` as one line for a terminal or a `--` comment: every character that is not
    printable (line ends, controls, separators, bytes that are not UTF-8) escaped."""
    return "".join(c if c.isprintable() else escape(c) for c in str(text))


def is_utf8(text: Path | str) -> bool:
    """Whether `text` holds only UTF-8 text (DuckDB can be given it as a path)."""
    try:
        str(text).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False
