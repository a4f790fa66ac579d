#!/usr/bin/env python3
"""How long a SIGKILLed worker's batch waits before another worker starts it, per broker.

    uv run python bench/broker_failover.py [--broker redis --broker rabbitmq --broker sqs] [--rounds 3]

Each round: a broker on 127.0.0.1 (tests/helpers/brokers.py), worker A (-j 1) and worker B (-j 4, so
a slot of B is always free), a run of 16 documents of 1.5 s each (tests.helpers.processors:misbehave,
`slow*` names) through the broker. 4 s in, A is SIGKILLed while it runs a document; the time until
the coordinator logs that batch "delivered again" is the failover time. The run must still end with
exit 0 and 16 outputs. Default visibility (10 s) for Redis and SQS; RabbitMQ has none.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.brokers import STARTERS, fresh_queue_name  # noqa: E402

DOCBATCH = Path(sys.executable).with_name("docbatch")


def one_round(kind: str, server: object, work: Path) -> tuple[float | None, int, int]:
    url = server.url(fresh_queue_name())  # type: ignore[attr-defined]
    env = {**os.environ, "PYTHONPATH": str(REPO), **server.env}  # type: ignore[attr-defined]
    docs = work / "docs"
    docs.mkdir(parents=True)
    for index in range(16):
        (docs / f"slow{index:02}.txt").write_text(f"document {index}\n")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "stdin": subprocess.DEVNULL}
    worker_a = subprocess.Popen([str(DOCBATCH), "worker", url, "-j", "1"], env=env, cwd=work, **quiet)  # type: ignore[call-overload]
    worker_b = subprocess.Popen([str(DOCBATCH), "worker", url, "-j", "4"], env=env, cwd=work, **quiet)  # type: ignore[call-overload]
    command = [str(DOCBATCH), "run", "docs", "-o", "out", "--state", "state", "-j", "2", "--executor", url,
               "--processor", "tests.helpers.processors:misbehave"]  # fmt: skip
    run = subprocess.Popen(command, env=env, cwd=work, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen: list[float] = []

    def read() -> None:
        assert run.stderr is not None
        for line in run.stderr:
            if "delivered again" in line:
                seen.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(4.0)
    killed_at = time.monotonic()
    worker_a.send_signal(signal.SIGKILL)
    code = run.wait(300)
    reader.join(10)
    for worker in (worker_a, worker_b):
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
    outputs = sum(1 for path in (work / "out").rglob("*.json") if path.parent.name != "reports") - 1
    delay = seen[0] - killed_at if seen else None
    return delay, code, outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", action="append", choices=list(STARTERS))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("| broker | failover, median (s) | rounds (s) | exit codes | outputs |")
    print("|---|---:|---|---|---|")
    for kind in args.broker or list(STARTERS):
        scratch = Path(tempfile.mkdtemp(prefix=f"failover-{kind}-"))
        server = STARTERS[kind](scratch)
        try:
            results = [one_round(kind, server, scratch / f"round{index}") for index in range(args.rounds)]
        finally:
            server.stop()
        delays = [delay for delay, _, _ in results if delay is not None]
        median = f"{statistics.median(delays):.1f}" if delays else "none"
        rounds = ", ".join("none" if delay is None else f"{delay:.1f}" for delay, _, _ in results)
        codes = ", ".join(str(code) for _, code, _ in results)
        outputs = ", ".join(str(count) for _, _, count in results)
        print(f"| {kind} | {median} | {rounds} | {codes} | {outputs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
