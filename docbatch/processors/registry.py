"""Where a detected type finds its processor: the built-in table, checked once, names unique."""

from __future__ import annotations

import functools
import importlib.metadata
import sys
from dataclasses import dataclass

from docbatch.processors.base import Processor, library_version
from docbatch.processors.mail import EmailProcessor
from docbatch.processors.opendoc import OdtProcessor
from docbatch.processors.opendoc_slides import OdpProcessor
from docbatch.processors.pdf import PdfProcessor
from docbatch.processors.rtf import RtfProcessor
from docbatch.processors.slides import PptxProcessor
from docbatch.processors.sniff import EXTENSION_KINDS
from docbatch.processors.spreadsheet import SpreadsheetProcessor
from docbatch.processors.structured import CsvProcessor, JsonProcessor
from docbatch.processors.text import PlainTextProcessor
from docbatch.processors.web import EpubProcessor, HtmlProcessor
from docbatch.processors.word import DocxProcessor
from docbatch.processors.xmldoc import XmlProcessor

BUILTIN_PROCESSORS: tuple[type[Processor], ...] = (
    PdfProcessor,
    DocxProcessor,
    PptxProcessor,
    SpreadsheetProcessor,
    OdtProcessor,
    OdpProcessor,
    RtfProcessor,
    HtmlProcessor,
    EpubProcessor,
    PlainTextProcessor,
    CsvProcessor,
    JsonProcessor,
    EmailProcessor,
    XmlProcessor,
)


@dataclass(frozen=True)
class ProcessorInfo:
    """One row of `docbatch processors`."""

    name: str
    kinds: tuple[str, ...]
    extensions: tuple[str, ...]
    library: str
    library_version: str
    description: str


class Registry:
    """Maps a detected kind to a processor instance; refuses two processors with one name or kind."""

    def __init__(self, processors: tuple[type[Processor], ...] = BUILTIN_PROCESSORS) -> None:
        self._by_kind: dict[str, Processor] = {}
        self._classes: dict[str, type[Processor]] = {}
        self.extension_kinds: dict[str, str] = dict(EXTENSION_KINDS)
        self.plugin_kinds: set[str] = set()
        for cls in processors:
            self.add(cls)

    def add(self, cls: type[Processor], *, plugin: bool = False) -> None:
        """Register a processor class; raise ConfigError when its name or one of its kinds is taken."""
        from docbatch.errors import ConfigError

        if cls.name in self._classes:
            raise ConfigError(f"two processors are named {cls.name!r}")
        for kind in cls.kinds:
            if kind in self._by_kind:
                raise ConfigError(f"kind {kind!r} is claimed by {self._by_kind[kind].name} and {cls.name}")
        instance = cls()
        self._classes[cls.name] = cls
        for kind in cls.kinds:
            self._by_kind[kind] = instance
        if plugin:
            self.plugin_kinds.update(cls.kinds)
            # A plugin names the extensions it reads, each mapped to its first kind.
            for extension in getattr(cls, "extensions", ()):
                if extension in self.extension_kinds:
                    raise ConfigError(f"extension .{extension} of plugin {cls.name!r} is already read by docbatch")
                self.extension_kinds[extension] = cls.kinds[0]

    def for_kind(self, kind: str) -> Processor | None:
        return self._by_kind.get(kind)

    def describe(self) -> list[ProcessorInfo]:
        return [
            ProcessorInfo(
                name=cls.name,
                kinds=cls.kinds,
                extensions=tuple(ext for ext, kind in self.extension_kinds.items() if kind in cls.kinds),
                library=cls.library,
                library_version=library_version(cls.library),
                description=cls.description,
            )
            for cls in self._classes.values()
        ]


PLUGIN_GROUP = "docbatch.processors"


@functools.cache
def default_registry() -> Registry:
    """The built-in processors plus those installed packages offer in the `docbatch.processors`
    entry-point group (each entry point names a Processor subclass)."""
    from docbatch.errors import ConfigError

    registry = Registry()
    for entry_point in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        try:
            loaded = entry_point.load()
        except Exception as error:  # a broken plugin is named, not a traceback
            raise ConfigError(f"processor plugin {entry_point.name!r} ({entry_point.value}): {error}") from error
        if not (isinstance(loaded, type) and issubclass(loaded, Processor)):
            raise ConfigError(f"processor plugin {entry_point.name!r} is not a docbatch Processor subclass")
        registry.add(loaded, plugin=True)
    return registry


@functools.cache
def load_custom_processor(spec: str) -> Processor:
    """A processor from 'package.module:function'; the function takes a SourceFile and returns an
    Extraction or a string of text. Raises ConfigError when it cannot be imported."""
    import importlib

    from docbatch.errors import ConfigError
    from docbatch.models import Extraction
    from docbatch.processors.base import SourceFile

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--processor {spec!r}: use the form package.module:function")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"--processor {spec!r}: {error}") from error
    if not callable(function):
        raise ConfigError(f"--processor {spec!r}: {attribute} is not callable")
    module_version = str(getattr(sys.modules[module_name], "__version__", "0"))

    class CustomProcessor(Processor):
        name = spec
        kinds = ("custom",)
        library = module_name.split(".")[0]

        @classmethod
        def version(cls) -> str:
            return f"{spec}/{module_version}"

        def extract(self, source: SourceFile, kind: str) -> Extraction:
            value = function(source)
            if isinstance(value, Extraction):
                return value
            if isinstance(value, str):
                return Extraction(kind="custom", text=value)
            raise TypeError(f"{spec} returned {type(value).__name__}, not an Extraction or str")

    return CustomProcessor()
