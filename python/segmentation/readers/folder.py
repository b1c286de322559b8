"""A folder input: its part files (as Spark and other engines write a table), read one after
another by the reader of their format, their line numbers going on from part to part."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from ..errors import InputError
from .input_file import input_kind


def input_parts(path: Path) -> list[Path]:
    """The file itself, or the part files of a folder (as Spark and other engines write a
    table) in name order; hidden and `_`-prefixed files and folders (`_SUCCESS`, `.crc`,
    `_delta_log`) are not data. A folder partitioned hive-style (`region=north/part-0.parquet`)
    holds its parts in `key=value` folders, at any depth: in the order of their paths."""
    if not path.is_dir():
        return [path]
    parts = sorted(data_files(path), key=lambda part: part.relative_to(path).parts)
    if not parts:
        raise InputError(f"{path}: the folder holds no data files")
    kinds = {input_kind(p) for p in parts}
    if len(kinds) > 1 or kinds == {"excel"}:
        raise InputError(
            f"{path}: a folder input holds CSV, JSON or Parquet part files of one kind "
            f"(it has: {', '.join(str(p.relative_to(path)) for p in parts[:5])})"
        )
    if kinds != {"parquet"} and any(p.parent != path for p in parts):
        raise InputError(
            f"{path}: a folder partitioned into key=value folders is read for Parquet parts; its parts are "
            f"{kinds.pop().upper()} (write the table as Parquet, or as one folder of parts)"
        )
    return parts


def data_files(folder: Path) -> Iterator[Path]:
    """The data files of a folder and of its `key=value` folders (a partitioned table's)."""
    for entry in folder.iterdir():
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file():
            yield entry
        elif entry.is_dir() and "=" in entry.name[1:]:
            yield from data_files(entry)


def partition_values(root: Path, part: Path) -> list[tuple[str, str | None]]:
    """The `key=value` folders between a partitioned folder and one of its parts, as (column,
    value) pairs, the value as Hive and Spark escape it (`%2F`), null for their null partition."""
    pairs = []
    for folder in part.relative_to(root).parts[:-1]:
        key, _, value = folder.partition("=")
        pairs.append((unquote(key), None if value == HIVE_NULL else unquote(value)))
    return pairs


HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # how Hive and Spark name the folder of a null key
