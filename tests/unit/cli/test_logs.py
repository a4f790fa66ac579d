"""Which log lines reach stderr in each mode (live view, pipe, -q) and how they read; the log file on a
disk that fills up."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from docbatch.cli import logs
from docbatch.report.model import Failure
from tests.helpers.environment import small_disk

_log = logging.getLogger("docbatch")
FAILURE = Failure(source_id="a.pdf", path="in/a.pdf", state="dead", error_kind="corrupt", message="cut short")


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    """The tests point the "docbatch" logger at captured streams; later tests must not write there."""
    handlers, propagate = list(_log.handlers), _log.propagate
    yield
    for handler in list(_log.handlers):
        _log.removeHandler(handler)
    for handler in handlers:
        _log.addHandler(handler)
    _log.propagate = propagate
    logs.use_format(logs.LogFormat.TEXT)


def _emit_one_of_each() -> None:
    _log.info("start run=r1", extra={"event": "start", "fields": {"run_id": "r1"}})
    _log.warning("dead corrupt a.pdf: cut short", extra={"event": "failure", "fields": FAILURE.model_dump()})
    _log.warning("stopping: --max-runtime reached")
    _log.error("notification to https://example.invalid failed")


def _configure(*, quiet: bool, live: bool, fmt: logs.LogFormat = logs.LogFormat.TEXT) -> None:
    logs.configure(quiet=quiet, live=live, log_file=None, log_format=fmt)


def test_a_pipe_gets_every_line_and_a_failure_reads_as_its_state(capsys: pytest.CaptureFixture[str]) -> None:
    _configure(quiet=False, live=False)
    _emit_one_of_each()
    lines = [line.split(" ", 1)[1] for line in capsys.readouterr().err.splitlines()]  # without the time stamp
    assert lines == [
        "docbatch start run=r1",
        "docbatch dead corrupt a.pdf: cut short",
        "docbatch warning: stopping: --max-runtime reached",
        "docbatch error: notification to https://example.invalid failed",
    ]


def test_under_a_live_view_only_warnings_the_view_does_not_show(capsys: pytest.CaptureFixture[str]) -> None:
    _configure(quiet=False, live=True)
    _emit_one_of_each()
    err = capsys.readouterr().err
    assert "a.pdf" not in err and "start" not in err  # the view shows failures; printed they would tear it
    assert "stopping" in err and "notification" in err


def test_quiet_leaves_only_errors(capsys: pytest.CaptureFixture[str]) -> None:
    _configure(quiet=True, live=False, fmt=logs.LogFormat.JSON)
    _emit_one_of_each()
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert '"level":"error"' in line and "notification" in line


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
