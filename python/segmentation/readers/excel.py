"""An Excel workbook into the raw tables: openpyxl reads its first sheet that holds the columns
(or `--sheet`), each cell as the text a CSV export would hold."""

from __future__ import annotations

import math
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree

import duckdb

from ..errors import InputError
from . import input_file
from .raw import (
    CUSTOMER_RAW,
    HEADER_SEARCH_LINES,
    MAX_COLUMNS,
    RECORDS_TABLE,
    Header,
    RawNames,
    last_filled,
    load_records,
    record_part,
    records_after,
)

# A workbook is XML in a zip: openpyxl reads some parts whole (the shared strings) and parses
# every sheet to its end, keeping a trace of each row. A part larger than this uncompressed,
# or a sheet of more rows than Excel holds, is refused before any is read.
MAX_WORKBOOK_PART_BYTES = 512_000_000
MAX_SHEET_ROWS = 1_048_576


def load_excel(
    con: duckdb.DuckDBPyConnection,
    facts: input_file.FileFacts,
    sheet: str | None,
    is_header: Callable[[tuple[str, ...]], bool],
    raw: RawNames = CUSTOMER_RAW,
) -> Header:
    """A workbook's sheet named by `sheet`, else its first sheet whose first non-blank rows
    hold a header naming the columns a build needs (a warning names it when it is not the
    first); rows are numbered as Excel numbers them. As in a CSV file (`read_header`), a title
    may stand above the header. A row is read as wide as the header: a cell far to its right
    (column XFD) costs no row of that width."""
    from openpyxl import load_workbook  # only a workbook needs it

    path = facts.path
    check_workbook(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(f"{path}: not a readable Excel workbook ({type(e).__name__}: {e})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(f"{path}: no sheet named {sheet!r} (it has: {', '.join(book.sheetnames)})")
        tables = [table.title for table in book.worksheets]  # a chart sheet holds no rows
        if sheet is not None and sheet not in tables:
            raise InputError(f"{path}: the sheet {sheet!r} is a chart (sheets with rows: {', '.join(tables)})")
        # a sheet the workbook hides (an old export kept beside the current one) only after those it shows
        shown = sorted(book.worksheets, key=lambda table: table.sheet_state != "visible")
        candidates = [book[sheet]] if sheet is not None else shown
        starts: list[SheetStart] = []
        for rows in candidates:  # a sheet's first rows only, until one holds the header
            starts.append(sheet_start(rows, is_header))
            if starts[-1].at is not None:
                break
        start = starts[-1]
        if start.at is None:
            if len(starts) > 1:
                raise InputError(no_sheet_holds_the_header(path, starts))
            if not start.found:
                raise InputError(f"{path}: the sheet {start.title!r} is empty")
        at = start.at or 0  # no header found: the first row stands, and its names say what is missing
        header_row, names = start.found[at][0], start.names[at]
        width = max(i for i, name in enumerate(names, 1) if name)
        if width > MAX_COLUMNS:
            raise InputError(
                f"{path}: row {header_row}: the header has {width:,} columns; at most {MAX_COLUMNS:,} are read"
            )
        con.execute(RECORDS_TABLE.format(records=raw.records))
        rows_after = chain(start.found[at + 1 :], start.rest)
        load_records(con, (sheet_record(number, row, width) for number, row in rows_after), raw)
        # further sheets of customers it shows (a month each) are not read: said, never silently left
        further = [] if sheet is not None else [t for t in candidates[len(starts) :] if t.sheet_state == "visible"]
        also = [t.title for t in further if sheet_start(t, is_header).at is not None]
    finally:
        book.close()
    record_part(con, facts, 0, *records_after(con, 0, raw), raw)
    first = starts[0].title
    if sheet is not None or start.title == first:
        chosen: tuple[str, ...] = ()
    elif start.hidden:
        chosen = (f"sheet {start.title!r}, which the workbook hides, holds the customers (no sheet it shows does)",)
    else:
        chosen = (f"sheet {start.title!r} holds the customers (the first sheet, {first!r}, does not)",)
    if also:
        chosen += (
            f"{'sheets' if len(also) > 1 else 'sheet'} {', '.join(map(repr, also))} also "
            f"{'hold' if len(also) > 1 else 'holds'} the columns, and {'are' if len(also) > 1 else 'is'} not read: "
            f"only {start.title!r} is (--sheet reads another; to read them all, save each as a CSV file in one folder)",
        )
    searched = 0 if start.at is not None else len(start.found)
    formulas = uncomputed_formulas(path, start.title, header_row, names[:width])
    return Header(names[:width], "Excel workbook", header_row, at, searched, chosen + formulas)


# A cell holding a formula without a computed value (no `<v>`, or an empty one), and its column
# and row: a workbook written by a program that does not compute formulas (a script's openpyxl).
# A namespace prefix may stand before each tag (`<x:c>`, as .NET writers have it); a formula
# whose text result is empty (`t="str"`, as Excel saves `IF(...,"")`) has its value.
UNCOMPUTED_FORMULA = re.compile(
    rb"<(?:\w+:)?c\b(?![^>]*\bt=[\"']str)[^>]*?\br=[\"']([A-Z]{1,3})([0-9]+)[\"'][^>]*>"
    rb"(?:<(?:\w+:)?f\b[^>]*/>|<(?:\w+:)?f\b[^>]*>[^<]*</(?:\w+:)?f>)"
    rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?</(?:\w+:)?c>"
)


def uncomputed_formulas(path: Path, title: str, header_row: int, names: tuple[str, ...]) -> tuple[str, ...]:
    """A warning naming the columns of the sheet `title` whose cells below the header row hold
    formulas without a computed value, which read as missing; found in one pass of the
    sheet's XML, wherever they stand."""
    columns: set[int] = set()
    with zipfile.ZipFile(path) as archive:
        sizes = {i.filename: i.file_size for i in archive.infolist() if i.filename.endswith((".xml", ".rels"))}
        part = next((part for part, name in sheet_parts(archive, sizes).items() if name == title), None)
        if part is None:
            return ()
        with archive.open(part) as xml:
            carry = b""
            while chunk := xml.read(input_file.CHUNK):
                data = carry + chunk
                # a cell split between two reads waits for the next
                cut = max((i + len(tag) for tag in (b"</c>", b":c>") if (i := data.rfind(tag)) >= 0), default=0)
                for found in UNCOMPUTED_FORMULA.finditer(data, 0, cut):
                    if int(found[2]) > header_row:
                        columns.add(column_number(found[1].decode()) - 1)
                carry = data[cut:]
    named = [repr(names[i]) for i in sorted(columns) if i < len(names)]
    if not named:
        return ()
    return (
        f"sheet {title!r}: {', '.join(named)} hold{'s' if len(named) == 1 else ''} formulas without a computed "
        "value (the workbook was saved by a program that does not compute them), read as missing: open and save "
        "it in Excel or LibreOffice to read their values",
    )


def column_number(letters: str) -> int:
    """A column's number from its letters: A is 1, Z 26, AA 27."""
    return sum((ord(letter) - 64) * 26**place for place, letter in enumerate(reversed(letters)))


class SheetStart(NamedTuple):
    title: str
    found: list[tuple[int, tuple]]  # its first HEADER_SEARCH_LINES non-blank rows: (number, cells)
    names: list[tuple[str, ...]]  # their cells as text
    at: int | None  # the header's place among them; None when none names the columns a build needs
    rest: Iterator[tuple[int, tuple]]  # the non-blank rows after them, not yet read
    hidden: bool  # the workbook hides it (hidden or very hidden)


def sheet_start(rows, is_header: Callable[[tuple[str, ...]], bool]) -> SheetStart:
    """A sheet's first non-blank rows, and which of them is the header."""
    rows.reset_dimensions()  # the stored sheet size may be stale: read every row and column, as Excel does
    numbered = enumerate(rows.iter_rows(max_row=MAX_SHEET_ROWS, values_only=True), start=1)
    filled = ((number, row) for number, row in numbered if has_text(row))
    found = list(islice(filled, HEADER_SEARCH_LINES))
    names = [tuple(cell_text(value) for value in row) for _, row in found]
    at = next((i for i, row in enumerate(names) if is_header(row)), None)
    return SheetStart(rows.title, found, names, at, filled, rows.sheet_state != "visible")


def no_sheet_holds_the_header(path: Path, starts: list[SheetStart]) -> str:
    """The error for a workbook none of whose sheets holds the header: each sheet's first row."""

    def opening(start: SheetStart) -> str:
        if not start.found:
            return f"{start.title!r} is empty"
        cells = start.names[0][: last_filled(list(start.names[0]))]
        shown = ", ".join(repr(cell.strip()) for cell in cells[:8]) + (", …" if len(cells) > 8 else "")
        return f"{start.title!r} row {start.found[0][0]}: {shown}"

    return (
        f"{path}: no sheet names the columns a build needs in its first {HEADER_SEARCH_LINES} non-blank rows "
        f"(choose one with --sheet to see what it lacks); the sheets' first rows: "
        + "; ".join(opening(start) for start in starts)
    )


def check_workbook(path: Path) -> None:
    """Refuse a workbook with an XML part over MAX_WORKBOOK_PART_BYTES uncompressed (a sheet
    named by its name), or a sheet of more than MAX_SHEET_ROWS rows, from the sizes its zip
    states and one pass of the sheets' bytes. A file that is not a zip is left to openpyxl."""
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {i.filename: i.file_size for i in archive.infolist() if i.filename.endswith((".xml", ".rels"))}
            try:
                sheets = sheet_parts(archive, sizes)
            except (KeyError, ValueError, ElementTree.ParseError):  # named by part: openpyxl says what is wrong
                sheets = {}
            for part, size in sizes.items():
                if size > MAX_WORKBOOK_PART_BYTES:
                    what = f"the sheet {sheets[part]!r}" if part in sheets else f"the workbook's part {part}"
                    raise InputError(
                        f"{path}: {what} is {size / 1e6:,.1f} MB uncompressed; "
                        f"at most {MAX_WORKBOOK_PART_BYTES / 1e6:,.1f} MB are read: save it as CSV"
                    )
            for part, name in sheets.items():
                if (found := sheet_rows(archive, part)) > MAX_SHEET_ROWS:
                    raise InputError(
                        f"{path}: the sheet {name!r} has {found:,} rows; at most {MAX_SHEET_ROWS:,} are read: "
                        "save it as CSV"
                    )
    except (zipfile.BadZipFile, OSError):
        return


def sheet_parts(archive: zipfile.ZipFile, sizes: dict[str, int]) -> dict[str, str]:
    """Each worksheet's part in the zip and its sheet's name, from the workbook's
    relationships (a chart sheet has none)."""

    def read(part: str) -> ElementTree.Element:
        if sizes.get(part, 0) > MAX_WORKBOOK_PART_BYTES:
            raise ValueError(part)
        return ElementTree.fromstring(archive.read(part))

    def relations(part: str) -> dict[str | None, tuple[str, str]]:
        """A part's relationships: id -> (type, the part it names)."""
        folder = posixpath.dirname(part)
        found = {}
        for item in read(posixpath.join(folder, "_rels", posixpath.basename(part) + ".rels")):
            target = item.get("Target", "")
            named = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found[item.get("Id")] = (item.get("Type", ""), named)
        return found

    book = next((part for kind, part in relations("").values() if kind.endswith("/officeDocument")), "")
    parts = relations(book)
    sheets = {}
    for item in read(book).iter():
        if item.tag.rsplit("}", 1)[-1] == "sheet":
            key = next((value for name, value in item.attrib.items() if name.endswith("}id")), None)
            kind, part = parts.get(key, ("", ""))
            if kind.endswith("/worksheet"):
                sheets[part] = item.get("name", "")
    return sheets


def sheet_rows(archive: zipfile.ZipFile, part: str) -> int:
    """About how many rows a sheet's XML holds: its `<row>` tags (a tag split between two reads
    goes uncounted), or half its `:row` names where a prefix names the namespace."""
    rows = 0
    with archive.open(part) as xml:
        while chunk := xml.read(input_file.CHUNK):
            rows += chunk.count(b"<row") - chunk.count(b"<rowBreaks")
            rows += (chunk.count(b":row") - chunk.count(b":rowBreaks")) // 2
    return rows


def has_text(row: tuple) -> bool:
    """Whether a sheet's row holds a cell that is not blank: its first cells mostly say; past
    them, empty cells (None) are counted at C speed, as a row may be as wide as the sheet."""
    first, rest = row[:64], row[64:]
    return any(cell_text(value).strip() for value in first if value is not None) or (
        rest.count(None) < len(rest) and any(cell_text(value).strip() for value in rest if value is not None)
    )


def sheet_record(number: int, row: tuple, width: int) -> tuple[int, str, list[str], str | None]:
    """A sheet's row as a record of `width` fields (a sheet does not store the empty cells at a
    row's end). A cell that is not blank past the header's last column makes it ragged, said
    here: its fields stop at `width`, and its text shows that cell after '…'."""
    fields = [cell_text(value) for value in row[:width]]
    fields += [""] * (width - len(fields))
    beyond = row[width:]
    last = 0
    if beyond and (beyond[-1] is not None or beyond.count(None) < len(beyond)):  # from the right: a far cell at once
        last = next((i for i in range(len(beyond), 0, -1) if cell_text(beyond[i - 1]).strip()), 0)
    if not last:
        return number, ",".join(fields[: len(row)]), fields, None
    shown = [*fields, *(["…"] if last > 1 else []), cell_text(beyond[last - 1])]
    return number, ",".join(shown), fields, f"has {width + last} fields where the header has {width}"


def cell_text(value: object) -> str:
    """A cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float) and math.isfinite(value):
        # its shortest digits, never in e-notation as str() writes them ('1e-05' is 0.00001): a
        # CSV export of the cell holds the number, not a text no reader takes for one
        return format(Decimal(repr(value)), "f")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
