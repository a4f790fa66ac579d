"""Telling the outside world that a run ended: a signed webhook and a local command.

Neither may change the run's outcome: their failures are logged as errors (shown even with --quiet) and
the exit code stays the run's.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import os
import random
import shlex
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from docbatch.engine.retry import compute_backoff
from docbatch.report.model import RunReport
from docbatch.serialization import dumps_compact

if TYPE_CHECKING:
    from docbatch.app.runs import RunOutcome

SECRET_VARIABLE = "DOCBATCH_NOTIFY_SECRET"
SIGNATURE_HEADER = "X-Docbatch-Signature"
_log = logging.getLogger("docbatch")


def announce(outcome: RunOutcome, *, notify_url: str | None, on_complete: str | None) -> None:
    """Post the summary to ``notify_url`` and run the ``on_complete`` command, each when given;
    whatever happens to them, the run's exit code stands (failures are logged as errors)."""
    if notify_url:
        post_webhook(notify_url, summary_payload(outcome.report, outcome.report_path))
    if on_complete:
        run_on_complete(on_complete, outcome.report_path)


def summary_payload(report: RunReport, report_path: Path) -> dict[str, object]:
    """The JSON a webhook receives: who, what, how it ended, and where the full report is."""
    return {
        "event": "run.finished",
        "run_id": report.run_id,
        "status": report.status,
        "stop_reason": report.stop_reason,
        "exit_code": report.exit_code,
        "counts": report.counts.model_dump(),
        "error_kinds": report.error_kinds,
        "wall_s": report.wall_s,
        "throughput": report.throughput.model_dump(),
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "report": str(report_path.resolve()),
        "host": os.uname().nodename,
    }


def check_url(url: str) -> None:
    """Raise ConfigError (exit 2, before the batch) unless ``url`` is an http or https URL with a host:
    a typo must not cost a whole night's run its notification."""
    from docbatch.errors import ConfigError

    try:
        parts = urllib.parse.urlsplit(url.strip())
        _port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise ConfigError(f"--notify {url!r}: not a URL ({error})") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise ConfigError(f"--notify {url!r}: use an http:// or https:// URL")
    if not parts.hostname:
        raise ConfigError(f"--notify {url!r}: the URL has no host")
    if any(character.isspace() or ord(character) < 0x20 for character in url.strip()):
        # urlsplit keeps them, and the request would fail only after the whole batch (RFC 3986 has none).
        raise ConfigError(f"--notify {url!r}: a URL cannot contain spaces or control characters")


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over the exact request body (what the receiver recomputes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(url: str, payload: dict[str, object], *, timeout_s: float = 10.0, attempts: int = 3) -> bool:
    """POST ``payload`` as JSON; retry on network errors and 5xx with backoff. True when delivered."""
    body = dumps_compact(payload)
    headers = {"Content-Type": "application/json", "User-Agent": "docbatch"}
    secret = os.environ.get(SECRET_VARIABLE)
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
            if error.code < 500:
                _log.error("notification to %s refused: %s; not retried", url, problem)
                return False
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
            # Network errors, timeouts and a server that answers garbage: logged, never the run's outcome.
            problem = str(getattr(error, "reason", error)) or type(error).__name__
        if attempt < attempts:
            time.sleep(compute_backoff(attempt, 1.0, 10.0, random.Random()))
    _log.error("notification to %s failed after %d attempts: %s", url, attempts, problem)
    return False


def run_on_complete(command: str, report_path: Path, *, timeout_s: float = 300.0) -> int | None:
    """Run ``command`` without a shell; `{report}` is replaced by the report's path, or the path is
    appended as the last argument. Returns its exit status (None when it could not run)."""
    arguments = shlex.split(command)
    path = str(report_path.resolve())
    if any("{report}" in argument for argument in arguments):
        arguments = [argument.replace("{report}", path) for argument in arguments]
    else:
        arguments.append(path)
    try:
        completed = subprocess.run(arguments, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        _log.error("--on-complete %s could not run: %s", arguments[0] if arguments else "", error)
        return None
    if completed.returncode != 0:
        _log.error("--on-complete %s exited with %d", arguments[0], completed.returncode)
    return completed.returncode
