"""What does --memory-limit cost when it has room for every worker?

    uv run python bench/memory_limit.py [FOLDER] [--jobs N] [--limit SIZE] [--rounds N]
    (defaults: ../shared/corpus, 2 jobs, 4GiB, 3 rounds)

Runs `docbatch run FOLDER -j N -q` as a subprocess without the flag and with `--memory-limit SIZE`,
alternating the two so that a busier moment of the machine weighs on both alike, each time with a
fresh output and state folder. Prints each round's wall time, the time admission waited for memory
(from report.json) and the median of each variant, with the cost of the limit in per cent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def one_run(folder: Path, jobs: int, extra: list[str]) -> tuple[float, float, int]:
    """(wall seconds, seconds throttled, exit code) of one run with fresh output and state folders."""
    with tempfile.TemporaryDirectory(prefix="docbatch-bench-") as work:
        out = Path(work) / "out"
        command = [sys.executable, "-m", "docbatch", "run", str(folder), "-j", str(jobs), "-q", "-o", str(out),
                   "--state", str(Path(work) / "state"), *extra]  # fmt: skip
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - started
        report = json.loads((out / "report.json").read_text())
        return wall, float(report["resources"]["throttled_s"]), finished.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", default="4GiB")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    variants = {"no limit": [], f"--memory-limit {options.limit}": ["--memory-limit", options.limit]}
    walls: dict[str, list[float]] = {name: [] for name in variants}
    print(f"{options.folder}, -j {options.jobs}, {options.rounds} rounds")
    for round_number in range(1, options.rounds + 1):
        for name, extra in variants.items():
            wall, throttled, code = one_run(options.folder, options.jobs, extra)
            walls[name].append(wall)
            print(f"round {round_number}  {name:<22} wall {wall:6.2f} s  throttled {throttled:5.2f} s  exit {code}")
    medians = {name: statistics.median(values) for name, values in walls.items()}
    for name, median in medians.items():
        print(f"median {name:<22} {median:6.2f} s  (min {min(walls[name]):.2f}, max {max(walls[name]):.2f})")
    base, limited = medians.values()
    print(f"cost of the limit: {(limited - base) / base:+.1%} wall time")


if __name__ == "__main__":
    main()
