#!/usr/bin/env python3
"""The coordinator's memory over a run of N distinct tiny documents (issue 15, item 6).

    .venv/bin/python bench/memory_curve.py --count 1000000 --format jsonl --out /tmp/curve-jsonl
    .venv/bin/python bench/memory_curve.py --count 200000 --format json --out /tmp/curve-json

Runs the real CLI in a subprocess (`docbatch run FOLDERS -j 2 -q --format F`) over --count distinct
files (a cached tree of folders of 1,000 tiny text files each, under --tree, built once and reused),
and samples the coordinator process alone (not its workers) every --interval seconds: RSS and USS
(psutil), and from /proc/PID/smaps_rollup the anonymous memory. Every --smaps-every seconds it also
splits the RSS by mapping ([heap], anonymous mappings such as glibc's thread arenas, the ledger's
files, everything else). Progress (documents done) is read from the run's heartbeat in the ledger
(`runs.counts`, what `docbatch status --json` prints), read-only, so the sampler costs the run nothing.

Writes OUT/curve.csv (one row a sample) and OUT/summary.json, and prints the RSS when the run had done
1k, 10k, 100k and 1M documents, its peak, the documents per second and the coordinator's CPU time per
document (steadier than the wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
DOCBATCH = str(REPO / ".venv" / "bin" / "docbatch")
PER_FOLDER = 1000
MILESTONES = (1_000, 10_000, 100_000, 1_000_000)


def build_tree(tree: Path, count: int) -> list[Path]:
    """Folders d000, d001, ... of 1,000 distinct tiny files each, enough for ``count`` documents.
    A folder is reused when its marker says it is complete (a million files take minutes to make)."""
    folders = []
    for number in range((count + PER_FOLDER - 1) // PER_FOLDER):
        folder = tree / f"d{number:04d}"
        marker = tree / f".d{number:04d}.done"
        if not marker.exists():
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(number * PER_FOLDER, (number + 1) * PER_FOLDER):
                text = f"note {index}: the quick brown fox jumps over the lazy dog.\n"
                (folder / f"note{index:07d}.txt").write_text(text)
            marker.touch()
        folders.append(folder)
    return folders


def progress(ledger: Path) -> int | None:
    """Documents the run has finished, from its last heartbeat (None before the first one)."""
    if not ledger.exists():
        return None
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT counts FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    if not row or not row[0]:
        return None
    return int(json.loads(row[0]).get("processed", 0))


def rollup(pid: int) -> dict[str, int]:
    """/proc/PID/smaps_rollup in bytes (Rss, Pss, Anonymous, ...)."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                values[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return values


def by_mapping(pid: int) -> dict[str, int]:
    """RSS in bytes grouped: [heap], anonymous mappings (thread arenas, mmapped allocations), the
    ledger's files, shared libraries and the rest."""
    groups: dict[str, int] = {}
    name = "?"
    with open(f"/proc/{pid}/smaps") as handle:
        for line in handle:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):  # a mapping's header line
                fields = line.split()
                path = fields[5] if len(fields) > 5 else ""
                if path == "[heap]":
                    name = "heap"
                elif not path:
                    name = "anon"
                elif "ledger.sqlite" in path:
                    name = "ledger"
                elif path.startswith("["):
                    name = "other"
                else:
                    name = "files"
            elif first == "Rss:":
                groups[name] = groups.get(name, 0) + int(line.split()[1]) * 1024
    return groups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="distinct documents (rounded up to 1,000s)")
    parser.add_argument("--format", default="jsonl", choices=["json", "jsonl", "md", "txt"])
    parser.add_argument("--out", type=Path, required=True, help="folder for curve.csv and summary.json")
    parser.add_argument("--tree", type=Path, default=Path("/tmp/docbatch-mem-tree"), help="cached input tree")
    parser.add_argument("--work", type=Path, help="output and state folder of the run (default OUT/run)")
    parser.add_argument("--jobs", "-j", type=int, default=2)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--smaps-every", type=float, default=10.0, help="seconds between RSS-by-mapping samples")
    parser.add_argument("--keep", action="store_true", help="keep the run's outputs and ledger")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    args = parser.parse_args()

    started = time.perf_counter()
    folders = build_tree(args.tree, args.count)
    count = len(folders) * PER_FOLDER
    took = time.perf_counter() - started
    print(f"tree: {count} documents in {len(folders)} folders under {args.tree} ({took:.1f} s)")
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "run"
    shutil.rmtree(work, ignore_errors=True)
    output, state = work / "out", work / "state"
    command = [DOCBATCH, "run", *map(str, folders), "-j", str(args.jobs), "-q", "-o", str(output),
               "--state", str(state), "--format", args.format]  # fmt: skip
    env = dict(os.environ)
    for pair in args.env:
        name, _, value = pair.partition("=")
        env[name] = value

    samples: list[dict[str, float | int | None]] = []
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env)
    process = psutil.Process(child.pid)
    last_smaps = -args.smaps_every
    done_seen = 0
    while child.poll() is None:
        now = time.perf_counter() - start
        try:
            info = process.memory_full_info()
            roll = rollup(child.pid)
            mappings = by_mapping(child.pid) if now - last_smaps >= args.smaps_every else None
        except (psutil.Error, OSError):
            break
        if mappings is not None:
            last_smaps = now
        done = progress(state / "ledger.sqlite")
        done_seen = max(done_seen, done or 0)
        row: dict[str, float | int | None] = {
            "t_s": round(now, 2),
            "done": done,
            "rss_mb": round(info.rss / 2**20, 2),
            "uss_mb": round(info.uss / 2**20, 2),
            "anon_mb": round(roll.get("Anonymous", 0) / 2**20, 2),
            "threads": process.num_threads(),
            "cpu_s": round(sum(process.cpu_times()[:2]), 2),
        }
        for group in ("heap", "anon", "ledger", "files", "other"):
            row[f"map_{group}_mb"] = round(mappings.get(group, 0) / 2**20, 2) if mappings else None
        samples.append(row)
        time.sleep(max(0.0, args.interval - (time.perf_counter() - start - now)))
    exit_code = child.wait()
    wall = time.perf_counter() - start

    report_path = output / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    peak_reported = report.get("resources", {}).get("coordinator_peak_rss_bytes")
    with (args.out / "curve.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(samples[0]) if samples else ["t_s"])
        writer.writeheader()
        writer.writerows(samples)

    at: dict[str, float | None] = {}
    for milestone in MILESTONES:
        if milestone > count:
            continue
        hit = next((s for s in samples if s["done"] is not None and s["done"] >= milestone), None)
        if hit is None and samples and milestone == count and exit_code == 0:
            hit = samples[-1]  # the run ended before a heartbeat said so: its last sample is at the end
        at[str(milestone)] = hit["rss_mb"] if hit else None
    if samples:  # the last sample stands for the end of the run
        at["end"] = samples[-1]["rss_mb"]
    summary = {
        "count": count,
        "format": args.format,
        "jobs": args.jobs,
        "exit_code": exit_code,
        "wall_s": round(wall, 1),
        "docs_per_s": round(count / wall, 1),
        # The coordinator's own CPU per document (at the last sample): steadier than wall time on a
        # machine shared with other work.
        "coordinator_cpu_us_per_doc": round(float(samples[-1]["cpu_s"] or 0) / count * 1e6, 1) if samples else None,
        "counts": report.get("counts"),
        "rss_mb_at": at,
        "peak_rss_mb_sampled": max((float(s["rss_mb"] or 0) for s in samples), default=None),
        "peak_rss_mb_reported": round(peak_reported / 2**20, 1) if peak_reported else None,
        "env": args.env,
        "command": " ".join(command[:2]) + f" <{len(folders)} folders> " + " ".join(command[2 + len(folders) :]),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
