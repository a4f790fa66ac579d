"""`--exec 'CMD {in} {out}'`: an existing command-line tool as the processor, run inside the same
supervised worker (so the timeout and memory limits kill it with its process group).

The template is split like a shell would split it, but no shell ever runs: `{in}` and `{out}` are
replaced inside the arguments by the input path and a temporary output path, so a file named
`$(touch x).pdf` is just an argument. The command's output file (or its stdout when the template has
no `{out}`) becomes the document's text. A non-zero exit fails the document with its status and the
end of its stderr.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import ClassVar

from docbatch.errors import ConfigError, CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.textdecode import decode_text

_STDERR_TAIL = 500


def parse_template(template: str) -> list[str]:
    """Split the template; raise ConfigError when it is empty, unbalanced or lacks `{in}`."""
    try:
        arguments = shlex.split(template)
    except ValueError as error:
        raise ConfigError(f"--exec {template!r}: {error}") from None
    if not arguments:
        raise ConfigError("--exec needs a command")
    if not any("{in}" in argument for argument in arguments):
        raise ConfigError(f"--exec {template!r}: the command must take the document as {{in}}")
    _check_program(template, arguments[0])
    return arguments


def _check_program(template: str, program: str) -> None:
    """Refuse a program that cannot run, before the batch: otherwise every document fails alike."""
    if "{in}" in program or "{out}" in program:
        return  # the program itself is a document's path; nothing to check before there is one
    if "/" in program:
        path = Path(program)
        if not path.is_file():
            raise ConfigError(f"--exec {template!r}: no program {program}")
        if not os.access(path, os.X_OK):
            raise ConfigError(f"--exec {template!r}: {program} is not executable")
    elif shutil.which(program) is None:
        raise ConfigError(f"--exec {template!r}: no program {program!r} on PATH")


class CommandProcessor(Processor):
    name = "exec"
    kinds: ClassVar[tuple[str, ...]] = ("exec",)
    library = "python"
    description = "an external command per document (--exec)"

    def __init__(self, template: str) -> None:
        self.template = template
        self.arguments = parse_template(template)

    def version(self) -> str:  # type: ignore[override]
        # The recipe changes when the command line changes.
        return f"exec/{self.template}"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        with tempfile.TemporaryDirectory(prefix="docbatch-exec-") as folder:
            out = Path(folder) / f"out{source.path.suffix}.txt"
            arguments = [
                argument.replace("{in}", str(source.path)).replace("{out}", str(out)) for argument in self.arguments
            ]
            completed = subprocess.run(arguments, capture_output=True, stdin=subprocess.DEVNULL, check=False)
            if completed.returncode != 0:
                stderr = completed.stderr.decode("utf-8", errors="replace").strip()[-_STDERR_TAIL:]
                raise CorruptDocument(f"{arguments[0]} exited with status {completed.returncode}: {stderr}")
            uses_out = any("{out}" in argument for argument in self.arguments)
            data = out.read_bytes() if uses_out and out.exists() else completed.stdout
        text, encoding = decode_text(data) if data else ("", "utf-8")
        return Extraction(kind="exec", text=text, metadata={"command": arguments[0], "encoding": encoding})
