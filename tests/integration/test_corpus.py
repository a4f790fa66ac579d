"""The whole developer corpus (../shared/corpus), when it is there: no hang, no crash, every document
accounted for, at least 90% of the well-formed documents extracted, and the same bytes on every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CORPUS, run_cli

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present"),
]


def test_corpus_run_reconciles_and_succeeds_on_well_formed_documents(tmp_path: Path) -> None:
    result = run_cli("run", str(CORPUS), "-o", "out", "--timeout", "60s", cwd=tmp_path, timeout=600)
    assert result.returncode == 1, result.stderr  # malformed/ holds documents that must fail
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    counts = report["counts"]
    files = sum(1 for path in CORPUS.rglob("*") if path.is_file() or path.is_symlink())
    assert counts["discovered"] == files
    assert counts["discovered"] == sum(
        counts[k] for k in ("succeeded", "skipped", "failed", "dead", "cancelled", "pending")
    )
    assert counts["pending"] == counts["cancelled"] == 0
    assert all(failure["error_kind"] for failure in report["failures"])
    well_formed = [p for p in CORPUS.rglob("*") if p.is_file() and "malformed" not in p.relative_to(CORPUS).parts]
    failed = {f["source_id"] for f in report["failures"]}
    skipped = {s["source_id"] for s in report["skipped"]}
    succeeded = [p for p in well_formed if p.relative_to(CORPUS).as_posix() not in failed | skipped]
    assert len(succeeded) / len(well_formed) >= 0.90
    _second_run_gives_the_same_bytes(tmp_path)


def _second_run_gives_the_same_bytes(tmp_path: Path) -> None:
    # A separate output and state folder, so nothing is skipped as done: every document is read again.
    again = run_cli(
        "run", str(CORPUS), "-o", "again", "--state", "state2", "--timeout", "60s", cwd=tmp_path, timeout=600
    )
    assert again.returncode == 1, again.stderr

    def outputs(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*.json")
            if p.name != "report.json" and p.relative_to(root).parts[0] != "reports"
        }

    first, second = outputs(tmp_path / "out"), outputs(tmp_path / "again")
    assert first.keys() == second.keys() and len(first) > 800
    differing = sorted(name for name in first if first[name] != second[name])
    assert differing == []
