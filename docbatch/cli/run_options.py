"""The `docbatch run` options, generated from the configuration's fields (config.py declares each
option once: its flag, variable, default, description and unit), and the run configuration built
from them in one validation whose errors name where each bad value came from."""

from __future__ import annotations

import enum
import inspect
from pathlib import Path
from typing import Any

import typer

from docbatch.app.options import RunOption as RunOption
from docbatch.app.options import build_config as build_config
from docbatch.app.options import plain_type
from docbatch.app.options import run_options as run_options


def typer_parameters(options: list[RunOption]) -> list[inspect.Parameter]:
    """The options as typer parameters: switches for booleans, repeatable text for lists, choices for
    enumerations and text for the rest (units and bounds are the configuration's to parse, once)."""
    return [
        inspect.Parameter(
            option.name, inspect.Parameter.KEYWORD_ONLY, default=_typer_info(option), annotation=_cli_type(option)
        )
        for option in options
    ]


def _typer_info(option: RunOption) -> Any:
    help_text = option.field.description or ""
    if not option.flag.names:
        return typer.Argument(None, help=help_text, show_default=False, metavar=option.flag.metavar)
    shown = _default_text(option)
    if shown is not None:
        help_text = f"{help_text} [default: {shown}]"
    default: object = [] if option.is_list else None
    if option.is_flag:
        default = bool(option.field.default)
    elif isinstance(option.field.default, enum.Enum):
        default = option.field.default
    return typer.Option(
        default,
        *option.flag.names,
        envvar=option.flag.env,
        help=help_text,
        show_default=False,
        metavar=_metavar(option),
    )


def _metavar(option: RunOption) -> str | None:
    """How --help names the value: declared, else from the unit in the field's name or its type."""
    if option.flag.metavar is not None or option.is_flag:
        return option.flag.metavar
    plain = plain_type(option.field)
    if isinstance(plain, type) and issubclass(plain, enum.Enum):
        return None  # click lists the choices
    if option.path[-1].endswith("_s"):
        return "DURATION"
    if option.path[-1].endswith("_bytes"):
        return "SIZE"
    return "N" if plain is int else "TEXT"


def _cli_type(option: RunOption) -> object:
    plain = plain_type(option.field)
    if option.is_flag:
        return bool
    if isinstance(plain, type) and issubclass(plain, enum.Enum):
        return plain
    if option.is_list:
        return list[Path] if not option.flag.names else list[str]
    return str


def _default_text(option: RunOption) -> str | None:
    """The default as a user would type it (`120s`), or None when there is none worth saying."""
    if option.flag.default_text is not None:
        return option.flag.default_text
    default = option.field.default
    if isinstance(default, enum.Enum):
        return str(default.value)
    if option.is_flag or option.is_list or default is None:
        return None
    if option.path[-1].endswith("_s") and isinstance(default, float):
        return f"{default:g}s"
    return str(default)
