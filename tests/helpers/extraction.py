"""Running one document through the worker's code path (detection, processor, clean-up), in process."""

from __future__ import annotations

from pathlib import Path

from docbatch.executors.job import run_job
from docbatch.models import Extraction, JobResult, JobSpec, JobState


def run_file(path: Path) -> JobResult:
    """The worker's result for ``path`` (its id is the file name)."""
    return run_job(JobSpec(source_id=path.name, path=str(path), size=path.stat().st_size))


def extract_file(path: Path) -> Extraction:
    """The extraction of ``path``; fails the test when the document does not succeed."""
    result = run_file(path)
    assert result.state is JobState.SUCCEEDED, result.message
    assert result.extraction is not None
    return result.extraction


def extract_bytes(folder: Path, name: str, data: bytes) -> Extraction:
    """Write ``data`` to ``folder/name`` and extract it."""
    path = folder / name
    path.write_bytes(data)
    return extract_file(path)
