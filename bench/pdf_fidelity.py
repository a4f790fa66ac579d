"""How faithful is docbatch's PDF text? Compare it with poppler's `pdftotext` on every PDF of a folder.

    uv run python bench/pdf_fidelity.py ../shared/corpus/pdf

Two measures per PDF: (1) word-sequence similarity, difflib's ratio over case-folded words (2 x
matching words / total words), which also scores reading order; (2) character overlap, the multiset
intersection of non-space characters over the larger count, which ignores order and word spacing
(column order and RTL runs differ legitimately between extractors). Prints medians, shares above
thresholds and the worst ten. Needs poppler-utils (apt-get install poppler-utils).
"""

from __future__ import annotations

import difflib
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

from docbatch.executors.job import run_job
from docbatch.models import JobSpec, JobState


def words(text: str) -> list[str]:
    return text.casefold().split()


def char_overlap(ours: str, theirs: str) -> float:
    a = Counter(ch for ch in ours if not ch.isspace())
    b = Counter(ch for ch in theirs if not ch.isspace())
    larger = max(sum(a.values()), sum(b.values()))
    return sum((a & b).values()) / larger if larger else 1.0


def poppler_text(path: Path) -> str | None:
    result = subprocess.run(["pdftotext", "-q", "-enc", "UTF-8", str(path), "-"], capture_output=True, timeout=120)
    return result.stdout.decode("utf-8", errors="replace") if result.returncode == 0 else None


def main() -> None:
    folder = Path(sys.argv[1])
    scores: list[tuple[float, str, int, int]] = []
    overlaps: list[float] = []
    for path in sorted(folder.rglob("*.pdf")):
        result = run_job(JobSpec(source_id=path.name, path=str(path), size=path.stat().st_size))
        reference = poppler_text(path)
        if result.state is not JobState.SUCCEEDED or result.extraction is None or reference is None:
            continue
        ours, theirs = words(result.extraction.text), words(reference)
        if not ours and not theirs:
            continue
        matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
        scores.append((matcher.ratio(), str(path.relative_to(folder)), len(ours), len(theirs)))
        overlaps.append(char_overlap(result.extraction.text, reference))
    ratios = [score for score, *_ in scores]
    total_ours = sum(n for *_, n, _ in scores)
    total_theirs = sum(n for *_, n in scores)
    print(f"PDFs compared: {len(scores)}  words docbatch: {total_ours}  words pdftotext: {total_theirs}")
    print(f"word-sequence similarity: median {statistics.median(ratios):.3f}, mean {statistics.fmean(ratios):.3f}")
    print(f"documents >= 0.95: {sum(r >= 0.95 for r in ratios)}, >= 0.90: {sum(r >= 0.9 for r in ratios)}")
    print(
        f"character overlap: median {statistics.median(overlaps):.3f}, "
        f"mean {statistics.fmean(overlaps):.3f}, "
        f">= 0.95: {sum(o >= 0.95 for o in overlaps)}, >= 0.90: {sum(o >= 0.9 for o in overlaps)}"
    )
    print("lowest ten by word sequence:")
    for score, name, ours_n, theirs_n in sorted(scores)[:10]:
        print(f"  {score:.3f}  {name}  ({ours_n} vs {theirs_n} words)")


if __name__ == "__main__":
    main()
