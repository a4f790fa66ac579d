"""Real brokers on 127.0.0.1 for the tests: redis-server and rabbitmq-server (Debian packages, installed
by scripts/install-brokers.sh) and moto's server mode standing in for SQS (a dev dependency).

Each ``start_*`` starts one server on free ports under ``folder`` and returns a ``RunningBroker``;
when the program is missing or does not come up it raises ``BrokerMissing`` with the reason, which
the fixtures turn into a skip (never a pass).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


class BrokerMissing(Exception):
    """The broker could not be had on this machine; the message says why."""


@dataclass
class RunningBroker:
    """``kind``: redis, rabbitmq or sqs; ``base_url``: URL without a queue; ``env``: variables a client
    or a `docbatch worker` needs (SQS's endpoint and fake credentials); ``unreachable_url``: the same
    kind of URL on a port nothing listens on."""

    kind: str
    base_url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)
    unreachable_url: str = ""

    def url(self, queue: str, visibility_s: float | None = None) -> str:
        """The broker URL for work queue ``queue`` (a fresh name per test keeps tests apart)."""
        query = [] if self.kind == "sqs" else [f"queue={queue}"]
        if visibility_s is not None:
            query.append(f"visibility={visibility_s:g}")
        base = f"sqs://{queue}" if self.kind == "sqs" else self.base_url
        return base + ("?" + "&".join(query) if query else "")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def fresh_queue_name() -> str:
    return "t" + uuid.uuid4().hex[:12]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerMissing(f"exited with {process.returncode}: {log.read_text(errors='replace')[-400:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    raise BrokerMissing(f"not listening on port {port} after {timeout_s:.0f} s")


def _spawn(argv: list[str], folder: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return process, log


def start_redis(folder: Path) -> RunningBroker:
    program = shutil.which("redis-server")
    if program is None:
        raise BrokerMissing("redis-server is not installed (scripts/install-brokers.sh installs it)")
    port = free_port()
    argv = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process, log = _spawn([*argv, "--dir", str(folder)], folder)
    _wait_for_port(port, process, 20, log)
    return RunningBroker(
        "redis", f"redis://127.0.0.1:{port}/0", process, unreachable_url=f"redis://127.0.0.1:{free_port()}/0"
    )


def start_rabbitmq(folder: Path) -> RunningBroker:
    program = RABBITMQ_BIN / "rabbitmq-server"
    if not program.exists():
        raise BrokerMissing("rabbitmq-server is not installed (scripts/install-brokers.sh installs it)")
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    node = f"docbatch{port}@localhost"
    config = folder / "rabbitmq.conf"
    # A short consumer timeout is not set here: tests use the broker's defaults, as users would.
    config.write_text(f"loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{port}\n")
    env = {
        **os.environ,
        "HOME": str(folder),  # its own Erlang cookie
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_CONFIG_FILE": str(config.with_suffix("")),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(folder / "rabbit.pid"),
    }
    (folder / "enabled_plugins").write_text("[].\n")
    process, log = _spawn([str(program)], folder, env)
    _wait_for_port(port, process, 90, log)
    return RunningBroker(
        "rabbitmq",
        f"amqp://guest:guest@127.0.0.1:{port}/",
        process,
        unreachable_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/",
    )


def start_sqs(folder: Path) -> RunningBroker:
    program = Path(sys.executable).with_name("moto_server")
    if not program.exists():
        raise BrokerMissing("moto_server is not installed (uv sync installs moto[server] with the dev group)")
    port = free_port()
    process, log = _spawn([str(program), "-H", "127.0.0.1", "-p", str(port)], folder)
    _wait_for_port(port, process, 60, log)
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return RunningBroker("sqs", "sqs://", process, env=env, unreachable_url="")


STARTERS = {"redis": start_redis, "rabbitmq": start_rabbitmq, "sqs": start_sqs}
