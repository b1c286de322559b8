"""The input file's bytes: what they are, and a copy DuckDB can read when they need one.

One pass over the bytes gives the SHA-256 and what the text is like (encoding, line ends,
bytes DuckDB's reader refuses). A UTF-8 file with one kind of line end, the usual export, is
read by DuckDB as it is; any other (UTF-16, Windows-1252, mixed line ends, a bad byte) is
rewritten once as UTF-8 with LF line ends, line for line, and each line that held an
undecodable byte is named so staging rejects that row alone. DuckDB always reads through a
link or copy in the build's folder: it never sees the user's path, which it would glob or
expand (`[`, `*`, `?`, `~`). The file's identity is taken before and checked after loading:
a file that changed meanwhile stops the build.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

CHUNK = 1 << 23
# Bytes DuckDB's line reader cannot hold in a line: NUL, and the record separator it splits on.
FORBIDDEN = (b"\x00", b"\x1e")
# Undecodable bytes arrive as lone surrogates (surrogateescape); so do lone UTF-16 surrogates.
UNDECODABLE = re.compile("[\ud800-\udfff]")
# Control characters no text holds (tab, line ends, vertical tab and form feed are text): at
# 1 in 10 characters of the start the file is binary; fewer are stray bytes rejecting their rows.
CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# Files passed by mistake, by their first bytes (Parquet's with the first byte of the Thrift
# header after them: a text header may start `PAR1`).
NOT_TEXT = {
    b"\x1f\x8b": "it is gzip-compressed; decompress it first",
    b"PK\x03\x04": "it is a zip archive, such as an Excel workbook; a workbook needs the .xlsx extension",
    b"\xd0\xcf\x11\xe0": "it is an Excel 97-2003 .xls workbook; save it as .xlsx or CSV",
    b"PAR1\x15": "it is a Parquet file; it needs the .parquet extension",
}


@dataclass(frozen=True)
class FileFacts:
    path: Path  # as the user gave it
    sha256: str
    identity: tuple[int, int, int]  # inode, size, modification time: checked after the load
    encoding: str  # a Python codec name
    line_end: str | None  # '\n', '\r\n' or '\r'; None when they are mixed
    needs_rewrite: bool  # DuckDB cannot read the bytes as they are

    @property
    def described(self) -> str:
        ends = {"\n": "LF", "\r\n": "CRLF", "\r": "CR", None: "mixed"}[self.line_end]
        return f"{self.encoding}, {ends} line ends"


def identity(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def open_checked(path: Path):
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        return path.open("rb", buffering=0)
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None


def inspect(path: Path, text: bool = True, encoding: str | None = None) -> FileFacts:
    """Hash the file and, for a text file, find its encoding and line ends, in one pass."""
    with open_checked(path) as f:
        before = identity(os.fstat(f.fileno()))
        digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
        head, utf8, forbidden, previous = b"", True, False, b""
        crlf = cr = lf = 0
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            if not text:
                continue
            if not head:  # a file passed by mistake is named before the rest of it is read
                head = chunk[:4096]
                refuse_known_binary(path, head)
            lf += chunk.count(b"\n")
            if b"\r" in chunk or previous == b"\r":  # most files have no CR: skip its counts
                crlf += chunk.count(b"\r\n") + (previous == b"\r" and chunk[:1] == b"\n")
                cr += chunk.count(b"\r")
            forbidden = forbidden or any(byte in chunk for byte in FORBIDDEN)
            if utf8 and not chunk.isascii():
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            previous = chunk[-1:]
    if identity(os.stat(path)) != before:
        raise changed(path)
    if not text:
        return FileFacts(path, digest.hexdigest(), before, "binary", None, False)
    chosen = encoding or detect_encoding(path, head, utf8)
    if chosen.startswith("utf-16"):  # the byte counts above see two-byte units: count in the text
        text_head = head[: len(head) // 2 * 2].decode(chosen, errors="replace").rstrip("\r")
        cr, crlf, lf = text_head.count("\r"), text_head.count("\r\n"), text_head.count("\n")
    else:
        text_head = head.decode("latin-1")
    if len(CONTROL.findall(text_head)) * 10 >= len(text_head) > 0:
        raise InputError(f"{path}: not a text file (it is full of control bytes such as NUL)")
    line_end = "\n" if cr == 0 else "\r\n" if cr == crlf == lf else "\r" if lf == 0 else None
    rewrite = chosen not in ("utf-8", "utf-8-sig") or not utf8 or line_end is None or forbidden
    return FileFacts(path, digest.hexdigest(), before, chosen, line_end, rewrite)


def refuse_known_binary(path: Path, head: bytes) -> None:
    """Say what a file passed by mistake is (NOT_TEXT), from its first bytes."""
    for magic, what in NOT_TEXT.items():
        if head.startswith(magic):
            raise InputError(f"{path}: not a text file: {what}")


def detect_encoding(path: Path, head: bytes, valid_utf8: bool) -> str:
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
    with path.open("rb") as f:
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
    """Make `target` a file DuckDB reads as this input: a link to it, or a UTF-8 copy with LF
    line ends. Returns (line number, problem) for each line whose bytes could not be decoded."""
    target.unlink(missing_ok=True)
    if not facts.needs_rewrite:
        try:
            target.symlink_to(facts.path.resolve())
            return []
        except OSError:  # no symbolic links here (Windows without the privilege): a copy
            pass
    return rewrite(facts, target)


def rewrite(facts: FileFacts, target: Path) -> list[tuple[int, str]]:
    problems = []
    errors = "surrogatepass" if facts.encoding.startswith("utf-16") else "surrogateescape"
    try:
        with (
            facts.path.open(encoding=facts.encoding, errors=errors, newline="") as source,
            target.open("w", encoding="utf-8", newline="\n") as out,
        ):
            for number, line in enumerate(source, start=1):
                line = line.rstrip("\r\n")
                problem = line_problem(line, facts.encoding)
                if problem:
                    problems.append((number, problem))
                    line = UNDECODABLE.sub("\ufffd", line).replace("\x00", "\ufffd").replace("\x1e", "\ufffd")
                out.write(line + "\n")
    except (UnicodeError, LookupError) as e:  # bytes the encoding cannot decode even so, or a codec not for files
        reason = e.reason if isinstance(e, UnicodeDecodeError) else e  # its position is in a block, not the file
        raise InputError(f"{facts.path}: cannot be read as {facts.encoding} ({reason})") from None
    return problems


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
