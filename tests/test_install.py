"""The package as `pip install .` installs it: a wheel built from the project's files, installed
into a fresh virtual environment, its command run in an empty folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv

from conftest import query
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT


def run(command: list[str], **options) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, **options)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_installed_command_builds_in_the_current_folder_from_the_package_alone(tmp_path):
    # what an sdist or a clone holds; a copy, so the build writes nothing into the checkout
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT_DIR / name, source / name)
    for folder in ("python", "sql", "data"):
        shutil.copytree(PROJECT_DIR / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(source)])
    (wheel,) = wheels.glob("mall_segmentation-*.whl")

    # a fresh environment that borrows this one's dependencies (DuckDB, pandas, scikit-learn, ...)
    # through a .pth line: the line adds the folder, not the .pth files in it, so an editable
    # install of the project there stays out of sight
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    (environment / site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)])

    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    folder = tmp_path / "empty"
    folder.mkdir()
    shutil.copy2(SAMPLE_INPUT, folder / "x.csv")
    paths = "from segmentation import config; print(config.__file__, config.SQL_DIR, config.SAMPLE_INPUT)"
    where = run([str(python), "-c", paths], cwd=folder, env=env).stdout.split()
    assert all(path.startswith(str(environment / site / "segmentation")) for path in where), where
    assert (environment / site / "segmentation" / "sql" / "macros" / "segment_of.sql").is_file()
    assert (environment / site / "segmentation" / "data" / "sample_customers.csv").is_file()

    done = run([str(environment / "bin" / "mall-segmentation"), "--input", "x.csv"], cwd=folder, env=env)
    first, *_, last = done.stdout.splitlines()
    # said at once: the paths as this folder resolves them, and the file as given
    assert first == f"Building {folder / 'warehouse' / 'mall.duckdb'} and {folder / 'reports'}/ from x.csv"
    assert last.startswith("Done in ")
    # the build's output, and the lock that builds of these reports take turns with
    assert sorted(path.name for path in folder.iterdir()) == [".reports.lock", "reports", "warehouse", "x.csv"]
    assert (folder / "reports" / "index.html").is_file()
    warehouse = folder / "warehouse" / "mall.duckdb"
    assert query(warehouse, "select customers, input_path from pipeline_runs") == [(200, str(folder / "x.csv"))]
