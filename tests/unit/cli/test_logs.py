"""The run's log file on a disk that fills up: one line says so, no traceback per log line."""

import logging
from pathlib import Path

import pytest

from docbatch.cli import logs
from tests.helpers.environment import small_disk


def test_a_log_file_on_a_full_disk_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with small_disk(tmp_path / "disk", "64k") as disk:
        filler = disk / "filler"
        with filler.open("wb") as stream:
            stream.write(b"\0" * 60_000)
        logs.configure(quiet=True, live=False, log_file=disk / "run.log", log_format=logs.LogFormat.JSON)
        log = logging.getLogger("docbatch")
        try:
            for index in range(200):
                log.info("line %d %s", index, "x" * 200)
        finally:
            for handler in list(log.handlers):
                handler.close()
                log.removeHandler(handler)
    errors = capsys.readouterr().err
    assert errors == (
        f"docbatch: cannot write the log file {disk / 'run.log'}: No space left on device; not written from here on\n"
    )
