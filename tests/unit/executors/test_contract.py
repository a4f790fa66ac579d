"""Every built-in executor keeps the contract of executors/base.py where the runner relies on it."""

from __future__ import annotations

import pytest

from docbatch.executors.base import Executor, OutputTarget
from docbatch.executors.dask import DaskExecutor, dask_available
from docbatch.executors.inline import InlineExecutor
from docbatch.models import JobSpec, JobState


def built_in() -> list[Executor]:
    executors: list[Executor] = [InlineExecutor(slots=3)]
    if dask_available():
        executors.append(DaskExecutor("tcp://nowhere:8786", slots=3))
    return executors


@pytest.mark.parametrize("executor", built_in(), ids=lambda executor: executor.name)
async def test_jobs_handed_over_after_a_stop_come_back_pending_unstarted(executor: Executor) -> None:
    specs = [JobSpec(source_id=name, path=f"/nowhere/{name}", size=1) for name in ("a.txt", "b.txt")]
    executor.stop_admitting()
    results = await executor.run_batch(specs, 5.0, output=OutputTarget("/nowhere/out", "json"))
    assert [(result.source_id, result.state) for result in results] == [
        ("a.txt", JobState.PENDING),
        ("b.txt", JobState.PENDING),
    ]


@pytest.mark.parametrize("executor", built_in(), ids=lambda executor: executor.name)
def test_an_executor_describes_itself_and_its_capabilities(executor: Executor) -> None:
    assert executor.describe()["executor"] == executor.name
    assert executor.slots == 3 and executor.batch_target_s > 0
    assert executor.job_control is None  # neither runs jobs as processes the coordinator can see
