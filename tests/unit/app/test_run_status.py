"""A run's status as one typed model: what the heartbeat publishes is what `status` reads back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from docbatch.app.runs import run_to_end
from docbatch.app.status import read_status
from docbatch.config import RunConfig
from docbatch.models import Document, RunSnapshot, RunStatus
from docbatch.report.progress import RunProgress
from tests.conftest import run_cli, write_texts

# The keys scripts read from `docbatch status --json` (more may come; none may go).
STATUS_KEYS = {
    "run_id", "parent_run_id", "status", "exit_code", "executor", "executor_info", "command", "started_at",
    "elapsed_s", "discovered", "discovery_done", "finished", "states", "pending", "processed", "docs_per_s",
    "mb_per_s", "eta_s", "retry_waiting", "next_retry_in_s", "active", "waiting_in_batches", "stages", "memory",
    "error_kinds", "output_dir", "report", "ledger", "heartbeat_age_s",
}  # fmt: skip


def test_a_published_snapshot_reads_back_as_the_same_model() -> None:
    progress = RunProgress()
    document = Document(source_id="a.txt", path=Path("a.txt"), size=10, mtime_ns=0)
    progress.on_discovered(document)
    progress.on_started(document)
    progress.on_stage("a.txt", "extract")
    progress.on_retry_scheduled("b.pdf", 3.0)
    snapshot = progress.snapshot()
    assert RunSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot
    assert snapshot.active_jobs is not None and snapshot.active_jobs[0].stage == "extract"


def test_a_row_from_before_the_newer_counters_still_reads() -> None:
    old = RunSnapshot.model_validate_json('{"discovered": 3, "states": {"succeeded": 2, "skipped": 1}, "gone": 1}')
    assert (old.discovered, old.processed, old.discovery_done, old.active_jobs) == (3, None, None, None)


async def test_status_json_is_the_typed_status_with_every_key_scripts_read(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt", "b.txt")
    config = make_config(docs)
    outcome = await run_to_end(config)
    status = read_status(config.state_dir, None)
    assert (status.run_id, status.status, status.finished, status.states) == (
        outcome.report.run_id, "finished", 2, {"succeeded": 2},
    )  # fmt: skip
    printed = run_cli("status", "--json", "--state", str(config.state_dir), cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    data = json.loads(printed.stdout)
    assert set(data) >= STATUS_KEYS
    assert RunStatus.model_validate(data).model_dump(exclude={"elapsed_s", "heartbeat_age_s"}) == status.model_dump(
        exclude={"elapsed_s", "heartbeat_age_s"}
    )
