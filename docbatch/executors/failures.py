"""Failure messages a person can act on: the document named by its id, the fault said in words.

A worker runs on many machines; an absolute path in a message differs between them and leaks the
layout of one machine into reports. A raw exception repr (``KeyError: 'word/document.xml'``) says
what broke inside a library, not what is wrong with the document.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zipfile
from xml.etree.ElementTree import ParseError

_MAX_MESSAGE = 500


def describe_exception(error: BaseException) -> str:
    """What an unexpected exception from a parser library says about the document, in words.

    Shape: one line, at most 500 characters, no exception class names for the common kinds.
    """
    detail = " ".join(str(error).split())
    if isinstance(error, KeyError):
        described = f"a part or entry it needs is missing ({detail})"
    elif isinstance(error, UnicodeDecodeError):
        described = f"bytes that are not valid {error.encoding} at offset {error.start}"
    elif isinstance(error, zipfile.BadZipFile):
        described = f"broken ZIP container ({detail})"
    elif isinstance(error, ParseError):
        described = f"invalid XML ({detail})"
    elif isinstance(error, struct.error | EOFError):
        described = "the file is truncated or its binary structure is malformed"
    elif isinstance(error, IndexError):
        described = "a reference inside the file points past the end of what it holds"
    elif isinstance(error, ValueError) and detail:
        described = detail
    elif detail:
        described = f"unexpected structure ({detail})"
    else:
        described = f"unexpected structure ({_words(type(error).__name__)})"
    return described[:_MAX_MESSAGE]


def _words(class_name: str) -> str:
    """``NotImplementedError`` -> ``not implemented error``."""
    spaced = "".join(f" {char.lower()}" if char.isupper() else char for char in class_name)
    return spaced.strip()


def without_paths(message: str, path: str, source_id: str) -> str:
    """``message`` with the document's path (as given, absolute, or resolved) replaced by its id."""
    candidates = {path, os.path.abspath(path)}
    with contextlib.suppress(OSError, ValueError):
        candidates.add(os.path.realpath(path))
    for candidate in sorted(candidates, key=len, reverse=True):
        if candidate and candidate in message:
            message = message.replace(candidate, source_id)
    return message
