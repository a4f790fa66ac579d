"""docbatch: batch text and metadata extraction for folders of documents.

The names below are the promise to plugin authors (custom processors and executors); everything
else is internal and may change between releases.
"""

__version__ = "0.1.0"

__all__ = [
    # writing a processor
    "Extraction",
    "Page",
    "Processor",
    "SourceFile",
    # telling docbatch why a document cannot be read
    "CorruptDocument",
    "DocumentError",
    "EmptyDocument",
    "EncryptedDocument",
    "ErrorKind",
    "UnsupportedDocument",
    "__version__",
]


def __getattr__(name: str) -> object:
    # Resolved lazily so that `import docbatch` (and `docbatch --help`) stays fast.
    if name in {"Extraction", "Page", "ErrorKind"}:
        from docbatch import models

        return getattr(models, name)
    if name in {"Processor", "SourceFile"}:
        from docbatch.processors import base

        return getattr(base, name)
    if name in {
        "CorruptDocument",
        "DocumentError",
        "EmptyDocument",
        "EncryptedDocument",
        "UnsupportedDocument",
    }:
        from docbatch import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'docbatch' has no attribute {name!r}")
