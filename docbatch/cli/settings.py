"""Where each option's value came from, checked before a command runs.

A value can come from a flag, a DOCBATCH_* variable or docbatch.toml. A bad one is refused before
anything starts, in one line that names its origin the way the user wrote it (`--timeout "x"`,
`DOCBATCH_TIMEOUT="x"`, `docbatch.toml [run] timeout = "5 minutes"`), so the fix is obvious even
when the value was set long ago in a crontab's environment or a forgotten file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import typer
import typer.core
import typer.main

from docbatch.config import ConfigFile, load_config_file
from docbatch.errors import ConfigError

if TYPE_CHECKING:  # typer's own copy of click: its types only, nothing private at run time
    from typer._click.core import Command, Context, Parameter


def load_defaults(app: typer.Typer, argv: Sequence[str]) -> ConfigFile:
    """docbatch.toml for ``app`` (its ``defaults`` are the app's default map), after checking the file
    and that every value the command named in ``argv`` (the arguments after the program name) will use
    converts to its option's type; units and bounds are the command's to parse (naming the origin
    with :func:`origin_of`). Pass the result as the context's ``obj``.

    Raises ConfigError (exit 2) naming the origin of the first bad value or unknown name.
    """
    group = typer.main.get_command(app)
    if not isinstance(group, typer.core.TyperGroup):
        return ConfigFile()
    commands = {name: command for name, command in group.commands.items() if not command.hidden}
    name, arguments = _invoked(argv, commands)
    if name is None:  # `docbatch --version`, `--help` or a mistyped command: no defaults to give
        return ConfigFile()
    config_file = load_config_file({name: _file_keys(command) for name, command in commands.items()})
    _check_values(name, commands[name], arguments, config_file)
    return config_file


def origin_of(context: Context, name: str, value: object = None) -> str:
    """Where the value of the parameter ``name`` of the running command came from, as the user wrote
    it: `--timeout "5 mins"` (``value``: the text given, or an item of a repeated flag),
    `DOCBATCH_TIMEOUT="x"`, `docbatch.toml [run] timeout = "5m"`; the flag alone (`--manifest`,
    `PATH`) for a list named as a whole."""
    parameter = next((parameter for parameter in context.command.params if parameter.name == name), None)
    if parameter is None:
        return name
    source = context.get_parameter_source(name)
    if source is not None and source.name == "ENVIRONMENT":
        return f"{_envvar_name(parameter.envvar)}={json.dumps(parameter.value_from_envvar(context))}"
    config_file = context.find_root().obj
    if source is not None and source.name == "DEFAULT_MAP" and isinstance(config_file, ConfigFile):
        return config_file.origins.get((context.info_name or "", name), _long_flag(parameter.opts))
    if parameter.param_type_name != "option":
        return "PATH"
    flag = _long_flag(parameter.opts)
    return f"{flag} {json.dumps(value)}" if isinstance(value, str) else flag


def refuse(context: Context, name: str, error: ConfigError, value: str) -> ConfigError:
    """``error`` (a value's problem, `invalid duration '5 mins': ...`) as one line naming the value's
    origin instead of the value: `--timeout "5 mins": invalid duration: ...`."""
    flag = _long_flag(next((p.opts for p in context.command.params if p.name == name), [name]))
    reason = str(error).replace(f" {value!r}", "", 1).removeprefix(f"{flag}: ")
    return ConfigError(f"{origin_of(context, name, value)}: {reason}")


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
    """Convert ``raw`` as the real parse will (a list where one is expected, a number, a choice);
    ConfigError naming ``origin``."""
    flag = _long_flag(parameter.opts)
    if parameter.multiple and not isinstance(raw, list | tuple):
        raise ConfigError(f"{origin}: a list is expected, e.g. {flag[2:]} = [{json.dumps(raw)}]")
    try:
        parameter.process_value(context, raw)  # converted only to be checked: the real parse converts it
    except typer.BadParameter as error:
        raise ConfigError(f"{origin}: {error.message.removeprefix('Value error, ')}") from None


def _envvar_name(envvar: str | Sequence[str] | None) -> str:
    return envvar if isinstance(envvar, str) else next(iter(envvar or []), "environment")


def _long_flag(flags: Sequence[str]) -> str:
    return next((flag for flag in flags if flag.startswith("--")), flags[0] if flags else "option")
