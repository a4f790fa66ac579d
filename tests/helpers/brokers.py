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

import psutil

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
    pid: int
    env: dict[str, str] = field(default_factory=dict)
    unreachable_url: str = ""
    epmd_port: int | None = None  # RabbitMQ's Erlang port mapper daemonizes itself: stopped apart

    def url(self, queue: str, visibility_s: float | None = None) -> str:
        """The broker URL for work queue ``queue`` (a fresh name per test keeps tests apart)."""
        query = [] if self.kind == "sqs" else [f"queue={queue}"]
        if visibility_s is not None:
            query.append(f"visibility={visibility_s:g}")
        base = f"sqs://{queue}" if self.kind == "sqs" else self.base_url
        return base + ("?" + "&".join(query) if query else "")

    def stop(self) -> None:
        _kill_group(self.pid)
        if self.epmd_port is not None:
            for process in psutil.process_iter(["name"]):
                with contextlib.suppress(psutil.Error):
                    if process.info["name"] == "epmd" and process.environ().get("ERL_EPMD_PORT") == str(self.epmd_port):
                        process.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def fresh_queue_name() -> str:
    return "t" + uuid.uuid4().hex[:12]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _wait_for_port(port: int, pid: int, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise BrokerMissing(f"exited: {log.read_text(errors='replace')[-400:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    _kill_group(pid)
    raise BrokerMissing(f"not listening on port {port} after {timeout_s:.0f} s")


def _spawn(argv: list[str], folder: Path, env: dict[str, str] | None = None) -> tuple[int, Path]:
    """Start ``argv`` as a daemon: in its own session and *not* a child of this process (a shell
    starts it in the background and exits), so tests that check that a run leaves no child process
    behind do not see the session's brokers. Returns its pid (also its process group)."""
    log = folder / "server.log"
    launcher = 'setsid "$@" >"$DOCBATCH_BROKER_LOG" 2>&1 </dev/null & echo $!'
    environment = {**(env or os.environ), "DOCBATCH_BROKER_LOG": str(log)}
    started = subprocess.run(
        ["sh", "-c", launcher, "sh", *argv], env=environment, capture_output=True, text=True, check=True, timeout=30
    )
    # Job control is off in `sh -c`, so the background job is no group leader and setsid execs in place.
    return int(started.stdout.strip()), log


def start_redis(folder: Path) -> RunningBroker:
    program = shutil.which("redis-server")
    if program is None:
        raise BrokerMissing("redis-server is not installed (scripts/install-brokers.sh installs it)")
    port = free_port()
    argv = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    pid, log = _spawn([*argv, "--dir", str(folder)], folder)
    _wait_for_port(port, pid, 20, log)
    return RunningBroker(
        "redis", f"redis://127.0.0.1:{port}/0", pid, unreachable_url=f"redis://127.0.0.1:{free_port()}/0"
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
    pid, log = _spawn([str(program)], folder, env)
    _wait_for_port(port, pid, 90, log)
    return RunningBroker(
        "rabbitmq",
        f"amqp://guest:guest@127.0.0.1:{port}/",
        pid,
        unreachable_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/",
        epmd_port=epmd_port,
    )


def start_sqs(folder: Path) -> RunningBroker:
    program = Path(sys.executable).with_name("moto_server")
    if not program.exists():
        raise BrokerMissing("moto_server is not installed (uv sync installs moto[server] with the dev group)")
    port = free_port()
    pid, log = _spawn([str(program), "-H", "127.0.0.1", "-p", str(port)], folder)
    _wait_for_port(port, pid, 60, log)
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return RunningBroker("sqs", "sqs://", pid, env=env, unreachable_url="")


STARTERS = {"redis": start_redis, "rabbitmq": start_rabbitmq, "sqs": start_sqs}
