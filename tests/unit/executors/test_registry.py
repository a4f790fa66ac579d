from __future__ import annotations

import sys
from pathlib import Path

import pytest

from docbatch.config import RunConfig, SourceConfig
from docbatch.errors import ConfigError
from docbatch.executors.dask import DaskExecutor, dask_available
from docbatch.executors.inline import InlineExecutor
from docbatch.executors.local import LocalExecutor
from docbatch.executors.registry import ExecutorRegistration, ExecutorUrl, new_registry, parse_executor

PLUGIN = """
from docbatch.errors import ConfigError
from docbatch.executors.inline import InlineExecutor
from docbatch.executors.registry import ExecutorRegistration


class MemqExecutor(InlineExecutor):
    def __init__(self, queue: str, slots: int) -> None:
        super().__init__(slots)
        self.name = f"memq {queue}"


def check(url: str) -> None:
    if not url.removeprefix("memq://"):
        raise ConfigError(f"--executor {url!r}: name the queue, e.g. memq://jobs")


REGISTRATION = ExecutorRegistration(
    scheme="memq",
    usage="memq://QUEUE",
    check=check,
    build=lambda url, config: MemqExecutor(url.removeprefix("memq://"), config.pool.concurrency),
)
"""


def config(tmp_path: Path, executor: str, concurrency: int = 3) -> RunConfig:
    """A run's configuration naming ``executor``. The URL is put in after validation: RunConfig checks it
    against this process's registry, and a plugin under test is only in the registry the test built."""
    validated = RunConfig.model_validate(
        {"sources": SourceConfig(paths=[tmp_path]), "pool": {"concurrency": concurrency}}
    )
    return validated.model_copy(update={"executor": executor})


def install_plugin(site: Path, entry_points: str, module: str = PLUGIN) -> None:
    """A distribution installed the standard way: a module and a dist-info naming its entry points."""
    site.mkdir()
    (site / "docbatch_memq.py").write_text(module)
    info = site / "docbatch_memq-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: docbatch-memq\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[docbatch.executors]\n{entry_points}\n")


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "docbatch_memq", raising=False)
    return site


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("local", "local"),
        ("dask://scheduler:8786", "dask"),
        ("tcp://10.0.0.5:8786", "tcp"),
        ("dask-local", "dask-local"),
        ("dask-local:4", "dask-local"),
        ("inline", "inline"),
    ],
)
def test_builtin_executor_urls_are_accepted(text: str, scheme: str) -> None:
    assert parse_executor(text) == ExecutorUrl(scheme, text)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("dask://scheduler", "use dask://HOST:PORT"),
        # Each of these once crashed with a traceback (IndexError) or failed every document (int("abc")).
        ("dask:scheduler:8786", "use dask://HOST:PORT"),
        ("dask:", "use dask://HOST:PORT"),
        ("tcp:x", "use tcp://HOST:PORT"),
        ("dask://:8786", "use dask://HOST:PORT"),
        ("dask://scheduler:abc", "a number from 1 to 65535"),
        ("dask://scheduler:", "a number from 1 to 65535"),
        ("dask://127.0.0.1:99999", "a number from 1 to 65535"),
        ("dask-local:0", "a worker count of 1 or more"),
        ("dask-local:x", "a worker count of 1 or more"),
        ("dask-local:", "a worker count of 1 or more"),
        ("local:2", "the local executor takes no address"),
        (
            "ray://head:10001",
            "use local, dask://HOST:PORT, dask-local[:N], redis://HOST:PORT/DB, "
            "amqp://USER:PASS@HOST/VHOST or sqs://QUEUE_NAME",
        ),
        ("redis://", "the broker needs a host and a port"),
        ("amqp://guest:secret@rabbit:99999/", "the broker needs a host and a port"),
        ("sqs://", "use sqs://QUEUE_NAME"),
        ("redis://h:6379/0?visibility=0", "visibility must be seconds from 1 to 43200"),
        ("redis://h:6379/0?prefetch=3", "unknown setting 'prefetch'"),
    ],
)
def test_bad_executors_are_usage_errors_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(ConfigError, match="--executor") as raised:
        parse_executor(text)
    assert hint in str(raised.value)


def test_local_and_inline_are_built_for_the_run(tmp_path: Path) -> None:
    registry = new_registry(plugins=False)
    local = registry.build(config(tmp_path, "local", concurrency=3))
    assert isinstance(local, LocalExecutor) and local.slots == 6 and local.writes_outputs
    inline = registry.build(config(tmp_path, "inline", concurrency=3))
    assert isinstance(inline, InlineExecutor) and inline.slots == 3 and inline.job_control is None


@pytest.mark.skipif(not dask_available(), reason="needs the dask extra")
@pytest.mark.parametrize(
    ("text", "name", "slots"),
    [("dask://sched:8786", "dask tcp://sched:8786", 3), ("tcp://sched:8786", "dask tcp://sched:8786", 3),
     ("dask-local:2", "dask-local:2", 2)],
)  # fmt: skip
def test_dask_urls_build_a_dask_executor(tmp_path: Path, text: str, name: str, slots: int) -> None:
    executor = new_registry(plugins=False).build(config(tmp_path, text, concurrency=3))
    assert isinstance(executor, DaskExecutor)
    assert (executor.name, executor.slots, executor.writes_outputs, executor.job_control) == (name, slots, False, None)


def test_a_plugin_executor_is_found_by_its_scheme_through_an_entry_point(tmp_path: Path, plugin_site: Path) -> None:
    install_plugin(plugin_site, "memq = docbatch_memq:REGISTRATION")
    registry = new_registry()
    assert registry.parse("memq://jobs") == ExecutorUrl("memq", "memq://jobs")
    executor = registry.build(config(tmp_path, "memq://jobs", concurrency=4))
    assert (executor.name, executor.slots) == ("memq jobs", 4)
    assert "memq://QUEUE" in registry.usages()


def test_a_plugin_checks_its_own_urls(plugin_site: Path) -> None:
    install_plugin(plugin_site, "memq = docbatch_memq:REGISTRATION")
    with pytest.raises(ConfigError, match="name the queue"):
        new_registry().parse("memq://")


def test_unknown_schemes_list_the_installed_plugins(plugin_site: Path) -> None:
    install_plugin(plugin_site, "memq = docbatch_memq:REGISTRATION")
    with pytest.raises(ConfigError, match=r"use local, dask://HOST:PORT, dask-local\[:N\], .* or memq://\.\.\."):
        new_registry().parse("ray://head:10001")


def test_a_plugin_claiming_a_builtin_scheme_is_refused(plugin_site: Path) -> None:
    install_plugin(plugin_site, "local = docbatch_memq:REGISTRATION")
    with pytest.raises(ConfigError, match="two executors claim the --executor scheme 'local'"):
        new_registry()


def test_a_plugin_registering_another_scheme_than_its_name_is_refused(plugin_site: Path) -> None:
    install_plugin(plugin_site, "mq = docbatch_memq:REGISTRATION")
    with pytest.raises(ConfigError, match="registers the scheme 'memq', not 'mq'"):
        new_registry().parse("mq://jobs")


def test_a_broken_plugin_is_a_usage_error_naming_it(plugin_site: Path) -> None:
    install_plugin(plugin_site, "memq = docbatch_memq:REGISTRATION", module="raise ImportError('no broker lib')")
    with pytest.raises(ConfigError, match=r"executor plugin 'memq' \(docbatch_memq:REGISTRATION\) cannot be loaded"):
        new_registry().parse("memq://jobs")


def test_registering_a_scheme_twice_is_refused() -> None:
    registry = new_registry(plugins=False)
    duplicate = ExecutorRegistration("dask", "dask://X", lambda url: None, lambda url, config: InlineExecutor())
    with pytest.raises(ConfigError, match="'dask'"):
        registry.register(duplicate)
