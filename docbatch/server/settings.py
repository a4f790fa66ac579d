"""What `docbatch serve` was started with, parsed once (ServerSettings) and shared by every route."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

DEFAULT_KEEP_S = 7 * 24 * 3600.0
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1000 * 1000


class ServerSettings(BaseModel):
    """The server's configuration. Paths are absolute and resolved (symlinks followed)."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = 8000
    state_dir: Path  # the ledger (as `docbatch run --state`), and the runs' outputs under serve/outputs
    uploads: Path | None = None  # where uploads are kept; None: beside the state folder (see uploads_dir)
    roots: tuple[Path, ...] = ()  # server-side paths a request may name must lie under one of these
    concurrency: int = 2  # -j of every run the server starts
    executor: str = "local"
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES  # per uploaded file
    keep_s: float = DEFAULT_KEEP_S  # finished runs' uploads and outputs expire after this
    token: SecretStr | None = None  # DOCBATCH_API_TOKEN
    memory_floor_bytes: int = 0  # /readyz says 503 below this much available memory (0: 5 % of the machine)

    @property
    def uploads_dir(self) -> Path:
        """Uploaded files, one folder per upload run. Not inside the state folder: a run never reads
        its own state folder as input (it holds docbatch's files), and these are inputs."""
        return self.uploads or self.state_dir.parent / f"{self.state_dir.name}-uploads"

    @property
    def outputs_dir(self) -> Path:
        return self.state_dir / "serve" / "outputs"


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); False for anything else,
    including the wildcard addresses 0.0.0.0 and ::."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
