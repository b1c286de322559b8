"""Customer segmentation warehouse: DuckDB SQL models, K-Means in Python, marts and reports.

From Python, one build as the command makes it::

    from segmentation import Settings, build

    result = build(Settings(input_path="customers.csv"))  # warehouse/ and reports/ here
    result.customers, result.k, result.warehouse

`build` raises `PipelineError` (an `InputError` for an unusable input, a `DataTestError` for
a failed data test) and leaves the published warehouse and reports as they were. The names are
imported when first used, so the command's `--help` and its quick refusals stay quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .building import BuildResult, build
    from .config import Settings
    from .errors import DataTestError, InputError, Interrupted, PipelineError
    from .workers import InProcess, Workers

# name -> the module that defines it
API = {
    "build": "building",
    "BuildResult": "building",
    "Settings": "config",
    "PipelineError": "errors",
    "InputError": "errors",
    "DataTestError": "errors",
    "Interrupted": "errors",
    "InProcess": "workers",
    "Workers": "workers",
}
__all__ = [
    "BuildResult",
    "DataTestError",
    "InProcess",
    "InputError",
    "Interrupted",
    "PipelineError",
    "Settings",
    "Workers",
    "build",
]


def __getattr__(name: str) -> Any:
    if name not in API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{API[name]}", __name__), name)
