"""Turning a request into a run configuration: paths checked against the allowed roots, options by
the CLI's long names, and the command line a server run records (its kind, so that a restarted
server knows which runs are its own and how to resume them).

Recorded commands: `docbatch serve paths`, `docbatch serve upload [--notify URL]`,
`docbatch serve retry PARENT`, `docbatch serve resume PARENT`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from docbatch.app.options import RunOption, build_config, run_options
from docbatch.config import RunConfig
from docbatch.errors import ConfigError
from docbatch.server.settings import ServerSettings

_OPTIONS = {option.name: option for option in run_options()}
# Options a request may not set: the server owns where state and outputs go and which executor runs
# the jobs, a request names its paths in `paths`, and code execution (a processor module or a
# command) is never something a remote caller can ask for.
REFUSED_OPTIONS = frozenset({"path", "manifest", "output", "state", "processor", "exec", "executor", "wait_lock"})
COMMAND = ("docbatch", "serve")
KINDS = ("paths", "upload", "retry", "resume")


class PathNotAllowed(ConfigError):
    """A server-side path outside every --root (HTTP 403)."""


def allowed_path(settings: ServerSettings, given: str) -> Path:
    """``given`` resolved (symlinks followed, relative to the server's working folder) when it lies
    under one of the server's roots; PathNotAllowed otherwise, and always when there is no root."""
    shown = given if len(given) <= 200 else given[:200] + "..."
    if not settings.roots:
        raise PathNotAllowed(f"{shown}: the server accepts no server-side paths (start it with --root DIR)")
    if "\0" in given or not os.path.isabs(given):
        raise ConfigError(f"paths: {shown!r}: give an absolute path without NUL bytes")
    resolved = Path(os.path.realpath(given))
    for own in (settings.state_dir, settings.uploads_dir):
        mine = Path(os.path.realpath(own))
        if resolved == mine or resolved.is_relative_to(mine):
            raise PathNotAllowed(f"{shown}: the server's own state or uploads folder")
    for root in settings.roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise PathNotAllowed(f"{shown}: not under an allowed root ({', '.join(str(root) for root in settings.roots)})")


def run_config(
    settings: ServerSettings,
    run_id: str,
    *,
    kind: str,
    paths: Sequence[Path] = (),
    manifests: Sequence[Path] = (),
    options: Mapping[str, object] | None = None,
    notify: str | None = None,
) -> RunConfig:
    """The configuration of the server run ``run_id``: ``options`` by long name (dashes or
    underscores), the server's state folder, executor and -j (a request may ask for fewer), and its
    own output folder. Raises ConfigError (HTTP 422) naming `options.NAME` and the problem."""
    values: dict[str, object] = {}
    for name, value in (options or {}).items():
        key = name.removeprefix("--").replace("-", "_")
        if key not in _OPTIONS:
            raise ConfigError(f"options.{name}: unknown option (the long names of `docbatch run --help`)")
        if key in REFUSED_OPTIONS:
            raise ConfigError(f"options.{name}: not accepted over HTTP")
        values[key] = value
    values.setdefault("concurrency", settings.concurrency)
    values.update(
        path=list(paths),
        manifest=list(manifests),
        state=settings.state_dir,
        output=settings.outputs_dir / run_id,
        executor=settings.executor,
    )
    command = [*COMMAND, kind, *(["--notify", notify] if notify else [])]

    def origin(option: RunOption, value: object) -> str:
        return f"options.{option.name.replace('_', '-')}"

    config = build_config(list(_OPTIONS.values()), values, origin, command=command)
    # A request may ask for fewer jobs at once than the server's -j, never more (however it spells it).
    pool = config.pool.model_copy(update={"concurrency": min(config.pool.concurrency, settings.concurrency)})
    return config.model_copy(update={"pool": pool}).with_absolute_paths()


def kind_of(command: str | None) -> str:
    """The kind of a recorded run (`cli` for runs the CLI started)."""
    words = (command or "").split()
    if tuple(words[:2]) == COMMAND and len(words) > 2 and words[2] in KINDS:
        return words[2]
    return "cli"


def notify_of(command: str | None) -> str | None:
    """The callback URL an upload run recorded, if any."""
    words = (command or "").split()
    return words[words.index("--notify") + 1] if "--notify" in words[:-1] else None
