"""A `--processor` that writes to file descriptor 2 the way native libraries do (a panic message, then
backtrace frames), so that tests can see where a job's stderr ends up. Names ask for the behaviour:
``chatty*`` writes a warning and succeeds, ``panics*`` writes a panic with a backtrace and raises,
``floods*`` writes 100 KB and succeeds, ``prints*`` prints to stdout (Python and fd 1) and succeeds;
any other name goes to tests.helpers.processors.misbehave."""

from __future__ import annotations

import os
import sys

from docbatch.processors.base import SourceFile
from tests.helpers.processors import misbehave

PANIC = (
    b"thread '<unnamed>' panicked at src/parser.rs:412:9:\n"
    b"index out of bounds: the len is 3 but the index is 7\n"
    b"stack backtrace:\n"
    b"   0: rust_begin_unwind\n"
    b"             at /rustc/library/std/src/panicking.rs:652:5\n"
    b"   1: core::panicking::panic_bounds_check\n"
    b"note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n"
)


def noisy(source: SourceFile) -> str:
    name = source.path.name
    if name.startswith("chatty"):
        os.write(2, f"\x1b[33mwarning\x1b[0m: font table of {name} is damaged\n".encode())
        print(f"python says: {name} looks odd", file=sys.stderr)
        return source.read_bytes().decode("utf-8")
    if name.startswith("panics"):
        os.write(2, PANIC)
        raise ValueError("the parser panicked")
    if name.startswith("floods"):
        for line in range(2000):
            os.write(2, f"line {line:04d} of a library that never stops talking about {name}\n".encode())
        return source.read_bytes().decode("utf-8")
    if name.startswith("prints"):
        print(f"python print: reading {name}")
        os.write(1, f"native printf: {name} has 3 pages\n".encode())
        return source.read_bytes().decode("utf-8")
    return misbehave(source)
