"""The supervised child's side (executors/supervisor.py starts it with ``python -c``): run each batch
it is sent, one job after another, and tell the parent each job's stages and result.

The messages, pickled and framed by ``multiprocessing.connection.Connection`` over plain pipes:
child -> parent ``(READY, pid)`` once, then ``(STAGE, index, stage)`` and ``(RESULT, index, JobResult)``
per job; parent -> child a ``JobBatch``, or ``STOP`` (start no further job of the current batch).
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection

from docbatch.models import JobBatch

READY, STAGE, RESULT = "ready", "stage", "result"
STOP = "stop"
_PR_SET_PDEATHSIG = 1


def serve_child() -> None:
    """The child's whole life (``python -c``; argv: request fd, event fd, parent pid, stderr file,
    memory cap in bytes or 0): run each batch it is sent, until its requests end."""
    import resource

    from docbatch.executors.job import run_jobs
    from docbatch.executors.worker_stderr import use_capture_file

    request_fd, event_fd, parent_pid, stderr_path, memory_cap = sys.argv[1:6]
    _die_with_parent(int(parent_pid))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    use_capture_file(stderr_path)
    if int(memory_cap):
        resource.setrlimit(resource.RLIMIT_AS, (int(memory_cap), int(memory_cap)))
    requests = Connection(int(request_fd), writable=False)
    events = Connection(int(event_fd), readable=False)
    events.send((READY, os.getpid()))
    while True:
        try:
            batch = requests.recv()
        except (EOFError, OSError):
            return  # the parent closed our requests, or died
        if not isinstance(batch, JobBatch):
            continue  # a stop request that came after its batch had ended
        stopped = False

        def stop_requested() -> bool:
            nonlocal stopped
            while not stopped and requests.poll():  # one poll() per job: no wait
                stopped = requests.recv() == STOP
            return stopped

        def announce(index: int, stage: str) -> None:
            events.send((STAGE, index, stage))

        for index, result in enumerate(run_jobs(batch, announce=announce, stop_requested=stop_requested)):
            events.send((RESULT, index, result))


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this child when its parent dies (even by SIGKILL)."""
    if sys.platform == "linux":
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before prctl: then we were adopted already.
    if os.getppid() != parent_pid:
        os._exit(1)
