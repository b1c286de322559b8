"""The input file's bytes: what they are, and a copy DuckDB can read when they need one.

Its extension names its format (`input_kind`): CSV, JSON, Parquet or Excel.

One pass over the bytes gives the SHA-256 and what the text is like (encoding, line ends,
bytes DuckDB's reader refuses, lines too long to read). A UTF-8 file with one kind of line end,
the usual export, is read by DuckDB as it is; any other (UTF-16, Windows-1252, mixed line ends,
a bad byte, a line over MAX_LINE_BYTES) is rewritten once as UTF-8 with LF line ends, line for
line, and each line that held an undecodable byte or was too long is named so staging rejects
that row alone. A line ends where the file's lines end: in a file of LF or CRLF lines a lone CR
is text (a note's carriage return), as an LF is in a file of CR lines. DuckDB always reads
through a link or copy in the build's folder: it never sees the user's path, which it would
glob or expand (`[`, `*`, `?`, `~`). The file's identity is taken before and checked after loading:
a file that changed meanwhile stops the build.

A gzip- or zstd-compressed file, known by its first bytes whatever its name, is read as the text
it holds: the byte pass and the header read it through a decompressing stream, and DuckDB
reads it with its own decompression (`compression`), so it is checked and numbered as a plain
file is; its SHA-256 and identity are those of the compressed bytes, the file as given.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import re
import sys
import threading
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, NamedTuple, Protocol, TextIO

from ..errors import InputError, not_there

CHUNK = 1 << 23
# A line longer than this (in UTF-8, without its line end) rejects its row: it is read no
# further, so no line is held whole in memory. DuckDB's reader takes lines up to 2 MB.
MAX_LINE_BYTES = 1 << 20
# The start of a line too long to read, kept to show which row it was
SHOWN_CHARS = 100
# Bytes DuckDB's line reader cannot hold in a line: NUL, and the record separator it splits on.
FORBIDDEN = (b"\x00", b"\x1e")
# Undecodable bytes arrive as lone surrogates (surrogateescape); so do lone UTF-16 surrogates.
UNDECODABLE = re.compile("[\ud800-\udfff]")
# Control characters no text holds (tab, line ends, vertical tab and form feed are text): at
# 1 in 10 characters of the start the file is binary; fewer are stray bytes rejecting their rows.
CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# A line end, or a quoted field as RFC 4180 writes it, passed over whole: its quote opens the
# field (a quote within a field is text: 'Monitors 27" campaign'); it may hold line ends ("" is
# a quote within it)
LINE_END_OR_QUOTED = re.compile(rb'(?:^|(?<=[,;\t|\r\n]))"(?:[^"]|"")*"|[\r\n]')
# Files passed by mistake, by their first bytes (Parquet's with the first byte of the Thrift
# header after them: a text header may start `PAR1`).
NOT_TEXT = {
    b"PK\x03\x04": "it is a zip archive, such as an Excel workbook; a workbook needs the .xlsx extension",
    b"\xd0\xcf\x11\xe0": "it is an Excel 97-2003 .xls workbook; save it as .xlsx or CSV",
    b"PAR1\x15": "it is a Parquet file; it needs the .parquet extension",
}

# An HTML page's start, after a byte order mark and blank space
WEB_PAGE = re.compile(rb"(?:\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE)

# Compressions DuckDB reads (its names for them), by their first bytes
COMPRESSIONS = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
# Endings that say a file is compressed: what comes before them names its format (`.csv.gz`)
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class FileFacts:
    path: Path  # as the user gave it
    sha256: str
    identity: tuple[int, int, int]  # inode, size, modification time: checked after the load
    encoding: str  # a Python codec name
    line_end: str | None  # '\n', '\r\n' or '\r'; None when they are mixed
    needs_rewrite: bool  # DuckDB cannot read the bytes as they are
    newline: str = "\n"  # where lines end: '\n' (a CR before it is part of the line end) or '\r'
    breaks_in_lines: bool = False  # a CR (LF in a CR file) within a line: DuckDB would end the line there
    compression: str = "none"  # 'none', 'gzip' or 'zstd', as DuckDB's readers name them

    @property
    def described(self) -> str:
        ends = {"\n": "LF", "\r\n": "CRLF", "\r": "CR", None: "mixed"}[self.line_end]
        packed = f"{self.compression}-compressed, " if self.compression != "none" else ""
        return f"{packed}{self.encoding}, {ends} line ends"


def plain_stem(path: Path) -> str:
    """The file's name without its format's extension, and a compression's before it:
    `customers` of `customers.csv` and of `customers.csv.gz`."""
    compressed = Path(path.name).suffix.lower() in COMPRESSED_SUFFIXES
    return Path(path.stem).stem if compressed else path.stem


def input_kind(path: Path) -> str:
    """'csv', 'json', 'parquet' or 'excel', by the file's extension (before `.gz` or `.zst`)."""
    suffix = format_suffix(path)
    if suffix in JSON_SUFFIXES:
        return "json"
    return "parquet" if suffix == ".parquet" else "excel" if suffix in (".xlsx", ".xlsm") else "csv"


def format_suffix(path: Path) -> str:
    """The extension naming the file's format: `.csv` of `customers.csv.gz`."""
    name = path.name.lower()
    if (suffix := Path(name).suffix) in COMPRESSED_SUFFIXES:
        name = name.removesuffix(suffix)
    return Path(name).suffix


def identity(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def open_checked(path: Path):
    if not path.exists():
        raise InputError(not_there(path))
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        return path.open("rb", buffering=0)
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class FileDigest:
    """A file's SHA-256, computed on a thread of its own while the caller reads the file too:
    hashlib lets other threads run as it hashes (at 10M customers the hash was half of the
    inspection's second). Leaving the block stops it; `hexdigest` waits for it."""

    def __init__(self, path: Path) -> None:
        self.path, self.digest, self.stopped = path, hashlib.sha256(), threading.Event()
        self.error: OSError | None = None
        self.thread = threading.Thread(target=self.run, name="sha256", daemon=True)

    def __enter__(self) -> FileDigest:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def run(self) -> None:
        try:
            with self.path.open("rb") as f:
                while not self.stopped.is_set() and (chunk := f.read(CHUNK)):
                    self.digest.update(chunk)
        except OSError as e:
            self.error = e

    def hexdigest(self) -> str:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.digest.hexdigest()


def zstd_module(path: Path) -> ModuleType:
    """Python's zstd reader: the standard library's from Python 3.14, else its backport."""
    try:
        if sys.version_info >= (3, 14):
            from compression import zstd
        else:
            from backports import zstd
    except ImportError:
        raise InputError(f"{path}: it is zstd-compressed, and reading it needs the backports.zstd package") from None
    return zstd


def decompressed(file: Path | BinaryIO, compression: str, path: Path) -> io.BufferedReader | gzip.GzipFile:
    """The bytes of `file` (a path, or a file object of compressed bytes), decompressed."""
    if compression == "gzip":
        return gzip.GzipFile(file, "rb") if isinstance(file, Path) else gzip.GzipFile(fileobj=file, mode="rb")
    if compression == "zstd":
        return zstd_module(path).open(file, "rb")
    assert isinstance(file, Path), "only a compressed stream is read through"
    return file.open("rb")


def chunks(source: Readable, compression: str, path: Path) -> Iterator[bytes]:
    """The bytes of `source` in CHUNKs; a compressed stream that is broken stops the build."""
    errors: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)
    if compression == "zstd":
        errors += (zstd_module(path).ZstdError,)
    while True:
        try:
            chunk = source.read(CHUNK)
        except errors as e:
            if compression == "none":
                raise
            raise InputError(f"{path}: cannot be read as {compression}-compressed ({e})") from None
        if not chunk:
            return
        yield chunk


def inspect(path: Path, text: bool = True, encoding: str | None = None) -> FileFacts:
    """Hash the file (on a thread, `FileDigest`) and, for a text file, find its encoding, line
    ends and whether a line is too long to read, in one pass (over the text a compressed file
    holds)."""
    with open_checked(path) as f, FileDigest(path) as digest:
        before = identity(os.fstat(f.fileno()))
        start = f.read(4)
        f.seek(0)
        compression = next((name for magic, name in COMPRESSIONS.items() if start.startswith(magic)), "none")
        decoder = codecs.getincrementaldecoder("utf-8")()
        source = decompressed(f, compression, path) if text and compression != "none" else f
        head, utf8, forbidden, previous = b"", True, False, b""
        crlf = cr = lf = 0
        first_end = b""  # how the first line ends: b"\r" alone, or b"\n" (after a CR or not)
        # the bytes since the last LF and the last CR, and whether a line ran over the limit
        lf_run = cr_run = 0
        lf_long = cr_long = False
        for chunk in chunks(source, compression, path) if text else ():
            if not head:  # a file passed by mistake is named before the rest of it is read
                head = chunk[:4096]
                refuse_known_binary(path, head)
            lf += chunk.count(b"\n")
            if b"\r" in chunk or previous == b"\r":  # most files have no CR: skip its counts
                crlf += chunk.count(b"\r\n") + (previous == b"\r" and chunk[:1] == b"\n")
                cr += chunk.count(b"\r")
            if not first_end:
                first_end = line_end_of(chunk)
            if not lf_long:
                lf_long, lf_run = runs_over(chunk, b"\n", lf_run, MAX_LINE_BYTES)
            if not cr_long:
                cr_long, cr_run = runs_over(chunk, b"\r", cr_run, MAX_LINE_BYTES)
            forbidden = forbidden or any(byte in chunk for byte in FORBIDDEN)
            if utf8 and not chunk.isascii():
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            previous = chunk[-1:]
        sha256 = digest.hexdigest()  # of the bytes on disk, a compressed stream's and any after its end
    if identity(os.stat(path)) != before:
        raise changed(path)
    if not text:
        return FileFacts(path, sha256, before, "binary", None, False, compression=compression)
    chosen = encoding or detect_encoding(path, head, utf8, compression)
    if chosen.startswith("utf-16"):  # the byte counts above see two-byte units: count in the text
        text_head = head[: len(head) // 2 * 2].decode(chosen, errors="replace").rstrip("\r")
        cr, crlf, lf = text_head.count("\r"), text_head.count("\r\n"), text_head.count("\n")
        first_end = line_end_of(text_head.encode())
    else:
        text_head = head.decode("latin-1")
    if len(CONTROL.findall(text_head)) * 10 >= len(text_head) > 0:
        detected = detect_encoding(path, head, utf8, compression)
        if encoding and detected.startswith("utf-16") and not chosen.startswith("utf-16"):
            raise InputError(
                f"{path}: read as {encoding} (--encoding), it is control bytes such as NUL: its bytes are UTF-16 "
                "text; leave --encoding out (or --encoding utf-16)"
            )
        raise InputError(f"{path}: not a text file (it is full of control bytes such as NUL)")
    # A file with LFs and lone CRs has the line ends its first line has: mostly LF or CRLF, and
    # a lone CR is text, as in a note holding one; in an old Mac export, CR, and an LF is text
    # (Excel saves a cell's line breaks as LF).
    lone = cr - crlf
    line_end: str | None
    if lone and (lf == 0 or first_end == b"\r"):
        newline, line_end, breaks, long_lines = "\r", "\r", lf > 0, cr_long
    else:
        line_end = "\n" if crlf == 0 else "\r\n" if crlf == lf else None
        newline, breaks, long_lines = "\n", lone > 0, lf_long
    rewrite = chosen not in ("utf-8", "utf-8-sig") or not utf8 or line_end is None or forbidden or long_lines
    return FileFacts(path, sha256, before, chosen, line_end, rewrite, newline, breaks, compression)


def line_end_of(chunk: bytes) -> bytes:
    """b"\r" when the first line end in `chunk` outside quoted fields (a header's cell may hold
    a line end of another kind) is a lone CR, b"\n" when it is an LF or CRLF, b"" when it has none.
    Read up to that line end only: a chunk is megabytes."""
    for found in LINE_END_OR_QUOTED.finditer(chunk):
        if found[0] == b"\n":
            return b"\n"
        if found[0] == b"\r":
            return b"\n" if chunk[found.end() : found.end() + 1] == b"\n" else b"\r"
    return b""


def runs_over(chunk: bytes, end: bytes, run: int, limit: int) -> tuple[bool, int]:
    """Whether a line of `chunk` runs over `limit` bytes without an `end` byte (its first line
    going on from `run` bytes in the chunks before), and the bytes after its last `end`. A line
    over `limit` holds a whole window of half of it: only a window without `end` is measured,
    so a chunk costs a few searches whatever its lines."""
    first = chunk.find(end)
    if first < 0:
        return run + len(chunk) > limit, run + len(chunk)
    if run + first > limit:
        return True, 0
    last, step = chunk.rfind(end), max(1, limit // 2)
    start = first + 1
    while start + step <= last:
        if chunk.find(end, start, start + step) >= 0:
            start += step
            continue
        begin, stop = chunk.rfind(end, 0, start) + 1, chunk.find(end, start + step)
        if stop - begin > limit:
            return True, 0
        start = stop + 1
    return len(chunk) - last - 1 > limit, len(chunk) - last - 1


def refuse_known_binary(path: Path, head: bytes) -> None:
    """Say what a file passed by mistake is (NOT_TEXT, or a web page), from its first bytes."""
    for magic, what in NOT_TEXT.items():
        if head.startswith(magic):
            raise InputError(f"{path}: not a text file: {what}")
    if WEB_PAGE.match(head):
        raise InputError(
            f"{path}: a web page (HTML), not a table of text: a report saved from a browser or an export "
            "that failed; export the data as CSV"
        )


def detect_encoding(path: Path, head: bytes, valid_utf8: bool, compression: str = "none") -> str:
    """UTF-8 unless the bytes say otherwise: a UTF-16 byte order mark (or the zero bytes of
    UTF-16 without one), or non-ASCII lines that are mostly not UTF-8, as Windows-1252 writes
    them. A UTF-8 file with a few bad bytes stays UTF-8: those lines are rejected."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if len(head) >= 4 and head.count(b"\x00") * 3 > len(head):  # UTF-16 without a mark
        return "utf-16-le" if head[1::2].count(b"\x00") > head[0::2].count(b"\x00") else "utf-16-be"
    if valid_utf8:
        return "utf-8"
    good = bad = 0
    with decompressed(path, compression, path) as f:
        for line in f:
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
                good += 1
            except UnicodeDecodeError:
                bad += 1
            if good + bad >= 1000:
                break
    return "utf-8" if good > bad else "cp1252"


def changed(path: Path) -> InputError:
    return InputError(f"{path}: the file changed while it was read; run again once it is complete")


def check_unchanged(facts: FileFacts) -> None:
    """Raise if the file is not the one inspected (appended to, rewritten or replaced)."""
    try:
        now = identity(os.stat(facts.path))
    except OSError:
        raise changed(facts.path) from None
    if now != facts.identity:
        raise changed(facts.path)


def readable_copy(facts: FileFacts, target: Path) -> list[tuple[int, str]]:
    """Make `target` a file DuckDB reads as this input: a link to it (read with
    `copy_compression`), or a UTF-8 copy with LF line ends. Returns (line number, problem) for
    each line whose bytes could not be decoded."""
    target.unlink(missing_ok=True)
    if not facts.needs_rewrite:
        try:
            target.symlink_to(facts.path.resolve())
            return []
        except OSError:  # no symbolic links here (Windows without the privilege): a copy
            pass
    return rewrite(facts, target)


def copy_compression(facts: FileFacts, target: Path) -> str:
    """How DuckDB decompresses `target`, made by `readable_copy`: a link as the file is, a copy not."""
    return facts.compression if target.is_symlink() else "none"


def rewrite(facts: FileFacts, target: Path) -> list[tuple[int, str]]:
    problems = []
    with target.open("w", encoding="utf-8", newline="") as out:
        for number, line in enumerate(read_lines(facts), start=1):
            if line.problem:
                problems.append((number, line.problem))
            out.write(line.text + "\n")
    return problems


class Line(NamedTuple):
    text: str  # without its line end; for a line too long to read, its start and '…'
    end: str  # its own line end ('\n', '\r\n' or '\r'), '' for a last line without one
    problem: str | None = None  # why its row cannot be read: undecodable bytes, a NUL, its length
    too_long: bool = False


def read_lines(facts: FileFacts, limit: int = MAX_LINE_BYTES) -> Generator[Line]:
    """Each line of a text file, decoded, split where its lines end (`facts.newline`), with
    its own line end and what makes its row unreadable. A line longer than `limit` bytes of
    UTF-8 is read no further than that and stands as its start: the rest is counted in
    pieces, never held."""
    errors = "surrogatepass" if facts.encoding.startswith("utf-16") else "surrogateescape"
    newline, checked = facts.newline, facts.needs_rewrite  # only such a file has unreadable lines
    most, short = limit + 2, limit // 4  # a line of `limit` characters and its CRLF; 4 bytes a character at most
    make = tuple.__new__  # a Line without its constructor's cost: this runs for every line
    try:
        with (
            decompressed(facts.path, facts.compression, facts.path) as stream,
            io.TextIOWrapper(stream, encoding=facts.encoding, errors=errors, newline=newline) as source,
        ):
            readline = source.readline
            while line := readline(most):
                if line[-1] == newline:
                    text, end = (line[:-2], "\r\n") if line[-2:-1] == "\r" and newline == "\n" else (line[:-1], newline)
                    whole = True
                else:
                    text, end, whole = line, "", len(line) < most
                if whole and (len(text) <= short or utf8_size(text) <= limit):
                    # an undecodable byte is a non-ASCII character: most lines need no search
                    suspect = checked and (not text.isascii() or "\x00" in text or "\x1e" in text)
                    problem = suspect and line_problem(text, facts.encoding)
                    yield make(Line, (clean(text), end, problem, False) if problem else (text, end, None, False))
                    continue
                size = utf8_size(text)
                if not whole:
                    more, end = skip_line(source, newline, text[-1:])
                    size += more
                shown = clean(text[:SHOWN_CHARS]).replace('"', "") + "…"  # no quoted field opens in it
                yield Line(shown, end, f"the line is {size:,} bytes long; at most {limit:,} are read", True)
    except (UnicodeError, LookupError) as e:  # bytes the encoding cannot decode even so, or a codec not for files
        reason = e.reason if isinstance(e, UnicodeDecodeError) else e  # its position is in a block, not the file
        raise InputError(f"{facts.path}: cannot be read as {facts.encoding} ({reason})") from None


def split_end(line: str, newline: str) -> tuple[str, str]:
    if newline == "\n" and line.endswith("\n"):
        return (line[:-2], "\r\n") if line.endswith("\r\n") else (line[:-1], "\n")
    if newline == "\r" and line.endswith("\r"):
        return line[:-1], "\r"
    return line, ""


def skip_line(source: TextIO, newline: str, last: str) -> tuple[int, str]:
    """Read the rest of a line in pieces: its size in UTF-8 bytes and its line end. `last`:
    the character read before it (a CR and an LF read apart are one CRLF)."""
    size = 0
    while piece := source.readline(CHUNK):
        text, end = split_end(piece, newline)
        if end == "\n" and not text and last == "\r":
            return size - 1, "\r\n"
        size += utf8_size(text)
        if end:
            return size, end
        last = text[-1:]
    return size, ""


def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def clean(text: str) -> str:
    """The text with what DuckDB cannot hold (undecodable bytes, NUL, record separators) as U+FFFD."""
    return UNDECODABLE.sub("\ufffd", text).replace("\x00", "\ufffd").replace("\x1e", "\ufffd")


def line_problem(line: str, encoding: str) -> str | None:
    bad = UNDECODABLE.search(line)
    if bad:
        code = ord(bad.group())
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"code unit 0x{code:04x}"
        return f"not {encoding} text ({what} at column {bad.start() + 1})"
    for byte, name in ((b"\x00", "a NUL byte"), (b"\x1e", "a record separator byte")):
        if byte.decode() in line:
            return f"holds {name} at column {line.index(byte.decode()) + 1}"
    return None
