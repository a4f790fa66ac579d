"""The one job supervisor: deadlines kill whole process groups, crashes are named by their signal, the
memory cap ends a job as `memory`, stop requests leave jobs pending, and all of it works inside a
daemonic multiprocessing process (a stock Dask worker), where multiprocessing refuses children."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from docbatch.executors.base import RunningJob
from docbatch.executors.supervisor import JobSupervisor, SupervisorSettings
from docbatch.models import JobBatch, JobResult, JobSpec, JobState
from docbatch.processors.base import SourceFile
from tests.conftest import survivors

MISBEHAVE = "tests.helpers.processors:misbehave"
# Processors of this module: the child finds them through the import path the supervisor hands over.
SIGNAL_SELF = f"{__name__}:signal_self"
MiB = 2**20


def signal_self(source: SourceFile) -> str:
    """Sends itself the signal its document names (e.g. SIGKILL) before it returns anything."""
    os.kill(os.getpid(), signal.Signals[source.read_bytes().decode().strip()])
    return "unreachable"


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[JobSupervisor]:
    found = JobSupervisor(SupervisorSettings(stderr_folder=str(tmp_path), kill_grace_s=0.5))
    yield found
    found.close()


def _specs(folder: Path, *names: str, processor: str = MISBEHAVE, content: str = "") -> list[JobSpec]:
    folder.mkdir(exist_ok=True)
    specs = []
    for name in names:
        path = folder / name
        path.write_text(content or f"text of {name}\n")
        specs.append(JobSpec(source_id=name, path=str(path), size=path.stat().st_size, processor_override=processor))
    return specs


def _run(
    supervisor: JobSupervisor, specs: list[JobSpec], timeout_s: float = 30.0, announce_stages: bool = False
) -> list[JobResult]:
    jobs = [RunningJob(f"t{index}", spec.source_id, timeout_s) for index, spec in enumerate(specs)]
    return supervisor.run(JobBatch(specs=specs, announce_stages=announce_stages), jobs)


def test_a_hang_past_its_deadline_is_killed_with_the_processes_it_started(
    supervisor: JobSupervisor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("DOCBATCH_TEST_CHILD_PID", str(pid_file))
    hung, after = _run(supervisor, _specs(tmp_path / "docs", "spawn.txt", "ok.txt"), timeout_s=1.5)
    assert (hung.state, hung.error_kind, hung.message) == (
        JobState.FAILED,
        "timeout",
        "no result within 1.5s; worker killed",
    )
    assert after.state is JobState.SUCCEEDED  # the rest of the batch ran on in a fresh child
    assert not survivors([psutil.Process(int(pid_file.read_text()))], timeout_s=2.0)


@pytest.mark.parametrize("name", ["SIGSEGV", "SIGKILL"])
def test_a_crash_fails_only_its_job_and_names_the_signal(supervisor: JobSupervisor, tmp_path: Path, name: str) -> None:
    crash = _specs(tmp_path / "crash", "crash.txt", processor=SIGNAL_SELF, content=name)
    specs = _specs(tmp_path / "before", "a.txt") + crash + _specs(tmp_path / "after", "b.txt")
    before, crashed, after = _run(supervisor, specs)
    assert (before.state, after.state) == (JobState.SUCCEEDED, JobState.SUCCEEDED)
    assert (crashed.state, crashed.error_kind) == (JobState.FAILED, "crash")
    assert crashed.message == f"worker process died with {name}"
    assert before.pid != after.pid  # a fresh child took over


def test_the_memory_cap_ends_a_job_as_memory_and_dead(tmp_path: Path) -> None:
    capped = JobSupervisor(SupervisorSettings(stderr_folder=str(tmp_path), memory_cap_bytes=1024 * MiB))
    try:
        (result,) = _run(capped, _specs(tmp_path / "docs", "alloc.txt"))
    finally:
        capped.close()
    assert (result.state, result.error_kind) == (JobState.DEAD, "memory")
    assert result.message is not None and result.message.startswith("over --memory-per-job 1024 MiB")


def test_a_stop_request_leaves_the_jobs_not_started_pending(tmp_path: Path) -> None:
    stages: list[tuple[str, str]] = []

    def stop_once_slow_runs(source_id: str, stage: str) -> None:
        stages.append((source_id, stage))
        if (source_id, stage) == ("slow.txt", "extract"):  # the child is in it, for 1.5 s
            supervisor.stop_admitting()

    supervisor = JobSupervisor(SupervisorSettings(stderr_folder=str(tmp_path), on_stage=stop_once_slow_runs))
    try:
        slow, a, b = _run(supervisor, _specs(tmp_path / "docs", "slow.txt", "a.txt", "b.txt"), announce_stages=True)
    finally:
        supervisor.close()
    assert stages[:3] == [("slow.txt", stage) for stage in ("read", "extract", "done")]
    assert slow.state is JobState.SUCCEEDED
    assert (a.state, b.state) == (JobState.PENDING, JobState.PENDING)


def test_a_child_started_from_a_thread_that_ended_keeps_running(supervisor: JobSupervisor, tmp_path: Path) -> None:
    # The parent-death signal fires when the *thread* that created the child ends: it must not.
    starter = threading.Thread(target=supervisor.start)
    starter.start()
    starter.join()
    pid = supervisor.pid
    (result,) = _run(supervisor, _specs(tmp_path / "docs", "a.txt"))
    assert result.state is JobState.SUCCEEDED and result.pid == pid


def _supervise_in_daemon(folder: str, answers: multiprocessing.SimpleQueue[object]) -> None:
    """In a daemonic process, as a stock Dask worker is: one good job, then one hung past its deadline."""
    supervisor = JobSupervisor(SupervisorSettings(stderr_folder=folder, kill_grace_s=0.5))
    try:
        results = _run(supervisor, _specs(Path(folder) / "docs", "ok.txt", "hang.txt"), timeout_s=1.0)
        answers.put([(result.state.value, result.error_kind) for result in results])
    except BaseException as error:
        answers.put(f"{type(error).__name__}: {error}")
    finally:
        supervisor.close()


def test_the_supervisor_works_inside_a_daemonic_process(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    answers: multiprocessing.SimpleQueue[object] = context.SimpleQueue()
    daemon = context.Process(target=_supervise_in_daemon, args=(str(tmp_path), answers), daemon=True)
    daemon.start()
    daemon.join(60)
    assert answers.get() == [("succeeded", None), ("failed", "timeout")]
