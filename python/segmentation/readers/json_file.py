"""A JSON file into the raw tables: JSON Lines are read as a CSV file's lines are, a JSON array
(or objects written over several lines) by DuckDB's JSON reader, one record per object; a view
parses each with DuckDB's JSON functions: the keys of all records are the columns, and a record
that is not an object is rejected alone."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import duckdb

from ..db import first_row, setting
from ..duckdb_errors import raise_if_interrupt
from ..errors import InputError
from . import input_file
from .input_file import format_suffix
from .lines import PART_FACTS, create_raw_lines, part_lines, python_part_lines, read_part_lines
from .raw import CUSTOMER_RAW, Header, RawNames, record_part

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")

# A JSON document's records as a part's lines: an array's elements, or the objects written one
# after another over several lines ($format 'array' or 'unstructured'); record N is row N.
JSON_PART_TABLE = """
create temp table {table} as
select json::varchar as raw_line
from read_json_objects($path, format = $format, compression = $compression)
"""

# The keys of the JSON records, each where it first appears (record, then place in it)
JSON_KEYS = """
select key
from (
    select line_number, unnest(keys) as key, unnest(range(len(keys))) as position
    from (
        select line_number, json_keys(raw_line) as keys
        from {lines}
        where case when json_valid(raw_line) then json_type(raw_line) = 'OBJECT' else false end
    )
)
group by key
order by min(line_number), arg_min(position, line_number)
"""

# Each JSON record's value of every key (JSON pointers in a session variable, as the view takes
# no parameters) as the text a CSV would hold: a string unquoted, a whole number without '.0'
# (as Parquet's are), nested objects and arrays as JSON text; null or missing as empty. A line
# that is not JSON, or a value other than an object, is rejected by its line_problem.
JSON_RECORDS = """
create temp view {records} as
select
    line_number,
    raw_line,
    if(
        kind = 'OBJECT',
        list_transform(
            json_extract(raw_line, getvariable('{pointers}')),
            lambda v: coalesce(case json_type(v)
                when 'VARCHAR' then v ->> '$'
                when 'NULL' then ''
                when 'DOUBLE' then if(
                    trunc(v::double) = v::double and abs(v::double) < 1e15, v::double::bigint::varchar, v::varchar
                )
                else v::varchar
            end, '')
        ),
        []
    ) as fields,
    coalesce(problem, case
        when kind is null then format('{unit} {{}} is not valid JSON', line_number)
        when kind <> 'OBJECT' then format(
            '{unit} {{}} is {{}}, not a JSON object',
            line_number,
            case kind
                when 'ARRAY' then 'an array' when 'VARCHAR' then 'a string' when 'BOOLEAN' then 'true or false'
                when 'NULL' then 'null' else 'a number'
            end
        )
    end) as line_problem
from (
    select
        raw_lines.line_number,
        raw_lines.raw_line,
        {problem} as problem,
        case when json_valid(raw_lines.raw_line) then json_type(raw_lines.raw_line) end as kind
    from {lines} as raw_lines
    {join}
)
"""


def load_json(
    con: duckdb.DuckDBPyConnection, parts: tuple[input_file.FileFacts, ...], work: Path, raw: RawNames = CUSTOMER_RAW
) -> Header:
    """`raw_lines`, every part's records numbered on from the previous part's (JSON Lines by
    their lines, a document's by their place in it), then `raw_records` of their values, the
    columns being the keys of all records (JSON_KEYS, JSON_RECORDS)."""
    part_lines: list[str] = []
    copies: list[tuple[int, dict[int, str]]] = []
    offset = 0
    formats = [json_format(facts) for facts in parts]
    for number, (facts, layout) in enumerate(zip(parts, formats)):
        problems: dict[int, str] = {}
        if layout != "newline_delimited":
            lines = read_json_document(con, facts, number, offset, work, layout, raw)
            found = first_row(con, PART_FACTS.format(lines=lines))
        elif facts.breaks_in_lines:
            lines, problems, found = python_part_lines(con, facts, number, offset, raw)
        else:
            lines, problems, found = read_part_lines(con, facts, number, offset, 0, work, "JSON Lines", raw)
        part_lines.append(lines)
        copies.append((offset, problems))
        offset = record_part(con, facts, offset, found[0], found[1], raw)
    problem, join = create_raw_lines(con, part_lines, copies, raw)
    unit = "line" if set(formats) == {"newline_delimited"} else "record"
    names = tuple(key for (key,) in con.execute(JSON_KEYS.format(lines=raw.lines)).fetchall())
    if not names:
        path = parts[0].path if len(parts) == 1 else parts[0].path.parent
        records = first_row(con, f"select sum(records) from {raw.parts}")[0]
        if not records:
            raise InputError(f"{path}: the file is empty" if len(parts) == 1 else f"{path}: its files are empty")
        raise InputError(f"{path}: none of its {records:,} {unit}s is a JSON object (a customer's keys and values)")
    pointers = ["/" + key.replace("~", "~0").replace("/", "~1") for key in names]  # JSON Pointer (RFC 6901)
    variable = raw.variable("json_pointers")
    con.execute(f"set variable {variable} = $value", {"value": pointers})
    con.execute(
        JSON_RECORDS.format(
            problem=problem,
            join=join,
            unit=unit,
            records=raw.records,
            lines=raw.lines,
            pointers=variable,
        )
    )
    kind = {"newline_delimited": "JSON Lines", "array": "JSON array", "unstructured": "JSON"}[formats[0]]
    return Header(names, f"{kind} ({parts[0].described})", line=None)


def json_format(facts: input_file.FileFacts) -> str:
    """How a JSON file holds its records, as DuckDB's `format` names it: 'newline_delimited'
    (JSON Lines: a `.jsonl` or `.ndjson` file, or a `.json` file whose first line is a whole
    JSON value), 'array' (a `.json` file opening with '['), else 'unstructured' (objects
    written over several lines, one after another)."""
    if format_suffix(facts.path) in JSON_LINES_SUFFIXES:
        return "newline_delimited"
    with closing(input_file.read_lines(facts)) as lines:
        first = next((line.text.removeprefix("\ufeff").strip() for line in lines if line.text.strip()), "")
    if first.startswith("["):
        return "array"
    try:
        json.loads(first)  # a line too long to read ends in '…': not a whole value
    except ValueError:
        return "unstructured" if first else "newline_delimited"
    return "newline_delimited"


def read_json_document(
    con: duckdb.DuckDBPyConnection,
    facts: input_file.FileFacts,
    number: int,
    offset: int,
    work: Path,
    layout: str,
    raw: RawNames = CUSTOMER_RAW,
) -> str:
    """Read a JSON document's records ($layout 'array' or 'unstructured') into the table
    `raw_part_<number>_lines` with DuckDB's JSON reader; returns the select of them, numbered on
    from `offset`. A document is one value: a syntax error stops the build, naming where it is.
    DuckDB reads UTF-8: a file in another encoding is read from a UTF-8 copy."""
    link = work / f"part-{number:05d}.json"
    input_file.readable_copy(replace(facts, needs_rewrite=facts.encoding not in ("utf-8", "utf-8-sig")), link)
    table = raw.part(number)
    try:
        with setting(con, "preserve_insertion_order", True):  # record N is row N
            con.execute(
                JSON_PART_TABLE.format(table=table),
                {"path": str(link), "format": layout, "compression": input_file.copy_compression(facts, link)},
            )
    except duckdb.Error as e:
        raise_if_interrupt(e)
        message = str(e).splitlines()[0].replace(str(link), facts.path.name).strip()
        raise InputError(f"{facts.path}: cannot be read as JSON ({message})") from None
    return part_lines(table, offset)
