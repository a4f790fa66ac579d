"""Planning a retry: which failures are chosen, and the linked run's configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from docbatch.app.retry import RetryRequest, plan_retry
from docbatch.app.runs import run_to_end
from docbatch.config import RunConfig
from docbatch.errors import ConfigError, ExitCode
from docbatch.models import Priority
from docbatch.serialization import loads
from tests.conftest import write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"


@pytest.fixture
async def failed_run(tmp_path: Path, make_config: Callable[..., RunConfig]) -> tuple[RunConfig, str]:
    """A finished run where raise1.txt and raise2.txt died (processor error) and ok.txt succeeded."""
    docs = write_texts(tmp_path / "docs", "raise1.txt", "raise2.txt", "ok.txt")
    config = make_config(docs, processor_override=MISBEHAVE)
    outcome = await run_to_end(config)
    assert outcome.exit_code is ExitCode.DOCUMENTS_FAILED
    return config, outcome.report.run_id


def test_the_plan_chooses_the_failures_matching_the_filters_and_links_the_new_run(
    failed_run: tuple[RunConfig, str],
) -> None:
    config, run_id = failed_run
    plan = plan_retry(
        RetryRequest(state_dir=config.state_dir, kinds=["processor"], paths=["raise1*"], priority=Priority.HIGH)
    )
    assert (plan.parent_run_id, plan.failed, plan.chosen) == (run_id, 2, 1)
    assert plan.config is not None
    assert plan.config.parent_run_id == run_id and plan.config.retry_dead and plan.config.force
    assert plan.config.output.root == config.output.root.absolute()
    (manifest,) = plan.config.sources.manifests
    rows = [loads(line) for line in manifest.read_text().splitlines()]
    assert [(row["id"], row["priority"]) for row in rows] == [("raise1.txt", "high")]


def test_nothing_matching_plans_no_run(failed_run: tuple[RunConfig, str]) -> None:
    config, run_id = failed_run
    plan = plan_retry(RetryRequest(state_dir=config.state_dir, run=run_id, kinds=["timeout"]))
    assert (plan.chosen, plan.failed, plan.config) == (0, 2, None)


async def test_the_planned_retry_runs_only_the_chosen_documents(
    failed_run: tuple[RunConfig, str],
) -> None:
    config, run_id = failed_run
    plan = plan_retry(RetryRequest(state_dir=config.state_dir, timeout_s=30.0))
    assert plan.config is not None and plan.config.pool.timeout_s == 30.0
    outcome = await run_to_end(plan.config)
    assert outcome.report.counts.discovered == 2 and outcome.report.counts.dead == 2


def test_an_unknown_error_kind_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown error kind tiemout"):
        plan_retry(RetryRequest(state_dir=tmp_path, kinds=["tiemout"]))
