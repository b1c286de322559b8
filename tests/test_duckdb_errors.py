"""Each DuckDB message the build matches, raised by DuckDB itself and read as what it means:
a file held by another process, Ctrl-C during a query, a failed write wherever it fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

from segmentation.duckdb_errors import is_interrupt, is_lock_conflict, is_out_of_memory, is_write_failure


def raised(script: str) -> list[str]:
    """Run `script` in a process of its own (a signal or a file-size limit stays there); it
    prints one line per error it catches: `<type> <is_lock_conflict> <is_interrupt>
    <is_write_failure>`."""
    prelude = textwrap.dedent("""
        import duckdb, os, resource, signal, sys, threading
        from segmentation.duckdb_errors import is_interrupt, is_lock_conflict, is_write_failure

        def report(error):
            print(type(error).__name__, is_lock_conflict(error), is_interrupt(error), is_write_failure(error))
    """)
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_database_held_read_write_by_another_process_is_a_lock_conflict(tmp_path):
    path = tmp_path / "held.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        opened = {
            "connect": lambda: duckdb.connect(str(path), read_only=True),
            "attach": lambda: duckdb.connect().execute("attach $p as live (read_only)", {"p": str(path)}),
        }
        for how, attempt in opened.items():
            with pytest.raises(duckdb.IOException) as caught:
                attempt()
            assert is_lock_conflict(caught.value), (how, str(caught.value))
            assert not is_interrupt(caught.value)
    finally:
        holder.stdin.close()
        holder.wait()
    # the same file, free again, or a file that is no database: no conflict
    duckdb.connect(str(path), read_only=True).close()
    (tmp_path / "text.duckdb").write_text("not a database\n")
    with pytest.raises(duckdb.Error) as caught:
        duckdb.connect(str(tmp_path / "text.duckdb"), read_only=True)
    assert not is_lock_conflict(caught.value)


def test_ctrl_c_during_a_query_is_an_interrupt_however_duckdb_raises_it():
    lines = raised("""
        con = duckdb.connect()
        # SIGINT while a query runs: duckdb's Python module raises RuntimeError("Query interrupted").
        # It looks at signals between the tasks this thread runs: on one thread, at once; with
        # more, maybe only when the query ends (`stops` interrupts a build's queries itself).
        con.execute("set threads = 1")
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            con.execute("select count(*) from range(100000000000)").fetchall()
        except BaseException as e:
            report(e)
        # interrupted from another thread (as a worker's stop does): DuckDB's InterruptException
        con.execute("reset threads")
        threading.Timer(0.3, con.interrupt).start()
        try:
            con.sql("select sum(range) from range(100000000000)").df()
        except BaseException as e:
            report(e)
    """)
    assert lines == ["RuntimeError False True False", "InterruptException False True False"]
    assert is_interrupt(KeyboardInterrupt())
    assert not is_interrupt(RuntimeError("something else"))


def test_a_failed_write_is_a_write_failure_wherever_duckdb_meets_it(tmp_path):
    """A file-size limit (`File too large`) fails a write to the table, a commit (to the log)
    and a checkpoint: three exception types, one meaning."""
    lines = raised(f"""
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        big = duckdb.connect({str(tmp_path / "big.duckdb")!r})
        logged = duckdb.connect({str(tmp_path / "logged.duckdb")!r})
        logged.execute("create table t as select range as a from range(10)")
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
        for con, sql in [
            (big, "create table t as select range as a, md5(range::varchar) as b from range(1000000)"),
            (logged, "insert into t select range from range(100000)"),
            (logged, "checkpoint"),
        ]:
            try:
                con.execute(sql)
            except BaseException as e:
                report(e)
    """)
    assert lines == [
        "IOException False False True",
        "TransactionException False False True",
        "FatalException False False True",
    ]
    assert not is_write_failure(duckdb.ConversionException("Could not convert string 'x' to INT32"))


def test_out_of_memory_is_told_by_its_type():
    con = duckdb.connect(config={"memory_limit": "20MB", "max_temp_directory_size": "0KB"})
    with pytest.raises(duckdb.OutOfMemoryException) as caught:
        con.execute("select list(range) from range(20000000)").fetchall()
    assert is_out_of_memory(caught.value) and not is_write_failure(caught.value)
    assert is_out_of_memory(MemoryError())
