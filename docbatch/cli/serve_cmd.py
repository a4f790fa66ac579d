"""`docbatch serve`: the engine as an HTTP service (docbatch/server/), until SIGTERM or Ctrl-C.

Exit codes: 0 stopped (the run going on was drained; the next start resumes it); 2 a usage error
(a bad option, a root that is not a folder, listening beyond loopback without DOCBATCH_API_TOKEN,
the serve extra not installed, the port taken); 3 another `docbatch serve` uses the state folder;
5 the ledger cannot be opened.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import typer
from pydantic import SecretStr, ValidationError

from docbatch.cli import logs
from docbatch.config import default_concurrency
from docbatch.errors import ConfigError, DocbatchError, ExitCode
from docbatch.units import parse_duration, parse_size

_log = logging.getLogger("docbatch")


class ServerLocked(DocbatchError):
    exit_code = ExitCode.LOCKED


def serve(
    host: str = typer.Option("127.0.0.1", "--host", envvar="DOCBATCH_HOST", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", envvar="DOCBATCH_PORT", help="Port (0: any free port, printed)."),
    state: Path = typer.Option(
        Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="State folder: the ledger and the runs' outputs."
    ),
    uploads: Path = typer.Option(
        None,
        "--uploads",
        envvar="DOCBATCH_UPLOADS",
        help="Folder for uploaded files [default: STATE-uploads beside it].",
    ),
    root: list[Path] = typer.Option(
        [], "--root", help="A folder whose files requests may name (repeatable; none: uploads only)."
    ),
    concurrency: int = typer.Option(
        None, "-j", "--concurrency", envvar="DOCBATCH_CONCURRENCY", help="Jobs at once per run [default: CPUs]."
    ),
    executor: str = typer.Option(
        "local", "--executor", envvar="DOCBATCH_EXECUTOR", help="Where jobs run (as for run)."
    ),
    max_upload: str = typer.Option("100MB", "--max-upload", metavar="SIZE", help="Largest uploaded file."),
    keep: str = typer.Option(
        "7d", "--keep", metavar="DURATION", help="Finished runs' uploads and outputs kept this long."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Errors only."),
    log_format: logs.LogFormat = typer.Option(logs.LogFormat.TEXT, "--log-format", help="Log lines as text or json."),
) -> None:
    """Serve runs, uploads, live events and a dashboard over HTTP (needs the serve extra)."""
    logs.use_format(log_format, quiet=quiet)
    logs.configure(quiet=quiet, live=False, log_file=None, log_format=log_format)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("docbatch serve needs the serve extra: pip install 'docbatch[serve]'") from None
    from docbatch.server.settings import ServerSettings, is_loopback

    token = (os.environ.get("DOCBATCH_API_TOKEN") or "").strip() or None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: use 0 (any free port) to 65535")
    if not is_loopback(host) and token is None:
        raise ConfigError(f"--host {host}: listening beyond loopback needs a token: set DOCBATCH_API_TOKEN")
    settings = ServerSettings(
        host=host, port=port, state_dir=Path(os.path.abspath(state)), roots=tuple(_roots(root)),
        uploads=Path(os.path.abspath(uploads)) if uploads else None,
        concurrency=_slots(concurrency), executor=_executor(executor), max_upload_bytes=_size(max_upload),
        keep_s=_duration(keep), token=SecretStr(token) if token else None,
    )  # fmt: skip
    lock = _lock_state(settings.state_dir)
    try:
        _check_ledger(settings.state_dir)
        _run_server(settings)
    finally:
        os.close(lock)
    raise typer.Exit(int(ExitCode.OK))


def _roots(given: list[Path]) -> list[Path]:
    roots = []
    for folder in given:
        if not folder.is_dir():
            raise ConfigError(f"--root {folder}: not a folder")
        roots.append(Path(os.path.realpath(folder)))
    return roots


def _slots(concurrency: int | None) -> int:
    slots = default_concurrency() if concurrency is None else concurrency
    if not 1 <= slots <= 512:
        raise ConfigError(f"-j/--concurrency must be from 1 to 512, not {slots}")
    return slots


def _executor(url: str) -> str:
    from docbatch.config import RunConfig

    try:  # the same check as `docbatch run --executor`
        RunConfig.model_validate({"sources": {}, "executor": url})
    except ValidationError as error:
        from docbatch.brokers.urls import redacted

        problem = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
        named = problem if problem.startswith("--executor") else f"--executor {redacted(url)}: {problem}"
        raise ConfigError(named) from None
    return url


def _size(text: str) -> int:
    try:
        size = parse_size(text)
    except ConfigError as error:
        raise ConfigError(f"--max-upload: {error}") from None
    if size <= 0:
        raise ConfigError(f"--max-upload {text}: give a size above zero")
    return size


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ConfigError as error:
        raise ConfigError(f"--keep: {error}") from None


def _check_ledger(state_dir: Path) -> None:
    """Open (creating) the ledger once before listening: a damaged or unwritable one is one line and
    exit 5 here, not a failed application start."""
    from docbatch.checkpoint.sqlite import SqliteLedger

    SqliteLedger.open(state_dir).close()


def _lock_state(state_dir: Path) -> int:
    """One server per state folder (two would both resume the same runs): an flock held while serving."""
    folder = state_dir / "serve"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder / "server.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ConfigError(f"--state {state_dir}: cannot use it: {error.strerror or error}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise ServerLocked(f"--state {state_dir}: another docbatch serve uses this state folder") from None
    return descriptor


def _run_server(settings: object) -> None:
    import uvicorn

    from docbatch.server.app import create_app
    from docbatch.server.settings import ServerSettings

    assert isinstance(settings, ServerSettings)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.host, settings.port))
    except OSError as error:
        listener.close()
        raise ConfigError(
            f"--host {settings.host} --port {settings.port}: cannot listen: {error.strerror or error}"
        ) from None
    listener.listen(2048)
    bound_host, bound_port = listener.getsockname()[:2]
    where = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
    _log.info("serve: listening on http://%s:%d (state %s)", where, bound_port, settings.state_dir)
    app = create_app(settings)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, timeout_graceful_shutdown=5, lifespan="on", timeout_keep_alive=30,
        ws="websockets-sansio", http="httptools",
    )  # fmt: skip
    server = _server_class()(config)
    server.on_second_signal = lambda: app.state.manager.cancel_soon()
    server.run(sockets=[listener])
    if server.signals > 1:
        raise typer.Exit(int(ExitCode.CANCELLED))


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, with docbatch's signals: the first SIGTERM/SIGINT stops taking requests
        and drains the run going on (resumed by the next start), a second cancels its jobs (exit
        130). Unlike uvicorn's own handling, the signal is not raised again once stopped, so a
        drained stop exits 0 as systemd expects."""

        signals = 0
        on_second_signal: Callable[[], None] = staticmethod(lambda: None)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.signals += 1
            name = signal.Signals(sig).name
            if self.signals == 1:
                _log.warning("serve: %s received: stopping; the run going on drains (again: cancel it)", name)
                self.should_exit = True
            else:
                _log.warning("serve: %s received again: cancelling the running jobs", name)
                self.force_exit = True
                self.on_second_signal()

    return Server
