"""Which executor a run uses, found by the scheme of its `--executor` URL.

Built in: ``local`` (worker processes here), ``dask://HOST:PORT`` and ``tcp://HOST:PORT`` (a Dask
cluster), ``dask-local[:N]`` (a Dask cluster of N workers started for the run), ``inline`` (threads
of the coordinator; tests and debugging).

A plugin adds a scheme with one entry point in the group ``docbatch.executors``, named by its scheme
and naming an ``ExecutorRegistration``::

    # pyproject.toml of the plugin
    [project.entry-points."docbatch.executors"]
    memq = "docbatch_memq:REGISTRATION"

    # docbatch_memq.py
    REGISTRATION = ExecutorRegistration(
        scheme="memq", usage="memq://QUEUE", check=check_memq_url, build=MemqExecutor.from_url
    )

``check(url)`` raises ConfigError with a hint when the URL is malformed; it runs while the
configuration is validated, so a bad URL is exit 2 before anything starts. ``build(url, config)``
returns the Executor (executors/base.py) for the run. Plugins are loaded only when their scheme is
asked for; a scheme registered twice is refused.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from docbatch.errors import ConfigError

if TYPE_CHECKING:
    from docbatch.config import RunConfig
    from docbatch.executors.base import Executor

PLUGIN_GROUP = "docbatch.executors"

UrlCheck = Callable[[str], None]
ExecutorFactory = Callable[[str, "RunConfig"], "Executor"]


@dataclass(frozen=True)
class ExecutorRegistration:
    """One URL scheme and how to check its URLs and build its executor.

    ``scheme``: the part of the URL before ``:`` (``local``, ``dask``); ``usage``: how the URL is
    written, for error messages (``dask://HOST:PORT``; empty: not listed, as for an alias or a
    scheme for tests); ``check(url)``: raises
    ConfigError when ``url`` is malformed; ``build(url, config)``: the executor for a run."""

    scheme: str
    usage: str
    check: UrlCheck
    build: ExecutorFactory


@dataclass(frozen=True)
class ExecutorUrl:
    """An ``--executor`` value whose scheme is known and whose form was checked."""

    scheme: str
    text: str


def url_scheme(text: str) -> str:
    """``dask://h:8786`` -> ``dask``; ``dask-local:4`` -> ``dask-local``; ``local`` -> ``local``."""
    return text.strip().partition(":")[0]


class ExecutorRegistry:
    """URL scheme -> registration. Plugins from entry points are named up front, loaded on first use."""

    def __init__(self) -> None:
        self._registered: dict[str, ExecutorRegistration] = {}
        self._plugins: dict[str, importlib.metadata.EntryPoint] = {}

    def register(self, registration: ExecutorRegistration) -> None:
        """Add a scheme; raises ConfigError when it is registered already."""
        self._refuse_taken(registration.scheme)
        self._registered[registration.scheme] = registration

    def add_entry_points(self, group: str = PLUGIN_GROUP) -> None:
        """Name the plugin schemes installed in ``group`` (nothing is imported yet)."""
        for entry_point in importlib.metadata.entry_points(group=group):
            self._refuse_taken(entry_point.name)
            self._plugins[entry_point.name] = entry_point

    def usages(self) -> list[str]:
        """How each listed scheme's URL is written, built-in ones first."""
        listed = [registration.usage for registration in self._registered.values() if registration.usage]
        return listed + [f"{scheme}://..." for scheme in self._plugins]

    def parse(self, text: str) -> ExecutorUrl:
        """Check ``text`` against its scheme's form; raises ConfigError (exit 2) with a hint when the
        scheme is unknown or the URL malformed."""
        text = text.strip()
        registration = self._find(text)
        registration.check(text)
        return ExecutorUrl(registration.scheme, text)

    def build(self, config: RunConfig) -> Executor:
        """The executor ``config.executor`` names, built for ``config``; raises ConfigError as ``parse``."""
        url = self.parse(config.executor)
        return self._find(url.text).build(url.text, config)

    def _find(self, text: str) -> ExecutorRegistration:
        scheme = url_scheme(text)
        if scheme not in self._registered and scheme in self._plugins:
            self._registered[scheme] = _load_plugin(self._plugins.pop(scheme))
        registration = self._registered.get(scheme)
        if registration is None:
            known = self.usages()
            raise ConfigError(f"--executor {text!r}: use {', '.join(known[:-1])} or {known[-1]}")
        return registration

    def _refuse_taken(self, scheme: str) -> None:
        if scheme in self._registered or scheme in self._plugins:
            raise ConfigError(f"two executors claim the --executor scheme {scheme!r}")


def _load_plugin(entry_point: importlib.metadata.EntryPoint) -> ExecutorRegistration:
    where = f"executor plugin {entry_point.name!r} ({entry_point.value})"
    try:
        registration = entry_point.load()
    except Exception as error:  # a broken plugin is the user's to fix: one line, exit 2
        raise ConfigError(f"{where} cannot be loaded: {type(error).__name__}: {error}") from error
    if not isinstance(registration, ExecutorRegistration):
        raise ConfigError(f"{where} must name an ExecutorRegistration, not {type(registration).__name__}")
    if registration.scheme != entry_point.name:
        raise ConfigError(f"{where} registers the scheme {registration.scheme!r}, not {entry_point.name!r}")
    return registration


def _check_local(text: str) -> None:
    if text != "local":
        raise ConfigError(f"--executor {text!r}: the local executor takes no address; use local")


def _build_local(text: str, config: RunConfig) -> Executor:
    from docbatch.executors.local import LocalExecutor

    return LocalExecutor(config.pool.concurrency, config.pool.max_jobs_per_worker)


def _check_inline(text: str) -> None:
    if text != "inline":
        raise ConfigError(f"--executor {text!r}: the inline executor takes no address; use inline")


def _build_inline(text: str, config: RunConfig) -> Executor:
    from docbatch.executors.inline import InlineExecutor

    return InlineExecutor(slots=config.pool.concurrency)


def _check_dask_address(text: str) -> None:
    """``dask://HOST:PORT`` (or ``tcp://``): a host and a port from 1 to 65535."""
    _, separator, address = text.partition("://")
    host, colon, port = address.rpartition(":")
    if not separator or not colon or not host:
        raise ConfigError(f"--executor {text!r}: use {url_scheme(text)}://HOST:PORT, e.g. dask://scheduler:8786")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"--executor {text!r}: the scheduler's port must be a number from 1 to 65535")


def _build_dask(text: str, config: RunConfig) -> Executor:
    from docbatch.executors.dask import DaskExecutor

    address = "tcp://" + text.split("://", 1)[1]
    return DaskExecutor(address, memory_per_job_bytes=config.memory_per_job_bytes, slots=config.pool.concurrency)


def _dask_local_workers(text: str) -> int | None:
    """``dask-local`` -> None (one per core, as -j); ``dask-local:N`` -> N."""
    count = text.partition(":")[2]
    if text.partition(":")[1] and (not count.isdigit() or int(count) < 1):
        raise ConfigError(f"--executor {text!r}: dask-local:N needs a worker count of 1 or more")
    return int(count) if count else None


def _check_dask_local(text: str) -> None:
    _dask_local_workers(text)


def _build_dask_local(text: str, config: RunConfig) -> Executor:
    from docbatch.executors.dask import DaskExecutor

    workers = _dask_local_workers(text) or config.pool.concurrency
    return DaskExecutor(local_workers=workers, memory_per_job_bytes=config.memory_per_job_bytes, slots=workers)


def _check_broker(text: str) -> None:
    from docbatch.brokers.urls import check_url

    try:
        check_url(text)
    except ConfigError as error:
        raise ConfigError(f"--executor {error}") from None


def _build_broker(text: str, config: RunConfig) -> Executor:
    from docbatch.executors.broker import BrokerExecutor

    # One hand-over per worker slot the run asks for (-j: the slots of all workers together), and a
    # few more so that a worker finishing a batch finds the next one already on the queue.
    return BrokerExecutor(text, slots=config.pool.concurrency + 2, memory_per_job_bytes=config.memory_per_job_bytes)


BUILTIN = (
    ExecutorRegistration("local", "local", _check_local, _build_local),
    ExecutorRegistration("dask", "dask://HOST:PORT", _check_dask_address, _build_dask),
    ExecutorRegistration("tcp", "", _check_dask_address, _build_dask),
    ExecutorRegistration("dask-local", "dask-local[:N]", _check_dask_local, _build_dask_local),
    ExecutorRegistration("inline", "", _check_inline, _build_inline),
    ExecutorRegistration("redis", "redis://HOST:PORT/DB", _check_broker, _build_broker),
    ExecutorRegistration("rediss", "", _check_broker, _build_broker),
    ExecutorRegistration("amqp", "amqp://USER:PASS@HOST/VHOST", _check_broker, _build_broker),
    ExecutorRegistration("amqps", "", _check_broker, _build_broker),
    ExecutorRegistration("sqs", "sqs://QUEUE_NAME", _check_broker, _build_broker),
    ExecutorRegistration("memory", "", _check_broker, _build_broker),
)


def new_registry(*, plugins: bool = True) -> ExecutorRegistry:
    """The built-in schemes and, with ``plugins``, those installed in the ``docbatch.executors`` group."""
    registry = ExecutorRegistry()
    for registration in BUILTIN:
        registry.register(registration)
    if plugins:
        registry.add_entry_points()
    return registry


@cache
def default_registry() -> ExecutorRegistry:
    """The registry of this process (entry points are read once)."""
    return new_registry()


def parse_executor(text: str) -> ExecutorUrl:
    """Check an ``--executor`` value; raises ConfigError (exit 2) with a hint when it is not usable."""
    return default_registry().parse(text)


def build_executor(config: RunConfig) -> Executor:
    """The executor ``config.executor`` names (see ``ExecutorRegistry.build``)."""
    return default_registry().build(config)
