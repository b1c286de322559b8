"""`make clean`: what the builds published at the default paths, and nothing of the user's. The
warehouse file (with its WAL and lock); in the reports folder, the files its manifest names
as the last build wrote them (a file edited since is kept) and the manifest itself; nothing
from a folder without one. A file of the user's beside them stays, whatever its name or kind.

    python -m segmentation.clean [WAREHOUSE [REPORTS]]
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import REPORTS, WAREHOUSE
from .db import wal_path
from .locks import lock_path
from .manifest import MANIFEST, read_manifest, written_files


def published_files(reports: Path) -> list[Path]:
    """The files of `reports` a build wrote and nobody changed since."""
    manifest = read_manifest(reports)
    if manifest is None:  # no build recorded writing anything there
        return []
    found = written_files(reports)
    return [*(reports / name for name, stat in manifest.files.items() if found.get(name) == stat), reports / MANIFEST]


def clean(warehouse: Path = WAREHOUSE, reports: Path = REPORTS) -> list[Path]:
    """Remove what the builds published at `warehouse` and `reports`; returns what was removed."""
    removed = []
    for path in (warehouse, wal_path(warehouse), lock_path(warehouse)):
        if path.is_file():
            path.unlink()
            removed.append(path)
    if reports.is_dir():
        published = published_files(reports)
        for path in published:
            path.unlink(missing_ok=True)
            removed.append(path)
        for folder in sorted({path.parent for path in published} - {reports}, reverse=True):
            if not any(folder.iterdir()):  # a folder a build made (scoring/), left empty
                folder.rmdir()
    return removed


if __name__ == "__main__":
    paths = [Path(arg) for arg in sys.argv[1:3]]
    for gone in clean(*paths):
        print(f"removed {gone}")
