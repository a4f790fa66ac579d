"""A real `docbatch serve` process on a free loopback port, for integration tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on (http://[^ ]+)")


class ServerProcess:
    """`docbatch serve --port 0 ARGS` in its own session; ``url`` once it listens; its log in ``log``."""

    def __init__(self, cwd: Path, *args: str, token: str | None = None, log: Path | None = None) -> None:
        self.log = log or _fresh_log(cwd)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("DOCBATCH_API_TOKEN", None)
        if token is not None:
            env["DOCBATCH_API_TOKEN"] = token
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "docbatch", "serve", "--port", "0", *args],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file,
            start_new_session=True,
        )  # fmt: skip
        self.token = token
        self.url = self._wait_listening()

    def _wait_listening(self, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"docbatch serve exited {self.process.returncode}: {self.log.read_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"docbatch serve did not listen within {timeout_s}s: {self.log.read_text()}")

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        """Signal the server (SIGTERM: drain and stop) and wait for it; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout_s)
        finally:
            self._log_file.close()
        return code

    def kill(self) -> None:
        """SIGKILL the server alone (its jobs' processes notice and exit by themselves)."""
        self.process.kill()
        self.process.wait(timeout=30)
        self._log_file.close()


def _fresh_log(folder: Path) -> Path:
    """serve-1.log, serve-2.log, ...: each start of a server its own (a restarted one prints its port anew)."""
    number = 1
    while (folder / f"serve-{number}.log").exists():
        number += 1
    return folder / f"serve-{number}.log"


def wait_run(client: httpx.Client, run_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """The run's status once it has ended (long polling)."""
    deadline = time.monotonic() + timeout_s
    while True:
        view: dict[str, Any] = client.get(f"/v1/runs/{run_id}", params={"wait": 10}).json()
        if view["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return view
