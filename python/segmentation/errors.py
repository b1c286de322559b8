"""Errors that stop a build. The command line prints them as one `error:` line."""

from pathlib import Path


class PipelineError(Exception):
    """A build cannot go on; the last published warehouse and reports stay as they were."""


class InputError(PipelineError):
    """The input file cannot be used at all."""


class DataTestError(PipelineError):
    """A data test declared beside the models found offending rows."""


class TooFewCustomers(ValueError):
    """K-Means cannot make K clusters of the customers there are (the build reports it as an
    InputError naming the file). `need`: what was needed; `had`: how many customers there were,
    when a count is what fell short."""

    def __init__(self, need: str, had: int | None = None) -> None:
        super().__init__(need, had)  # both, so the error crosses from a worker process whole
        self.need, self.had = need, had

    def __str__(self) -> str:
        return self.need if self.had is None else f"{self.need}, the input has {self.had}"


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped a build. `published_run`: the run it had published by then
    (the warehouse and reports are its own), else None (they are as they were)."""

    def __init__(self, published_run: int | None) -> None:
        super().__init__(published_run)
        self.published_run = published_run


def not_there(path: Path) -> str:
    """Why `path`, which does not exist, is not there: a symbolic link may lead nowhere."""
    if path.is_symlink():
        return f"{path}: a symbolic link to nothing (its target is missing, or the links lead back to it)"
    return f"{path}: no such file"
