"""The run options by their long names (`format`, `max-file-size`, `timeout`), generated from the
configuration's fields (config.py declares each once: flag, variable, default, description, unit), and
the run configuration built from their values in one validation whose errors name where each bad value
came from. The CLI (cli/run_options.py) and the service (server/) both build runs this way."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from docbatch.config import Flag, RunConfig
from docbatch.errors import ConfigError

__all__ = ["RunOption", "build_config", "plain_type", "run_options"]


@dataclass(frozen=True)
class RunOption:
    """One option of `docbatch run`: its parameter ``name`` (`max_file_size`, from the long flag), the
    ``path`` of the configuration field it sets (`("pool", "timeout_s")`), and that field."""

    name: str
    path: tuple[str, ...]
    flag: Flag
    field: FieldInfo

    @property
    def is_list(self) -> bool:
        return typing.get_origin(plain_type(self.field)) is list

    @property
    def is_flag(self) -> bool:
        return plain_type(self.field) is bool


def run_options(model: type[BaseModel] = RunConfig, prefix: tuple[str, ...] = ()) -> Iterator[RunOption]:
    """Every field of ``model`` (and of the models it nests) that declares a Flag, in declaration order."""
    for field_name, info in model.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            yield from run_options(nested, (*prefix, field_name))
            continue
        declared = next((item for item in info.metadata if isinstance(item, Flag)), None)
        if declared is not None:
            name = declared.long_name.removeprefix("--").replace("-", "_").lower()
            yield RunOption(name=name, path=(*prefix, field_name), flag=declared, field=info)


def plain_type(info: FieldInfo) -> object:
    """The field's type without None and without its validators (`Duration | None` -> float)."""
    annotation = info.annotation
    arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(arguments) == 1:
        annotation = arguments[0]
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def build_config(
    options: list[RunOption], values: Mapping[str, object], origin: Callable[[RunOption, object], str], **fixed: object
) -> RunConfig:
    """The run configuration from the options' ``values`` (None: not given, the field's default) and
    the ``fixed`` fields (`command`). Raises ConfigError naming, for each bad value, where it came
    from (``origin`` of the option and the value: `--timeout "5 mins"`, `DOCBATCH_TIMEOUT="x"`)."""
    data: dict[str, Any] = {"sources": {}, **fixed}  # sources are required: no PATH is the caller's to refuse
    for option in options:
        value = values.get(option.name)
        if value is None:
            continue
        part = data
        for key in option.path[:-1]:
            part = part.setdefault(key, {})
        part[option.path[-1]] = list(value) if isinstance(value, list | tuple) else value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_explained(error, options, values, origin)) from None


def _explained(
    error: ValidationError,
    options: list[RunOption],
    values: Mapping[str, object],
    origin: Callable[[RunOption, object], str],
) -> str:
    """Pydantic's errors as one line: `ORIGIN: problem; ...`, each problem without the value the
    origin already quotes."""
    by_path = {option.path: option for option in options}
    parts = []
    for item in error.errors():
        location = tuple(str(part) for part in item["loc"])
        reason = str(item["msg"]).removeprefix("Value error, ")
        option = by_path.get(location[:-1]) if location[-1:] and location[-1].isdigit() else by_path.get(location)
        if option is None:  # a rule across fields (`--exec` with `--processor`): its message says it
            parts.append(reason)
            continue
        value = values.get(option.name)
        if option.is_list and location[-1].isdigit() and isinstance(value, list | tuple):
            value = value[int(location[-1])]
        elif option.is_list:
            value = None  # the whole list (PATHs that do not exist): the message names them
        if option.name == "executor" and isinstance(value, str):
            from docbatch.brokers.urls import redacted

            value = redacted(value)  # a broker's password is never printed
        parts.append(f"{origin(option, value)}: {_without(reason, value, option)}")
    return "; ".join(parts)


def _without(reason: str, value: object, option: RunOption) -> str:
    """``reason`` without the value and the flag it may repeat (`invalid duration '5m x'` -> `invalid duration`)."""
    if isinstance(value, str):
        reason = reason.replace(f" {value!r}", "", 1).replace(f" {value.strip()!r}", "", 1)
    return reason.removeprefix(f"{option.flag.long_name}: ")
