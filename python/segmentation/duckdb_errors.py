"""What a DuckDB error means to a build. DuckDB's exception types say most of it; where they
do not, the message is matched here and nowhere else, each match tested against the error
DuckDB really raises (tests/test_duckdb_errors.py):

- a file another process holds: an IOException like any other failed read, told apart by its
  text (Linux and macOS: "Could not set lock ... Conflicting lock"; Windows: "used by another
  process");
- Ctrl-C during a query: DuckDB's Python module raises a bare RuntimeError "Query interrupted";
- a write that failed (disk full, file too large): an IOException where DuckDB writes, but a
  TransactionException when a commit fails and a FatalException when a checkpoint does.
"""

from __future__ import annotations

import duckdb

LOCK_HELD = ("could not set lock", "conflicting lock", "used by another process")  # lower case
QUERY_INTERRUPTED = "Query interrupted"
WRITE_FAILED = ("Could not write file", "No space left on device", "File too large", "Permission denied")


def is_lock_conflict(error: BaseException) -> bool:
    """Another process holds the database file (read-write): waiting may help."""
    return isinstance(error, duckdb.Error) and any(words in str(error).lower() for words in LOCK_HELD)


def is_interrupt(error: BaseException) -> bool:
    """Ctrl-C: Python raises KeyboardInterrupt, or DuckDB, when it stops the query it was running."""
    return isinstance(error, (KeyboardInterrupt, duckdb.InterruptException)) or (
        isinstance(error, RuntimeError) and str(error) == QUERY_INTERRUPTED
    )


def raise_if_interrupt(error: BaseException) -> None:
    """A Ctrl-C that stopped a query passes on as itself: never read as a fault of what the
    query read (`except duckdb.Error` catches DuckDB's InterruptException too)."""
    if is_interrupt(error):
        raise error


def is_write_failure(error: BaseException) -> bool:
    """The file system refused a read or write (full, too large a file, permissions)."""
    return isinstance(error, (duckdb.IOException, duckdb.PermissionException)) or (
        isinstance(error, duckdb.Error) and any(words in str(error) for words in WRITE_FAILED)
    )


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, (MemoryError, duckdb.OutOfMemoryException))
