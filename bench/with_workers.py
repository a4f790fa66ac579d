#!/usr/bin/env python3
"""Run a command with N `docbatch worker` processes serving URL, as one process tree (for harness.py).

    python bench/with_workers.py URL N SLOTS -- docbatch run ... --executor URL

The workers start first (each with -j SLOTS) and are drained with SIGTERM once the command ends, so
the tree measured by the harness holds the coordinator and the workers with their job processes,
as a local run holds its own; the broker server is outside it (as in production).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

DOCBATCH = Path(sys.executable).with_name("docbatch")


def main() -> int:
    url, count, slots, dashes, *command = sys.argv[1:]
    assert dashes == "--", __doc__
    workers = [
        subprocess.Popen([str(DOCBATCH), "worker", url, "-j", slots, "-q"], stdin=subprocess.DEVNULL)
        for _ in range(int(count))
    ]
    try:
        return subprocess.run(command, check=False).returncode
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(worker.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
