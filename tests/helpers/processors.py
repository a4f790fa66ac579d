"""Custom processors for tests (`--processor tests.helpers.processors:NAME`): they misbehave on purpose
when a document's name asks them to, and read it as text otherwise."""

from __future__ import annotations

import ctypes
import os
import subprocess
import time
from pathlib import Path

from docbatch.processors.base import SourceFile


def misbehave(source: SourceFile) -> str:
    """Misbehaves as the file name says (hang*, exit*, segfault*, abort*, raise*) unless the content starts with
    'fixed', which is how a test repairs a document in place."""
    if source.read_bytes().startswith(b"fixed"):
        return source.read_bytes().decode("utf-8")
    name = source.path.name
    if name.startswith("hang"):
        while True:
            time.sleep(0.05)
    if name.startswith("exit"):
        os._exit(3)
    if name.startswith("segfault"):
        ctypes.string_at(0)
    if name.startswith("abort"):  # a native library's last words on stderr, then an abort
        os.write(2, b"memory allocation of 549742182400 bytes failed\nstack backtrace:\n   0: rust_oom\n")
        os.abort()
    if name.startswith("raise"):
        raise ValueError("bad bytes at offset 7")
    if name.startswith("alloc"):  # allocates without end, touching every page so that RSS grows
        hoard = []
        while True:
            hoard.append(bytearray(b"x" * (16 * 2**20)))
            time.sleep(0.01)
    if name.startswith("hold"):  # holds 120 MiB for a while, then succeeds
        held = bytearray(120 * 2**20)
        for offset in range(0, len(held), 4096):  # touch every page so that it counts in RSS
            held[offset] = 1
        time.sleep(1.0)
        return f"held {len(held)} bytes"
    if name.startswith("slow"):
        time.sleep(1.5)
    if name.startswith("spawn"):  # starts a child process, tells the test its pid, then hangs
        child = subprocess.Popen(["sleep", "600"])
        Path(os.environ["DOCBATCH_TEST_CHILD_PID"]).write_text(str(child.pid))
        while True:
            time.sleep(0.05)
    return source.read_bytes().decode("utf-8")


def record_order(source: SourceFile) -> str:
    """Append the document's name to the file named by $DOCBATCH_TEST_ORDER_LOG (start order)."""
    log = Path(os.environ["DOCBATCH_TEST_ORDER_LOG"])
    with log.open("a") as handle:
        handle.write(source.path.name + "\n")
    return "ok"


def chaos(source: SourceFile) -> object:
    """Misbehaves for names that ask for it (see misbehave); every other document goes through the
    built-in detection and processors, so one folder can mix real documents with hostile ones."""
    if source.path.name.startswith(("hang", "exit", "segfault", "raise", "alloc")):
        return misbehave(source)
    from docbatch.processors.registry import default_registry
    from docbatch.processors.sniff import detect

    kind = detect(source.path, source.path.suffix.lower().lstrip("."), source.head).kind
    processor = default_registry().for_kind(kind)
    assert processor is not None
    return processor.extract(source, kind)


def meet(source: SourceFile) -> str:
    """Waits (up to 20 s) until another job has started too, then says whether they met: two jobs that
    run at the same time both return "met"; a job that ran alone returns "alone". The meeting place is
    the folder named by $DOCBATCH_TEST_MEET_DIR."""
    place = Path(os.environ["DOCBATCH_TEST_MEET_DIR"])
    (place / f"{source.path.name}.{os.getpid()}").touch()
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if len(list(place.iterdir())) >= 2:
            return "met"
        time.sleep(0.05)
    return "alone"
