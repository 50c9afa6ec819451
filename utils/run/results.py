"""The run's side of the result file: writing one atomically.

The format itself (the file's shape, its name and path, reading it back) is the contract in
utils/result_file.py, which the reports read as well; its names are re-exported here for the
run's modules.
"""

from __future__ import annotations

from pathlib import Path

from utils.errors import ResultFileError
from utils.io import write_json_atomic
from utils.result_file import (
    SCHEMA_VERSION,
    ItemResult,
    IterationResult,
    iter_result_files,
    load_result,
    parse_result_name,
    result_path,
    weighted_average_sentiment,
)

__all__ = ["ItemResult", "IterationResult", "ResultFileError", "SCHEMA_VERSION", "load_result",
           "iter_result_files", "parse_result_name", "result_path", "save_result", "weighted_average_sentiment"]


def save_result(path: Path, result: IterationResult) -> None:
    """Write atomically; ResultFileError (naming the file) when the disk refuses."""
    try:
        write_json_atomic(path, result.model_dump(mode="json", exclude_none=False))
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot write: {exc.strerror or exc}") from None
