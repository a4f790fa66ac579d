#!/usr/bin/env python3
"""docbatch beside its peers, back to back, on the same files and machine (issue 6).

    uv run python bench/harness.py pdf    [--rounds 3] [--copies 5] [--markitdown]
    uv run python bench/harness.py mixed  [--rounds 3] [--markitdown]
    uv run python bench/harness.py tiny   [--rounds 3] [--count 20000]
    uv run python bench/harness.py scale  [--count 1000000]
    uv run python bench/harness.py all
    uv run python bench/harness.py tiny --docbatch-only --against ../base   # this tree vs another checkout

--against DIR adds the docbatch of another checkout (its DIR/.venv) to the pdf and tiny cases, in the
same alternating rounds, so a change is measured back to back with the code before it on one machine;
--docbatch-only leaves the peers out (GNU parallel alone takes minutes a round on 20,000 files).

Every command is timed as a whole process tree: this harness makes itself a child subreaper, so the
CPU time of every descendant (workers, fork servers, GNU parallel's children) is collected when they
are reaped, and the tree's total RSS is sampled every 20 ms for the peak. Rounds alternate between
the tools (A B C A B C ...) so that drift on a shared machine hits all of them alike; medians and
ratios to the case's reference are printed as a Markdown table and saved as JSON in --results.

Peers: pypdfium2 in multiprocessing.Pool (the practical limit, ../shared/bench/peers_extract.py),
GNU parallel + pdftotext, markitdown in a Pool, GNU parallel and xargs -P running `wc -c`. Missing
tools are installed as ../shared/bench/peers.sh does (apt for parallel/poppler-utils, a venv at
/tmp/peers-venv for pypdfium2 and markitdown).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
PEERS_EXTRACT = SHARED / "bench" / "peers_extract.py"
PEERS_VENV = Path("/tmp/peers-venv")
DOCBATCH = [str(REPO / ".venv" / "bin" / "docbatch")]
_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Measure:
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    exit_code: int


@dataclass
class Tool:
    label: str
    command: list[str]
    setup: list[str] = field(default_factory=list)  # paths emptied before every round
    rounds: int | None = None  # fewer rounds for a slow peer
    documents: int | None = None  # when it runs on a subset (a slow peer); rates are compared then
    before_round: Callable[[], None] | None = None  # not timed: start services the command uses
    after_round: Callable[[], None] | None = None  # not timed: stop them


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def measure(command: list[str], cores: int) -> Measure:
    """Run one command; wall time to its exit, CPU and peak RSS of everything it started."""
    before = os.times()
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        me = psutil.Process()
        while not done.is_set():
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            peak = max(peak, total)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler.start()
    code = process.wait()
    wall = time.perf_counter() - started
    # Reap what the command left behind (reparented to us as the subreaper), so its CPU is counted.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
    done.set()
    sampler.join()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return Measure(round(wall, 3), round(cpu, 3), peak, code)


def run_case(name: str, tools: list[Tool], documents: int, rounds: int, results_dir: Path) -> list[dict[str, object]]:
    cores = os.cpu_count() or 1
    runs: dict[str, list[Measure]] = {tool.label: [] for tool in tools}
    for round_index in range(rounds):
        for tool in tools:
            if tool.rounds is not None and round_index >= tool.rounds:
                continue
            for path in tool.setup:
                shutil.rmtree(path, ignore_errors=True)
            if tool.before_round is not None:
                tool.before_round()
            try:
                found = measure(tool.command, cores)
            finally:
                if tool.after_round is not None:
                    tool.after_round()
            runs[tool.label].append(found)
            print(f"  {name} round {round_index + 1} {tool.label}: {found.wall_s:.2f}s exit {found.exit_code}",
                  file=sys.stderr, flush=True)  # fmt: skip
    rows = []
    reference = None
    for tool in tools:
        measured = runs[tool.label]
        wall = statistics.median(m.wall_s for m in measured)
        cpu = statistics.median(m.cpu_s for m in measured)
        rate = (tool.documents or documents) / wall
        reference = reference or rate
        rows.append(
            {
                "case": name,
                "tool": tool.label,
                "documents": tool.documents or documents,
                "rounds": len(measured),
                "wall_s": round(wall, 3),
                "vs_reference": round(reference / rate, 3),  # times slower per document than the first row
                "docs_per_s": round(rate, 1),
                "cpu_utilisation": round(cpu / wall / cores, 3),
                "peak_tree_rss_mb": round(max(m.peak_rss_bytes for m in measured) / 2**20, 1),
                "exit_codes": sorted({m.exit_code for m in measured}),
                "walls": [m.wall_s for m in measured],
            }
        )
    print_table(name, documents, rows)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def print_table(name: str, documents: int, rows: list[dict[str, object]]) -> None:
    print(f"\n### {name}: {documents} documents, {os.cpu_count()} cores, medians\n")
    print("| tool | docs | wall s | per doc vs first row | docs/s | CPU use | peak tree RSS MB | rounds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['tool']} | {row['documents']} | {row['wall_s']:.2f} | {row['vs_reference']:.2f}x | "
            f"{row['docs_per_s']:.1f} | "
            f"{row['cpu_utilisation']:.2f} | {row['peak_tree_rss_mb']:.0f} | {row['rounds']} |"
        )
    sys.stdout.flush()


def ensure_peers(markitdown: bool) -> None:
    if not shutil.which("parallel") or not shutil.which("pdftotext"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "parallel", "poppler-utils"], check=True)
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    packages = ["pypdfium2"] + (["markitdown[pdf]"] if markitdown else [])
    probe = "import pypdfium2" + ("; import markitdown" if markitdown else "")
    if subprocess.run([str(python), "-c", probe], capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)


def file_list(paths: list[Path], into: Path) -> Path:
    into.write_text("".join(f"{path}\n" for path in paths))
    return into


def markitdown_tool(args: argparse.Namespace, listing: Path, work: Path, documents: int | None = None) -> Tool:
    """markitdown in a Pool, one round (it is slow), with the peers' 60 s per-file alarm."""
    command = [str(PEERS_VENV / "bin" / "python"), str(PEERS_EXTRACT), "--tool", "markitdown", "--jobs",
               str(args.jobs), "--timeout", "60", "--list", str(listing), "--out", str(work / "md-out")]  # fmt: skip
    label = f"markitdown Pool({args.jobs})" + (f", first {documents}" if documents else "")
    return Tool(label, command, setup=[str(work / "md-out")], rounds=1, documents=documents)


def docbatch_tool(label: str, source: Path, work: Path, jobs: int, *extra: str, program: Path | None = None) -> Tool:
    """docbatch of this tree (or ``program``, another checkout's executable) run on ``source``."""
    out, state = work / f"{label}-out", work / f"{label}-state"
    executable = [str(program)] if program else DOCBATCH
    command = [*executable, "run", str(source), "-j", str(jobs), "-q", "-o", str(out), "--state", str(state), *extra]
    return Tool(label, command, setup=[str(out), str(state)])


class WarmWorkers:
    """``count`` `docbatch worker` processes of one slot each, started before a round and drained
    after it, as long-running workers are in production: their start-up is not timed, nor their CPU
    (the table's CPU column then counts the coordinator alone)."""

    def __init__(self, url: str, count: int, env: dict[str, str], folder: Path) -> None:
        self.url, self.count, self.env, self.folder = url, count, env, folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for index in range(self.count):
            log = self.folder / f"worker{index}.log"
            with open(log, "wb") as stream:
                command = [*DOCBATCH[:1], "worker", self.url, "-j", "1"]
                self.processes.append(
                    subprocess.Popen(command, stdout=stream, stderr=stream, stdin=subprocess.DEVNULL, env=self.env)
                )
        deadline = time.monotonic() + 60
        for index in range(self.count):  # each says "worker HOST:PID: 1 slots on URL" once connected
            log = self.folder / f"worker{index}.log"
            while "slots on" not in log.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"a worker did not connect to {self.url}: {log.read_text()[-500:]}")
                time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(60)
        self.processes = []


def broker_tools(args: argparse.Namespace, source: Path, work: Path) -> list[Tool]:
    """docbatch through each --broker, with --jobs warm workers of one slot each (WarmWorkers); the
    broker server itself runs outside the measured tree, as in production."""
    sys.path.insert(0, str(REPO))
    from tests.helpers.brokers import STARTERS, fresh_queue_name

    tools = []
    for kind in args.broker or []:
        server = STARTERS[kind](Path(tempfile.mkdtemp(prefix=f"bench-{kind}-")))
        _BROKERS.append(server)
        os.environ.update(server.env)  # SQS: the stand-in's endpoint and fake credentials
        url = server.url(fresh_queue_name())
        workers = WarmWorkers(url, args.jobs, dict(os.environ), work / f"{kind}-workers")
        label = f"docbatch via {kind}, {args.jobs} warm workers"
        tool = docbatch_tool(label, source, work, args.jobs, "--executor", url)
        tool.before_round, tool.after_round = workers.start, workers.stop
        tools.append(tool)
    return tools


_BROKERS: list[object] = []


def chosen_tools(args: argparse.Namespace, tools: list[Tool], source: Path, work: Path) -> list[Tool]:
    """``tools`` without the peers when --docbatch-only, plus the --against checkout's docbatch and
    docbatch through each --broker."""
    if args.docbatch_only:
        tools = [tool for tool in tools if tool.label.startswith("docbatch")]
    tools += broker_tools(args, source, work)
    if args.against is not None:
        other = args.against.resolve()
        program = other / ".venv" / "bin" / "docbatch"
        if not program.exists():
            raise SystemExit(f"--against {args.against}: no {program} (run `uv sync --frozen` there)")
        tools.append(docbatch_tool(f"docbatch at {other.name}", source, work, args.jobs, program=program))
    return tools


def case_pdf(args: argparse.Namespace, work: Path) -> None:
    """(a) PDF extraction: the corpus PDFs copied --copies times (about 450 files) against the limit."""
    originals = sorted(p for p in (CORPUS / "pdf").rglob("*.pdf") if p.is_file())
    folder = work / "pdf"
    for copy in range(args.copies):
        for index, original in enumerate(originals):
            target = folder / f"copy{copy}" / f"{index:03d}-{original.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(original, target)
    paths = sorted(folder.rglob("*.pdf"))
    listing = file_list(paths, work / "pdf.list")
    if not args.docbatch_only:
        ensure_peers(args.markitdown)
    peer = str(PEERS_VENV / "bin" / "python")
    tools = [
        Tool(
            f"pypdfium2 Pool({args.jobs}) (limit)",
            [
                peer,
                str(PEERS_EXTRACT),
                "--tool",
                "pdfium",
                "--jobs",
                str(args.jobs),
                "--list",
                str(listing),
                "--out",
                str(work / "pool-out"),
            ],
            setup=[str(work / "pool-out")],
        ),  # fmt: skip
        docbatch_tool("docbatch", folder, work, args.jobs),
        Tool(
            f"parallel -j{args.jobs} pdftotext",
            [
                "parallel",
                f"-j{args.jobs}",
                "pdftotext",
                "-q",
                "{}",
                str(work / "pt-out") + "/{#}.txt",
                "::::",
                str(listing),
            ],
            setup=[],
        ),  # fmt: skip
    ]
    (work / "pt-out").mkdir(exist_ok=True)
    if args.markitdown:
        # About 40x slower than the limit: one round on the first 100, as in the reference.
        subset = file_list(paths[:100], work / "pdf100.list")
        tools.append(markitdown_tool(args, subset, work, documents=min(100, len(paths))))
    run_case("pdf", chosen_tools(args, tools, folder, work), len(paths), args.rounds, args.results)


def case_mixed(args: argparse.Namespace, work: Path) -> None:
    """(b) the whole mixed corpus (every format, malformed files included)."""
    paths = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    tools = [docbatch_tool("docbatch", CORPUS, work, args.jobs)]
    if importlib.util.find_spec("distributed") is not None:  # issue 7: a LocalCluster of the same size
        tools.append(
            docbatch_tool(
                f"docbatch --executor dask-local:{args.jobs}",
                CORPUS,
                work,
                args.jobs,
                "--executor",
                f"dask-local:{args.jobs}",
            )  # fmt: skip
        )
    if args.markitdown:
        ensure_peers(True)
        listing = file_list(paths, work / "mixed.list")
        tools.append(markitdown_tool(args, listing, work))
    run_case("mixed", tools, len(paths), args.rounds, args.results)


def make_tiny(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"d{index // 1000:03d}" / f"note{index:06d}.txt"
        if index % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"note {index}: the quick brown fox jumps over the lazy dog.\n")
        paths.append(path)
    return paths


def case_tiny(args: argparse.Namespace, work: Path) -> None:
    """(c) tiny text files: docbatch (ledger on) against GNU parallel and xargs -P running `wc -c`."""
    folder = work / "tiny"
    paths = make_tiny(folder, args.count)
    listing = file_list(paths, work / "tiny.list")
    shm = Path("/dev/shm") / f"docbatch-bench-{os.getpid()}"
    shm.mkdir(exist_ok=True)
    try:
        tools = [
            Tool(
                f"xargs -P{args.jobs} wc -c",
                ["sh", "-c", f"xargs -a {listing} -d '\\n' -n1 -P{args.jobs} wc -c >/dev/null"],
            ),  # fmt: skip
            Tool(f"parallel -j{args.jobs} wc -c", ["parallel", f"-j{args.jobs}", "wc", "-c", "::::", str(listing)]),
            docbatch_tool("docbatch, one JSON file per document", folder, work, args.jobs),
            docbatch_tool("docbatch, one JSON file per document, outputs on tmpfs", folder, shm, args.jobs),
            docbatch_tool("docbatch --format jsonl", folder, work, args.jobs, "--format", "jsonl"),
        ]
        run_case("tiny", chosen_tools(args, tools, folder, work), len(paths), args.rounds, args.results)
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def case_scale(args: argparse.Namespace, work: Path) -> None:
    """(d) a manifest of --count tiny entries (1,000 distinct files, distinct ids): coordinator memory,
    ledger size, the time to re-run it with everything done, and `docbatch status` on its ledger."""
    files = make_tiny(work / "scale-files", 1000)
    manifest = work / "scale.csv"
    with manifest.open("w") as handle:
        handle.write("id,path\n")
        for index in range(args.count):
            handle.write(f"doc{index:07d},{files[index % len(files)]}\n")
    out, state = work / "scale-out", work / "scale-state"
    base = [*DOCBATCH, "run", "--manifest", str(manifest), "-j", str(args.jobs), "-q", "-o", str(out),
            "--state", str(state), "--format", "jsonl"]  # fmt: skip
    first = measure(base, os.cpu_count() or 1)
    report = json.loads((out / "report.json").read_text())
    again = measure(base, os.cpu_count() or 1)
    rerun = json.loads((out / "report.json").read_text())
    status_times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([*DOCBATCH, "status", "--state", str(state)], capture_output=True, check=True)
        status_times.append(time.perf_counter() - started)
    row = {
        "case": "scale",
        "documents": args.count,
        "first_run_wall_s": first.wall_s,
        "first_run_docs_per_s": round(args.count / first.wall_s, 1),
        "coordinator_peak_rss_mb": round(report["resources"]["coordinator_peak_rss_bytes"] / 2**20, 1),
        "ledger_mb": round((state / "ledger.sqlite").stat().st_size / 1e6, 1),
        "rerun_wall_s": again.wall_s,
        "rerun_skipped": rerun["counts"]["skipped"],
        "rerun_coordinator_peak_rss_mb": round(rerun["resources"]["coordinator_peak_rss_bytes"] / 2**20, 1),
        "status_median_s": round(statistics.median(status_times), 3),
        "exit_codes": [first.exit_code, again.exit_code],
    }
    print(f"\n### scale: {args.count} manifest entries\n")
    for key, value in row.items():
        print(f"- {key}: {value}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "scale.json").write_text(json.dumps(row, indent=2) + "\n")


CASES = {"pdf": case_pdf, "mixed": case_mixed, "tiny": case_tiny, "scale": case_scale}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=[*CASES, "all"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--copies", type=int, default=5, help="pdf: copies of the corpus PDFs")
    parser.add_argument("--count", type=int, help="tiny: files (20,000); scale: manifest entries (1,000,000)")
    parser.add_argument("--markitdown", action="store_true", help="also time markitdown (slow: one round)")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed after)")
    parser.add_argument("--against", type=Path, help="pdf, tiny: also time the docbatch of this other checkout")
    parser.add_argument("--docbatch-only", action="store_true", help="pdf, tiny: leave the peers out")
    parser.add_argument(
        "--broker", action="append", choices=["redis", "rabbitmq", "sqs"],
        help="pdf, tiny: also time docbatch through this broker with --jobs workers (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    if not (CORPUS / "pdf").is_dir() and args.case in ("pdf", "mixed", "all"):
        parser.error(f"{CORPUS} is missing: the pdf and mixed cases need ../shared/corpus")
    become_subreaper()
    cases = list(CASES) if args.case == "all" else [args.case]
    asked = args.count
    with tempfile.TemporaryDirectory(prefix="docbatch-bench-", dir=args.work) as scratch:
        for name in cases:
            work = Path(scratch) / name
            work.mkdir()
            args.count = asked or {"tiny": 20_000, "scale": 1_000_000}.get(name)
            try:
                CASES[name](args, work)
            finally:
                for server in _BROKERS:
                    server.stop()  # type: ignore[attr-defined]
                _BROKERS.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
