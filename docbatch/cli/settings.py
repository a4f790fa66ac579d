"""Where each option's value came from, checked before a command runs.

A value can come from a flag, a DOCBATCH_* variable or docbatch.toml. A bad one is refused before
anything starts, in one line that names its origin the way the user wrote it (`--timeout "x"`,
`DOCBATCH_TIMEOUT="x"`, `docbatch.toml [run] timeout = "5 minutes"`), so the fix is obvious even
when the value was set long ago in a crontab's environment or a forgotten file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import typer
import typer.core
import typer.main
from pydantic import BaseModel

from docbatch.config import (
    ConfigFile,
    FailureBudget,
    PoolConfig,
    RunConfig,
    load_config_file,
    parse_duration,
    parse_size,
)
from docbatch.errors import ConfigError

if TYPE_CHECKING:  # typer's own copy of click: its types only, nothing private at run time
    from typer._click.core import Command, Context, Parameter


def _duration(text: str) -> None:
    parse_duration(text)


def _duration_or_zero(text: str) -> None:
    parse_duration(text, allow_zero=True)


def _size(text: str) -> None:
    parse_size(text)


def _failure_budget(text: str) -> None:
    FailureBudget.parse(text)


def _exec_template(text: str) -> None:
    from docbatch.processors.command import parse_template

    parse_template(text)


def _executor(text: str) -> None:
    from docbatch.executors.choice import parse_executor

    parse_executor(text)


# Options whose text has units or a grammar of its own, by parameter name (the same in every command).
_UNIT_CHECKS: dict[str, Callable[[str], None]] = {
    "timeout": _duration,
    "grace": _duration_or_zero,
    "backoff": _duration_or_zero,
    "wait_lock": _duration_or_zero,
    "max_runtime": _duration,
    "older_than": _duration,
    "max_file_size": _size,
    "memory_limit": _size,
    "memory_per_job": _size,
    "min_free_memory": _size,
    "max_failures": _failure_budget,
    "executor": _executor,
    "exec_template": _exec_template,
}


# Numbers with bounds, by parameter name: the field of the run configuration that holds the bounds.
_BOUNDED: dict[str, tuple[type[BaseModel], str]] = {
    "concurrency": (PoolConfig, "concurrency"),
    "max_jobs_per_worker": (PoolConfig, "max_jobs_per_worker"),
    "retries": (RunConfig, "retries"),
}


def _check_range(name: str, value: object, origin: str) -> None:
    """The configuration's own bounds (`concurrency >= 1`), checked here so the error names the origin."""
    if name not in _BOUNDED or value is None:
        return
    from typing import Annotated

    from pydantic import TypeAdapter, ValidationError

    model, field = _BOUNDED[name]
    info = model.model_fields[field]
    try:
        bounded: Any = Annotated[(info.annotation, *info.metadata)]  # the field's type with its bounds
        TypeAdapter(bounded).validate_python(value)
    except ValidationError as error:
        raise ConfigError(f"{origin}: {error.errors()[0]['msg']}") from None


def load_defaults(app: typer.Typer, argv: Sequence[str]) -> dict[str, dict[str, object]]:
    """The default map for ``app`` from docbatch.toml, after checking the file and every value the
    command named in ``argv`` (the arguments after the program name) will use.

    Raises ConfigError (exit 2) naming the origin of the first bad value or unknown name.
    """
    group = typer.main.get_command(app)
    if not isinstance(group, typer.core.TyperGroup):
        return {}
    commands = {name: command for name, command in group.commands.items() if not command.hidden}
    name, arguments = _invoked(argv, commands)
    if name is None:  # `docbatch --version`, `--help` or a mistyped command: no defaults to give
        return {}
    config_file = load_config_file({name: _file_keys(command) for name, command in commands.items()})
    _check_values(name, commands[name], arguments, config_file)
    return config_file.defaults


def _file_keys(command: Command) -> dict[str, str]:
    """{name as written in docbatch.toml: parameter name}: each long option without its dashes,
    with dashes (`max-file-size`) or underscores (`max_file_size`)."""
    keys: dict[str, str] = {}
    for parameter in command.params:
        if parameter.param_type_name != "option" or parameter.name is None:
            continue
        for flag in parameter.opts:
            if flag.startswith("--"):
                keys[flag[2:]] = parameter.name
                keys[flag[2:].replace("-", "_")] = parameter.name
    return keys


def _invoked(argv: Sequence[str], commands: Mapping[str, Command]) -> tuple[str | None, list[str]]:
    """The command name and its own arguments; the root takes only eager flags (--help, --version)."""
    for index, argument in enumerate(argv):
        if not argument.startswith("-"):
            return (argument, list(argv[index + 1 :])) if argument in commands else (None, [])
    return None, []


def _check_values(name: str, command: Command, arguments: list[str], config_file: ConfigFile) -> None:
    """Parse the command's arguments leniently (the real parse reports usage errors) only to learn
    each option's source, then check the values that come from the environment or the file, and the
    unit grammar of flags too."""
    try:
        context = command.make_context(
            name, list(arguments), default_map=config_file.defaults.get(name), resilient_parsing=True
        )
    except Exception:  # whatever it is, the real parse right after this one reports it properly
        return
    for parameter in command.params:
        found = _value_and_origin(name, parameter, context, config_file)
        if found is not None:
            _check_one(parameter, context, *found)


def _value_and_origin(
    name: str, parameter: Parameter, context: Context, config_file: ConfigFile
) -> tuple[object, str] | None:
    """The value ``parameter`` will get and how to name where it came from, or None when it is
    docbatch's own default (or a flag whose type click itself checks)."""
    source = context.get_parameter_source(parameter.name) if parameter.name else None
    origin = source.name if source is not None else "DEFAULT"
    if origin == "ENVIRONMENT":
        raw: object = parameter.value_from_envvar(context)
        return raw, f"{_envvar_name(parameter.envvar)}={json.dumps(raw)}"
    if origin == "DEFAULT_MAP" and parameter.name:
        return config_file.defaults[name][parameter.name], config_file.origins[(name, parameter.name)]
    if origin == "COMMANDLINE" and parameter.name:
        raw = context.params.get(parameter.name)
        if isinstance(raw, str):  # flags' types are click's to report; units are ours
            return raw, f"{_long_flag(parameter.opts)} {json.dumps(raw)}"
    return None


def _check_one(parameter: Parameter, context: Context, raw: object, origin: str) -> None:
    """Convert ``raw`` as the real parse will, then check its unit grammar; ConfigError naming ``origin``."""
    flag = _long_flag(parameter.opts)
    if parameter.multiple and not isinstance(raw, list | tuple):
        raise ConfigError(f"{origin}: a list is expected, e.g. {flag[2:]} = [{json.dumps(raw)}]")
    try:
        value = parameter.process_value(context, raw)
    except typer.BadParameter as error:
        raise ConfigError(f"{origin}: {error.message.removeprefix('Value error, ')}") from None
    _check_range(parameter.name or "", value, origin)
    check = _UNIT_CHECKS.get(parameter.name or "")
    if check is None or not isinstance(value, str):
        return
    try:
        check(value)
    except ConfigError as error:
        # The checkers name the value (and some the flag) themselves; the origin already does both.
        reason = str(error).replace(f" {value!r}", "", 1).removeprefix(f"{flag}: ")
        raise ConfigError(f"{origin}: {reason}") from None


def _envvar_name(envvar: str | Sequence[str] | None) -> str:
    return envvar if isinstance(envvar, str) else next(iter(envvar or []), "environment")


def _long_flag(flags: Sequence[str]) -> str:
    return next((flag for flag in flags if flag.startswith("--")), flags[0] if flags else "option")
