"""The shared fidelity cases (../shared/fidelity), when they are there: documents rebuilt from problems
people reported against extraction libraries, each with its right result. All of them must come out
right; the unit tests hold each right value with fixtures of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

FIDELITY = REPO.parent / "shared" / "fidelity"

pytestmark = pytest.mark.skipif(not (FIDELITY / "check.py").is_file(), reason="../shared/fidelity is not present")


def test_every_fidelity_case_comes_out_right(tmp_path: Path) -> None:
    cases = FIDELITY / "cases"
    run = run_cli("run", str(cases), "-o", "out", "--state", "state", "-j", "1", "-q", cwd=tmp_path, timeout=300)
    assert run.returncode in (0, 1), run.stderr
    check = subprocess.run(
        [sys.executable, str(FIDELITY / "check.py"), str(cases), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    total = len([p for p in cases.iterdir() if p.is_file()])
    assert f"{total} of {total} cases right" in check.stdout, check.stdout
