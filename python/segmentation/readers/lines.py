"""A text file's lines in a table of DuckDB's, one per part file, numbered on from the previous
part's: the CSV and JSON Lines readers split or parse them in a view over `<prefix>_lines`."""

from __future__ import annotations

from contextlib import closing
from itertools import islice
from pathlib import Path

import duckdb
import pandas as pd

from ..db import first_row, setting
from ..duckdb_errors import raise_if_interrupt
from ..errors import InputError
from . import input_file
from .raw import BATCH, CUSTOMER_RAW, RawNames, in_sample

# One text column per line: a record separator as delimiter and no quoting keep lines whole.
# Each part's lines go into a table of their own, in file order (DuckDB keeps the order of an
# insert), so a line's row id is its line number less one: counting lines as they are read
# (WITH ORDINALITY) would read the file on one core. Blank lines are kept, so the count holds.
PART_TABLE = """
create temp table {table} as
select raw_line
from read_csv(
    $path, columns = {{'raw_line': 'varchar'}}, delim = chr(30), quote = '', escape = '',
    header = false, auto_detect = false, compression = $compression
)
"""

# DOS's end-of-file byte, which old tools write after the last line: a line of it alone is no record
END_OF_FILE = "\x1a"
# A part's data lines (those after its header), numbered on from the previous part's; blank
# lines are dropped (only a line starting with a space needs trimming to tell), and END_OF_FILE,
# and in a CSV file lines of delimiters alone (`,,,,`: a spreadsheet's empty rows), as Python's
# reader drops records of blank fields.
PART_LINES = """
select rowid + 1 + {offset} as line_number, raw_line
from {table}
where
    rowid >= {header_line}
    and if(raw_line ^@ ' ', trim(raw_line) <> '', raw_line not in ('', chr(26)))
    and not (raw_line ^@ chr({delimiter}) and trim(raw_line, chr({delimiter}) || ' ') = '')
"""

NO_DELIMITER = "\x00"  # a JSON Lines file's: NUL, which no line holds (`input_file.FORBIDDEN`)


def part_lines(table: str, offset: int, header_line: int = 0, delimiter: str = NO_DELIMITER) -> str:
    """PART_LINES of the part's table `table`, numbered on from `offset`."""
    return PART_LINES.format(offset=int(offset), table=table, header_line=header_line, delimiter=ord(delimiter))


# A part's last record's line number and its number of records (a record per line here), and
# how many of its lines hold quotes that do not pair up: a quoted field holding a line end
# starts on one of them. One scan.
PART_FACTS = """
select
    max(line_number),
    count(*),
    count(*) filter (
        where contains(raw_line, '"') and (length(raw_line) - length(replace(raw_line, '"', ''))) % 2 = 1
    )
from ({lines})
"""


def read_part_lines(
    con: duckdb.DuckDBPyConnection,
    facts: input_file.FileFacts,
    number: int,
    offset: int,
    header_line: int,
    work: Path,
    what: str,
    raw: RawNames = CUSTOMER_RAW,
    delimiter: str = NO_DELIMITER,
) -> tuple[str, dict[int, str], tuple]:
    """Read a part's lines into the table `raw_part_<number>_lines` with DuckDB (a compressed
    file decompressed by it). Returns the select of its data lines (those after `header_line`,
    numbered on from `offset`), the lines whose bytes are unreadable, and PART_FACTS of them.
    `what`: the format, for a message."""
    copy = work / f"part-{number:05d}.txt"
    problems = dict(input_file.readable_copy(facts, copy))
    table = raw.part(number)
    try:
        with setting(con, "preserve_insertion_order", True):  # the build runs without it
            con.execute(
                PART_TABLE.format(table=table),
                {"path": str(copy), "compression": input_file.copy_compression(facts, copy)},
            )
        lines = part_lines(table, offset, header_line, delimiter)
        found = first_row(con, PART_FACTS.format(lines=lines))
    except duckdb.Error as e:
        raise_if_interrupt(e)
        raise InputError(f"{facts.path}: cannot be read as {what} ({str(e).splitlines()[0]})") from None
    return lines, problems, found


def create_raw_lines(
    con: duckdb.DuckDBPyConnection,
    part_lines: list[str],
    copies: list[tuple[int, dict[int, str]]],
    raw: RawNames = CUSTOMER_RAW,
) -> tuple[str, str]:
    """The view `raw_lines` of every part's lines, and the table `raw_line_problems` of the
    unreadable ones (each part's offset and its problems by line); returns the expression of a
    line's problem and the join that gives it, for the view of the records."""
    union = "\nunion all\n".join(part_lines)
    con.execute(f"create temp view {raw.lines} as select * from ({union}) where {in_sample('raw_line')}")
    numbered = [(offset + line, problem) for offset, lines in copies for line, problem in lines.items()]
    if not numbered:
        return "null::varchar", ""
    con.execute(f"create temp table {raw.line_problems} (line_number bigint, problem varchar)")
    con.executemany(f"insert into {raw.line_problems} values (?, ?)", numbered)
    return "raw_line_problems.problem", f"left join {raw.line_problems} as raw_line_problems using (line_number)"


def python_part_lines(
    con: duckdb.DuckDBPyConnection, facts: input_file.FileFacts, number: int, offset: int, raw: RawNames = CUSTOMER_RAW
) -> tuple[str, dict[int, str], tuple]:
    """A part's lines read by Python, as `read_part_lines` reads them with DuckDB, for a file
    with a CR within a line (an LF in a file of CR lines), where DuckDB would end the line."""
    table = raw.part(number)
    con.execute(f"create temp table {table} (raw_line varchar)")
    problems: dict[int, str] = {}
    with closing(input_file.read_lines(facts)) as read, setting(con, "preserve_insertion_order", True):
        numbered = enumerate(read, start=1)
        while batch := list(islice(numbered, BATCH)):
            problems |= {n: line.problem for n, line in batch if line.problem}
            frame = pd.DataFrame({"raw_line": [line.text for _, line in batch]})  # noqa: F841 (read below)
            con.execute(f"insert into {table} select raw_line from frame")
    lines = part_lines(table, offset)
    return lines, problems, first_row(con, PART_FACTS.format(lines=lines))
