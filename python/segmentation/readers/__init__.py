"""The input readers: each module turns one kind of file into the raw tables of one input.

Every record is kept as text with its line number (a Parquet or Excel row number, a JSON
array's record number), so staging can type and validate each row and keep the rejected ones
with a reason. Every reader makes one shape, `<prefix>_records` (line_number, raw_line, fields,
line_problem), and notes in `<prefix>_parts` which line numbers each part file holds:
`csv_file`, `json_file`, `parquet` and `excel`, one module a format; `folder` lists the part
files of a folder, read one after another.

Shared by them: `input_file` (a file's bytes: its format by extension, encoding, line ends,
compression, and a copy DuckDB can read), `lines` (a text file's lines as a table: CSV and
JSON Lines) and `raw` (the names of an input's tables, the customer file's or the orders',
and what every reader writes to them). The path and values travel as query parameters or
files in the build's folder, never pasted into SQL; column names are quoted identifiers.
"""
