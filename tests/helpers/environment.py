"""A hostile machine for tests: a small tmpfs that fills up, and commands run as `nobody`, for whom
permissions hold (root's override is dropped with setpriv). Tests skip where the machine cannot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO

NOBODY = 65534
_SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (`1m`, `256k`) mounted on ``folder`` for the block; skips the test where
    mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def grow_disk(folder: Path, size: str) -> None:
    """Free room on a small_disk, as an operator would: the same mount, now ``size``."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True, capture_output=True)


def as_nobody(command: list[str], *, cwd: Path) -> list[str]:
    """``command`` run as nobody (permissions apply); skips the test where that is not possible (not
    root, no setpriv, or nobody cannot reach the interpreter or this checkout)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop root's permission override")
    probe = subprocess.run(
        [*_SETPRIV, sys.executable, "-c", "import docbatch"],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run docbatch from this checkout: {probe.stderr.decode()[-200:]}")
    return [*_SETPRIV, *command]


@contextmanager
def public_folder(mode: int = 0o755) -> Iterator[Path]:
    """A fresh folder that nobody may enter (with ``mode`` 0o777 also write; pytest's tmp_path is root's
    alone); removed after."""
    folder = Path(tempfile.mkdtemp(prefix="docbatch-test-"))
    folder.chmod(mode)
    try:
        yield folder
    finally:
        for root, folders, _ in os.walk(folder):  # a test may have made parts read-only
            for name in folders:
                os.chmod(os.path.join(root, name), 0o755)
        shutil.rmtree(folder, ignore_errors=True)
