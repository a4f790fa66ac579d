"""Shared fixtures: factories with fast defaults, the repository's sample documents, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from docbatch.checkpoint.sqlite import SqliteLedger
from docbatch.config import OutputConfig, PoolConfig, RunConfig, SourceConfig

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = REPO / "sample_docs"
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def sample_docs() -> Path:
    return SAMPLE_DOCS


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., RunConfig]:
    """RunConfig for a tmp output and state folder; keyword arguments override the parts."""

    def factory(*paths: Path, concurrency: int = 2, timeout_s: float = 60.0, **overrides: object) -> RunConfig:
        fields: dict[str, object] = {
            "sources": SourceConfig(paths=list(paths)),
            "pool": PoolConfig(concurrency=concurrency, timeout_s=timeout_s),
            "output": OutputConfig(root=tmp_path / "out"),
            "state_dir": tmp_path / "state",
        }
        fields.update(overrides)
        return RunConfig.model_validate(fields)

    return factory


def survivors(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """The processes still running after ``timeout_s``; a zombie (exited, not yet reaped by whoever
    adopted it) counts as gone."""
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    running = []
    for process in alive:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


def write_texts(folder: Path, *names: str) -> Path:
    """Small UTF-8 text documents named ``names`` in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"text of {name}\n")
    return folder


def start_run(cwd: Path, *args: str, stderr: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """`docbatch run ARGS` started in the background (no terminal), for tests that signal or watch it."""
    return subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A fresh folder the user nobody may enter and write (pytest's own are private to root)."""
    from tests.helpers.environment import public_folder

    with public_folder(mode=0o777) as folder:
        yield folder


def run_cli(
    *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a user or cron would run it (no terminal)."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "docbatch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        stdin=subprocess.DEVNULL,
    )


def wait_started(cwd: Path, count: int, stage: str = "extract", timeout_s: float = 60.0) -> None:
    """Wait until the live run under ``cwd`` reports ``count`` jobs that a worker has started and that
    are in ``stage`` (the coordinator publishes them in the ledger once a second). The ledger's
    `running` rows are not enough: a document handed to a busy worker is `running` there before a
    worker starts it."""
    import json
    import sqlite3
    import time

    ledger = cwd / ".docbatch" / "ledger.sqlite"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ledger.exists():
            try:
                with sqlite3.connect(ledger) as db:
                    row = db.execute("SELECT counts FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
            except sqlite3.OperationalError:
                row = None
            if row and row[0]:
                active = json.loads(row[0]).get("active_jobs", [])
                if sum(1 for job in active if job["stage"] == stage) >= count:
                    return
        time.sleep(0.1)
    raise AssertionError(f"{count} jobs in stage {stage!r} never showed up in the live run")


@pytest.fixture(scope="session")
def broker_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], object]]:
    """``get(kind)`` -> a running tests.helpers.brokers.RunningBroker of that kind, started once per
    session; skips the test (with the reason) when that broker cannot be had here."""
    from tests.helpers.brokers import STARTERS, BrokerMissing

    running: dict[str, object] = {}
    missing: dict[str, str] = {}

    def get(kind: str) -> object:
        if kind in missing:
            pytest.skip(f"no {kind} broker: {missing[kind]}")
        if kind not in running:
            try:
                running[kind] = STARTERS[kind](tmp_path_factory.mktemp(kind))
            except BrokerMissing as error:
                missing[kind] = str(error)
                pytest.skip(f"no {kind} broker: {error}")
        return running[kind]

    yield get
    for broker in running.values():
        broker.stop()  # type: ignore[attr-defined]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state folder (not made yet) for tests of the ledger and the service."""
    return tmp_path / "state"


@pytest.fixture
def ledger(state: Path) -> Iterator[SqliteLedger]:
    """A real SQLite ledger in ``state``, closed after the test."""
    opened = SqliteLedger.open(state)
    yield opened
    opened.close()
