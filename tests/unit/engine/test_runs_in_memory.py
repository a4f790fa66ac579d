"""Whole runs of the engine against the in-memory ledger, with jobs in threads (the inline executor):
resume, retries and dead documents in a fraction of a second, no SQLite and no worker process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from docbatch.app.runs import run_to_end
from docbatch.checkpoint.memory import MemoryLedger
from docbatch.config import RunConfig
from docbatch.engine.conclusion import RunOutcome
from docbatch.errors import ConfigError, ExitCode
from docbatch.executors.base import OutputTarget
from docbatch.executors.inline import InlineExecutor
from docbatch.models import ErrorKind, JobResult, JobSpec, JobState
from tests.conftest import write_texts


class ScriptedFailures(InlineExecutor):
    """Runs jobs inline, except that a document named in ``script`` gets the scripted result (an error
    kind and a state) on each of its first tries, as a worker would report it."""

    def __init__(self, script: dict[str, list[tuple[ErrorKind, JobState]]]) -> None:
        super().__init__(slots=2)
        self.script = script
        self.tries: Counter[str] = Counter()

    async def run_batch(
        self, specs: list[JobSpec], timeout_s: float, *, output: OutputTarget | None = None
    ) -> list[JobResult]:
        results = []
        for spec in specs:
            name = Path(spec.path).name
            self.tries[name] += 1
            planned = self.script.get(name, [])
            if self.tries[name] <= len(planned):
                kind, state = planned[self.tries[name] - 1]
                results.append(JobResult(source_id=spec.source_id, state=state, error_kind=kind, message="scripted"))
            else:
                results.extend(await super().run_batch([spec], timeout_s, output=output))
        return results


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_texts(tmp_path / "docs", "a.txt", "b.txt", "c.txt")


@pytest.fixture
def config(make_config: Callable[..., RunConfig], docs: Path) -> RunConfig:
    return make_config(docs, executor="inline", retries=2, backoff_s=0.0)


def states(outcome: RunOutcome) -> tuple[int, int, int, int, int]:
    counts = outcome.report.counts
    assert counts.reconciles
    return counts.discovered, counts.succeeded, counts.skipped, counts.failed, counts.dead


async def test_a_whole_run_is_recorded_in_the_memory_ledger(config: RunConfig) -> None:
    ledger = MemoryLedger()
    outcome = await run_to_end(config, ledger_store=ledger)  # the executor comes from --executor inline
    assert outcome.exit_code is ExitCode.OK
    assert states(outcome) == (3, 3, 0, 0, 0)
    run = ledger.runs[outcome.report.run_id]
    assert (run.record.executor, run.status, run.exit_code) == ("inline", "finished", 0)
    assert {source: row.state for source, row in ledger.documents().items()} == dict.fromkeys(
        ["a.txt", "b.txt", "c.txt"], "succeeded"
    )
    assert (config.output.root / "b.txt.json").is_file()
    assert outcome.report.ledger == ":memory:"
    assert not (config.state_dir / "ledger.sqlite").exists()


async def test_a_second_run_skips_what_is_done_and_redoes_what_changed(config: RunConfig, docs: Path) -> None:
    ledger = MemoryLedger()
    await run_to_end(config, ledger_store=ledger)
    (docs / "b.txt").write_text("b, longer than before\n")
    outcome = await run_to_end(config, ledger_store=ledger)
    assert states(outcome) == (3, 1, 2, 0, 0)
    started = [event.source_id for event in ledger.run_events(outcome.report.run_id) if event.state is JobState.RUNNING]
    assert started == ["b.txt"]
    assert ledger.documents()["b.txt"].attempts == 2


async def test_a_crash_is_retried_and_the_retry_succeeds(config: RunConfig) -> None:
    ledger = MemoryLedger()
    executor = ScriptedFailures({"a.txt": [(ErrorKind.CRASH, JobState.FAILED)]})
    outcome = await run_to_end(config, executor=executor, ledger_store=ledger)
    assert outcome.exit_code is ExitCode.OK
    assert states(outcome) == (3, 3, 0, 0, 0)
    history = [
        (event.state, event.attempt) for event in ledger.run_events(outcome.report.run_id) if event.source_id == "a.txt"
    ]
    assert history == [(JobState.RUNNING, 1), (JobState.FAILED, 1), (JobState.RUNNING, 2), (JobState.SUCCEEDED, 2)]
    assert outcome.report.retries == 1


async def test_a_document_failing_every_try_ends_failed_after_its_retries(config: RunConfig) -> None:
    ledger = MemoryLedger()
    executor = ScriptedFailures({"a.txt": [(ErrorKind.CRASH, JobState.FAILED)] * 3})
    outcome = await run_to_end(config, executor=executor, ledger_store=ledger)
    assert outcome.exit_code is ExitCode.DOCUMENTS_FAILED
    assert states(outcome) == (3, 2, 0, 1, 0)
    assert executor.tries["a.txt"] == 3  # the first try and two retries
    assert ledger.documents()["a.txt"].attempts == 3


async def test_a_dead_document_stays_dead_in_the_next_run_without_a_try(config: RunConfig) -> None:
    ledger = MemoryLedger()
    executor = ScriptedFailures({"a.txt": [(ErrorKind.CORRUPT, JobState.DEAD)]})
    first = await run_to_end(config, executor=executor, ledger_store=ledger)
    assert first.exit_code is ExitCode.DOCUMENTS_FAILED
    assert states(first) == (3, 2, 0, 0, 1)
    assert executor.tries["a.txt"] == 1  # a permanent error is not retried
    second = await run_to_end(config, executor=executor, ledger_store=ledger)
    assert second.exit_code is ExitCode.KNOWN_FAILURES_ONLY
    assert (second.report.counts.dead, second.report.counts.dead_carried_over) == (1, 1)
    assert executor.tries["a.txt"] == 1
    recorded = [event for event in ledger.run_events(second.report.run_id) if event.source_id == "a.txt"]
    assert [(event.state, event.error_kind) for event in recorded] == [(JobState.DEAD, "corrupt")]


class Unreachable(InlineExecutor):
    """An executor whose cluster cannot be reached (a Dask scheduler on a closed port)."""

    def __init__(self) -> None:
        super().__init__(slots=2)
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        raise ConfigError("cannot reach the Dask scheduler at tcp://127.0.0.1:1:\nTimed out trying to connect")


async def test_an_executor_that_cannot_start_ends_the_run_at_once_as_an_environment_failure(
    config: RunConfig,
) -> None:
    # It used to fail each batch's documents as `internal` after its own connection timeout, one
    # batch after another (minutes), and exit 1 as if the documents were to blame.
    ledger = MemoryLedger()
    executor = Unreachable()
    outcome = await run_to_end(config, executor=executor, ledger_store=ledger)
    assert outcome.exit_code is ExitCode.ENVIRONMENT
    assert outcome.environment_failure == (
        "environment failure: cannot reach the Dask scheduler at tcp://127.0.0.1:1: Timed out trying to"
        " connect; 3 documents left pending, run again to resume"
    )
    assert executor.starts == 1  # no slot tries again
    assert outcome.report.counts.pending == 3  # resumable: nothing tried, no attempt spent
    assert not [event for event in ledger.run_events(outcome.report.run_id) if event.state is JobState.RUNNING]
