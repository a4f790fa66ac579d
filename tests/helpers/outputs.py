"""What two runs are compared by: their output files, byte for byte."""

from __future__ import annotations

from pathlib import Path


def output_files(root: Path) -> dict[str, bytes]:
    """Every output under ``root`` (POSIX path relative to it -> bytes), without the run reports and the
    output folder's owner file: those name the run and the ledger, which differ between runs compared."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and path.name not in {"report.json", ".docbatch-output"}
        and path.relative_to(root).parts[0] != "reports"
    }
