"""A CSV file into the raw tables: DuckDB reads its lines (`input_file` makes sure it can) and a
view splits them; a file whose quoted fields hold line ends, or whose lines hold a CR, is read
by Python's RFC 4180 reader instead. A title, blank lines or a tool's note may stand above the
header (`read_header`); a stray quote costs its own line only (`csv_records`)."""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import closing
from itertools import chain, islice
from pathlib import Path
from typing import NamedTuple

import duckdb

from ..config import DELIMITERS
from ..errors import InputError
from . import input_file
from .lines import END_OF_FILE, create_raw_lines, read_part_lines
from .raw import (
    CUSTOMER_RAW,
    HEADER_SEARCH_LINES,
    RECORDS_TABLE,
    Header,
    RawNames,
    last_filled,
    load_records,
    record_part,
    records_after,
    release_records,
)

MAX_HEADER_CHARS = 16 << 20  # a header is read whole up to this
# Excel's first line naming the delimiter; a spreadsheet that took it for a row saves it back
# padded with delimiters to the width of the table (`sep=;;;;`)
SEP_LINE = re.compile(r"sep=(.)\1*", re.IGNORECASE)
# A quoted field may hold line ends; one still open after this many lines is a stray quote:
# its line is rejected and reading goes on with the next line.
MAX_RECORD_LINES = 100
# A header's quoted name may hold line ends too (a spreadsheet cell's Alt+Enter); one still open
# after this many lines is a stray quote in a title: its line is read alone.
MAX_HEADER_LINES = 10
# Python's reader refuses a field over 131,072 characters; a field may hold a record's lines.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_LINES * (input_file.MAX_LINE_BYTES + 2)))

# The fields of a CSV line; a quoted field may hold the delimiter: those few lines are split
# with an RFC 4180 regex. A view cannot take query parameters: the dialect travels as session
# variables, which DuckDB reads as constants when the view is used.
SPLIT_LINES = """
create temp view {records} as
select
    raw_lines.line_number,
    raw_lines.raw_line,
    case
        when contains(raw_lines.raw_line, '"') then list_transform(
            regexp_extract_all(raw_lines.raw_line || getvariable('{delimiter}'), getvariable('{pattern}'), 1),
            lambda f: if(f ^@ '"' and f[-1:] = '"' and len(f) >= 2, replace(f[2:-2], '""', '"'), f)
        )
        else string_split(raw_lines.raw_line, getvariable('{delimiter}'))
    end as fields,
    {problem} as line_problem
from {lines} as raw_lines
{join}
"""


Numbered = Iterator[tuple[int, input_file.Line]]  # lines with their numbers


class CsvHeader(NamedTuple):
    delimiter: str
    names: tuple[str, ...]
    line: int  # 2 after Excel's `sep=;` line, else 1, unless lines stand above it
    skipped: int = 0  # the non-blank lines above it that are not the header (a title)
    searched: int = 0  # when no line named the columns a build needs: the non-blank lines read
    lines: int = 1  # the lines it spans: more when a quoted name holds line ends

    @property
    def last_line(self) -> int:
        """The header's last line: the data follow it."""
        return self.line + self.lines - 1


def read_header(facts: input_file.FileFacts, is_header: Callable[[tuple[str, ...]], bool]) -> CsvHeader:
    """The delimiter and the header's names, from the file's first lines: after a `sep=X`
    line, which Excel writes to name the delimiter, the first of the first
    HEADER_SEARCH_LINES non-blank lines whose names `is_header` accepts, else the first
    non-blank line (whose names then say what is missing). A header may be longer than a data
    line: up to MAX_HEADER_CHARS characters (of up to 4 bytes each) are read."""
    path = facts.path
    with closing(input_file.read_lines(facts, 4 * MAX_HEADER_CHARS)) as lines:
        numbered: Numbered = enumerate(lines, start=1)
        line, first = next(numbered, (1, None))
        if first is not None:  # a BOM the encoding named does not strip is no part of a name
            first = first._replace(text=first.text.removeprefix("\ufeff"))
        if hint := first and SEP_LINE.fullmatch(first.text):
            line, first = next(numbered, (2, None))
        if hint and hint[1] not in DELIMITERS:
            raise InputError(
                f"{path}: line 1: {hint[0]!r} names a delimiter other than {', '.join(map(repr, DELIMITERS))}"
            )
        # the first non-blank line read, as a header or why it cannot be one (unreadable, too
        # long), and how many were read
        opening: CsvHeader | InputError | None = None
        searched = 0
        while first is not None and searched < HEADER_SEARCH_LINES:
            if first.text.strip():
                searched += 1
                record, numbered = quoted_record(first, line, numbered, hint[1] if hint else None)
                # the delimiter it uses most first; another when only it splits the line into
                # the names a build needs (names may hold commas: 'Income (k$, gross)')
                for delimiter in [hint[1]] if hint else likely_delimiters(record_text(record)):
                    try:
                        candidate: CsvHeader | InputError = header_line(path, record, line, delimiter)
                    except InputError as e:
                        candidate = e
                    opening = opening or candidate
                    if isinstance(candidate, CsvHeader) and is_header(candidate.names):
                        return candidate._replace(skipped=searched - 1)
            line, first = next(numbered, (line + 1, None))
    if opening is None:
        raise InputError(f"{path}: line 2: no header after {hint[0]!r}" if hint else f"{path}: the file is empty")
    if isinstance(opening, InputError):  # no header anywhere: say what is wrong with the first line
        raise opening
    return opening._replace(searched=searched)


def quoted_record(
    first: input_file.Line, line: int, numbered: Numbered, delimiter: str | None
) -> tuple[list[input_file.Line], Numbered]:
    """The lines of the record that starts with `first` (line `line`): more than it when a
    quoted name opens on it and closes on a later line, within MAX_HEADER_LINES (a quote that
    never closes is a stray one: its line stands alone); and the numbered lines after the record."""
    record = [first]
    while inside_quotes(record_text(record), delimiter) and len(record) < MAX_HEADER_LINES:
        following = next(numbered, None)
        if following is None:
            break
        record.append(following[1])
    if len(record) > 1 and inside_quotes(record_text(record), delimiter):
        return [first], chain(enumerate(record[1:], start=line + 1), numbered)
    return record, numbered


def record_text(record: list[input_file.Line]) -> str:
    """A record's lines as one text, with the line ends between them."""
    return "".join(read.text + read.end for read in record[:-1]) + record[-1].text


def inside_quotes(text: str, delimiter: str | None) -> bool:
    """Whether `text` ends inside a quoted field: one whose quote opens the field, as RFC 4180
    has it (`"Annual Income` does; `Monitors 27" campaign` does not), with `delimiter` or, not
    known yet, any of DELIMITERS."""
    for candidate in [delimiter] if delimiter else DELIMITERS:
        try:
            list(csv.reader([text], delimiter=candidate, strict=True))
        except csv.Error as e:
            if "unexpected end of data" in str(e):
                return True
    return False


def likely_delimiters(text: str) -> list[str]:
    """The DELIMITERS a header's text uses outside quoted names, the most used first (ties go
    to the earlier, ',' first); ',' alone when it uses none (one column)."""
    unquoted = re.sub(r'"(?:[^"]|"")*"', "", text)  # a quoted name may hold any delimiter or line end
    used = sorted((d for d in DELIMITERS if d in unquoted), key=lambda d: -unquoted.count(d))
    return used or [DELIMITERS[0]]


def header_line(path: Path, record: list[input_file.Line], line: int, delimiter: str | None) -> CsvHeader:
    """A record read as the header (its lines, from line `line`): its delimiter (`delimiter`,
    or the one it uses most outside quoted names) and its names."""
    for read in record:
        if read.too_long or len(read.text) > MAX_HEADER_CHARS:
            raise InputError(f"{path}: line {line}: the header is longer than {MAX_HEADER_CHARS:,} characters")
        if read.problem:  # the text holds U+FFFD for its bad bytes: say which they were
            raise InputError(f"{path}: line {line}: the header is unreadable: {read.problem}")
    text = record_text(record)
    if "\ufffd" in text or "\x00" in text:
        raise InputError(f"{path}: line {line}: the header is not text (undecodable bytes); is this a CSV file?")
    delimiter = delimiter or likely_delimiters(text)[0]
    try:
        names = tuple(next(csv.reader([text], delimiter=delimiter), []))
    except csv.Error as e:  # a line end within an unquoted name
        raise InputError(f"{path}: line {line}: the header cannot be read as CSV ({e})") from None
    return CsvHeader(delimiter, names, line, lines=len(record))


def load_csv(
    con: duckdb.DuckDBPyConnection,
    parts: tuple[input_file.FileFacts, ...],
    work: Path,
    is_header: Callable[[tuple[str, ...]], bool],
    raw: RawNames = CUSTOMER_RAW,
) -> Header:
    """`raw_lines`, every part's lines numbered on from the previous part's, then
    `raw_records` splitting them (or, when a quoted field holds a line end or a line holds a
    CR, read by Python's CSV reader). `is_header`: whether a line's names are the header's
    (`read_header`)."""
    headers: list[CsvHeader] = []  # each part's own header: its line
    copies: list[tuple[int, dict[int, str]]] = []  # each part's offset and lines with problems
    part_lines: list[str] = []
    offset, open_quotes = 0, 0
    # DuckDB would end a line at a CR within it: such files are read by Python's reader alone
    by_python = any(facts.breaks_in_lines for facts in parts)
    for number, facts in enumerate(parts):
        path = facts.path
        found = read_header(facts, is_header)
        if number == 0:
            header = found
        elif found.names == header.names and found.delimiter != header.delimiter:
            raise InputError(
                f"{path}: line {found.line}: its fields are split by {delimiter_name(found.delimiter)}, those of "
                f"{parts[0].path.name} by {delimiter_name(header.delimiter)}; the parts of a folder are one table's, "
                "written alike (save them with one delimiter)"
            )
        elif found[:2] != header[:2]:  # the delimiter and names; a title above it may differ
            raise InputError(
                f"{path}: line {found.line}: its header ({shown_names(found.names)}) differs from that of "
                f"{parts[0].path.name} ({shown_names(header.names)}); the parts of a folder are one table's"
            )
        headers.append(found)
        if by_python:
            continue
        lines, problems, (last, records, opened) = read_part_lines(
            con, facts, number, offset, found.last_line, work, "CSV", raw, found.delimiter
        )
        part_lines.append(lines)
        copies.append((offset, problems))
        open_quotes += opened
        offset = record_part(con, facts, offset, last, records, raw)
    described = Header(header.names, f"CSV ({parts[0].described})", header.line, header.skipped, header.searched)
    if by_python or open_quotes:
        release_records(con, raw)  # the lines read so far: Python's reader reads the files again
        con.execute(RECORDS_TABLE.format(records=raw.records))
        con.execute(f"delete from {raw.parts}")  # a record may span lines here: count records, not lines
        offset = 0
        for facts, found in zip(parts, headers):
            load_records(con, csv_records(facts, found, offset), raw)
            offset = record_part(con, facts, offset, *records_after(con, offset, raw), raw)
        return described
    problem, join = create_raw_lines(con, part_lines, copies, raw)
    delimiter, pattern = raw.variable("delimiter"), raw.variable("field_pattern")
    con.execute(f"set variable {delimiter} = $value", {"value": header.delimiter})
    con.execute(f"set variable {pattern} = $value", {"value": field_pattern(header.delimiter)})
    con.execute(
        SPLIT_LINES.format(
            problem=problem,
            join=join,
            records=raw.records,
            lines=raw.lines,
            delimiter=delimiter,
            pattern=pattern,
        )
    )
    return described


def delimiter_name(delimiter: str) -> str:
    return "tabs" if delimiter == "\t" else f"'{delimiter}'"


def shown_names(names: tuple[str, ...], most: int = 6) -> str:
    """A header's first names, for a message: the part that is not like the others shows."""
    return ", ".join(map(repr, names[:most])) + (f" and {len(names) - most} more" if len(names) > most else "")


def field_pattern(delimiter: str) -> str:
    """RFC 4180 fields: a quoted field (with "" for a quote), or anything up to the delimiter."""
    return f'("(?:[^"]|"")*"|[^{delimiter}]*)[{delimiter}]'


class StrayQuote(Exception):
    """A quoted field that opened on a record's first line and does not close as a field
    ends: still open after MAX_RECORD_LINES lines, closed with more text after the quote
    (`"VIP` ... `27" monitor`), or closed after lines that look like records of their own."""


def looks_like_records(lines: list[tuple[int, input_file.Line]], header: CsvHeader) -> bool:
    """Whether a record's later lines each hold as many delimiters as a record of the file: the
    customers a stray quote swallowed (`"VIP` ... `monitor 27"`), not the lines of an address."""
    least = last_filled(list(header.names)) - 1
    return any(line.text.count(header.delimiter) >= least for _, line in lines[1:])


def csv_records(
    facts: input_file.FileFacts, header: CsvHeader, offset: int = 0
) -> Iterator[tuple[int, str, list[str], str | None]]:
    """(line number, raw text, fields, problem) of each non-blank record after the header, read
    with Python's RFC 4180 reader: a quoted field may hold line ends, kept as the file writes
    them. A record is numbered by its first line (plus `offset`, for a part after the first)
    and has the problem of the first of its lines that has one. A record spanning lines must
    parse strictly and not hold lines that look like records; else the quote that opened it is
    a stray one: its line is rejected and the lines after it are read again, so free text
    holding quotes (`"VIP`, `monitor 27"`) never swallows the customers between them."""
    with closing(input_file.read_lines(facts)) as read:
        numbered = islice(enumerate(read, start=1), header.last_line, None)
        backlog: deque[tuple[int, input_file.Line]] = deque()  # a stray quote's lines, read again after it
        lines: list[tuple[int, input_file.Line]] = []  # the record being read

        def feed() -> Iterator[str]:
            while (item := backlog.popleft() if backlog else next(numbered, None)) is not None:
                lines.append(item)
                if len(lines) > MAX_RECORD_LINES:
                    raise StrayQuote
                yield item[1].text + (item[1].end or "\n")  # the reader keeps a quoted line end

        while True:
            reader = csv.reader(feed(), delimiter=header.delimiter, strict=True)
            try:
                for fields in reader:
                    if len(lines) > 1 and looks_like_records(lines, header):
                        raise StrayQuote
                    number = lines[0][0]
                    text = "".join(line.text + line.end for _, line in lines[:-1]) + lines[-1][1].text
                    problem = next((line.problem for _, line in lines if line.problem), None)
                    lines.clear()
                    if fields and any(field.strip() for field in fields) and fields != [END_OF_FILE]:
                        yield offset + number, text, fields, problem
                return
            except (StrayQuote, csv.Error) as e:
                if not lines:  # nothing was read: the error is not a record's
                    return
                (number, first), rest = lines[0], lines[1:]
                lines.clear()
                if rest or isinstance(e, StrayQuote) or first.text.count('"') % 2:  # an odd quote opens a field
                    backlog.extendleft(reversed(rest))
                    yield offset + number, first.text, [], f"a quoted field opened on line {number} is not closed"
                else:  # a quote astray within one line (`"abc"def`), or a CR: split as `raw_records` would
                    yield offset + number, first.text, split_fields(first.text, header.delimiter), first.problem


def split_fields(text: str, delimiter: str) -> list[str]:
    """A line's fields as the view `raw_records` splits them (`field_pattern`): any text."""
    return [
        field[1:-1].replace('""', '"') if len(field) >= 2 and field[0] == field[-1] == '"' else field
        for field in re.findall(field_pattern(delimiter), text + delimiter)
    ]
