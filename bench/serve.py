#!/usr/bin/env python3
"""`docbatch serve` under load (issue 15): submission latency, event throughput, memory over time.

    uv run python bench/serve.py latency [--clients 100] [--requests 10]
    uv run python bench/serve.py events  [--clients 10] [--count 20000]
    uv run python bench/serve.py memory  [--count 1000000] [--format jsonl]

latency: 100 concurrent clients (ApacheBench, `ab`) each send /healthz, runs (`POST /v1/runs` over a
one-file folder), uploads (`POST /v1/documents`, a 2 KB text file) and status reads (`GET /v1/runs`);
p50/p99/max per kind, while the submitted runs execute in the background as they would in production.
events: 10 WebSocket clients follow `/v1/events` while a run of COUNT tiny files goes through; each
counts the events it receives until the run's own end event: events/s per client and in total, and
whether every client saw every event once.
memory: one run of COUNT tiny files (cached under --work) submitted by path; the server process's
RSS (psutil, the server alone: the coordinator runs inside it; job processes are its children) is
sampled every second against the documents finished, printed at 1k/10k/100k/1M, saved as CSV.
The server runs with `-j 2` on this tree's .venv; results go to --results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
DOCBATCH = str(REPO / ".venv" / "bin" / "docbatch")


class Server:
    def __init__(self, work: Path, *args: str) -> None:
        self.log = work / f"serve-{int(time.time() * 1000)}.log"
        self._out = self.log.open("wb")
        self.process = subprocess.Popen(
            [DOCBATCH, "serve", "--port", "0", "--state", str(work / "state"), *args],
            cwd=work, stdout=self._out, stderr=self._out, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://\S+)", self.log.read_text())
            if found:
                self.url = found.group(1)
                return
            time.sleep(0.05)
        raise RuntimeError(self.log.read_text())

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=120)
        self._out.close()


def make_tiny(folder: Path, count: int) -> Path:
    """COUNT tiny distinct text files under ``folder`` (1,000 per subfolder), made once and reused."""
    done = folder / f".complete-{count}"
    if done.exists():
        return folder
    for index in range(count):
        path = folder / f"d{index // 1000:04d}" / f"note{index:07d}.txt"
        if index % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"note {index}: the quick brown fox jumps over the lazy dog.\n")
    done.touch()
    return folder


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


def ab(url: str, requests: int, clients: int, body: Path | None = None, content_type: str = "") -> dict[str, Any]:
    """ApacheBench (`ab`, apt's apache2-utils): a C load generator, so that the client is not what is
    measured (httpx's asyncio pool topped out near 100 requests/s here, against a bare FastAPI app too)."""
    command = ["ab", "-q", "-n", str(requests), "-c", str(clients)]
    if body is not None:
        command += ["-p", str(body), "-T", content_type]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def number(pattern: str) -> float:
        found = re.search(pattern, output, re.MULTILINE)
        return float(found.group(1)) if found else float("nan")

    return {
        "n": requests, "clients": clients, "failed": int(number(r"^Failed requests:\s+(\d+)")),
        "non_2xx": int(number(r"^Non-2xx responses:\s+(\d+)")) if "Non-2xx" in output else 0,
        "p50_ms": number(r"^\s+50%\s+(\d+)"), "p99_ms": number(r"^\s+99%\s+(\d+)"),
        "max_ms": number(r"^\s+100%\s+(\d+)"), "requests_per_s": number(r"^Requests per second:\s+([\d.]+)"),
    }  # fmt: skip


def latency(url: str, clients: int, requests: int, one: Path, work: Path) -> dict[str, Any]:
    """Each kind of request, ``requests`` per client, ``clients`` at once; the runs and uploads
    submitted go on being processed in the background meanwhile, as in production."""
    run_body = work / "run.json"
    run_body.write_text(json.dumps({"paths": [str(one)]}))
    boundary = "docbatchbench"
    upload_body = work / "upload.bin"
    upload_body.write_bytes(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="note.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode()
        + b"x" * 2048
        + f"\r\n--{boundary}--\r\n".encode()
    )
    total = clients * requests
    return {
        "healthz": ab(f"{url}/healthz", total, clients),
        "run": ab(f"{url}/v1/runs", total, clients, run_body, "application/json"),
        "upload": ab(f"{url}/v1/documents", total, clients, upload_body, f"multipart/form-data; boundary={boundary}"),
        "status": ab(f"{url}/v1/runs?limit=1", total, clients),
    }


async def _follow(url: str, after: int, seen: list[int], ended: asyncio.Event, run_holder: list[str]) -> None:
    import websockets

    async with websockets.connect(url.replace("http", "ws", 1) + f"/v1/events?after={after}", max_size=None) as socket:
        async for message in socket:
            event = json.loads(message)
            seen.append(event["id"])
            if (
                event["type"] == "run"
                and run_holder
                and event["run_id"] == run_holder[0]
                and event["state"] in ("finished", "interrupted", "cancelled", "failed")
            ):
                ended.set()
                return


async def events(url: str, clients: int, folder: Path) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        after = (await client.get("/v1/stats")).json()["events_last_id"]
        run_holder: list[str] = []
        seen: list[list[int]] = [[] for _ in range(clients)]
        ended = [asyncio.Event() for _ in range(clients)]
        followers = [asyncio.create_task(_follow(url, after, seen[i], ended[i], run_holder)) for i in range(clients)]
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        run_holder.append((await client.post("/v1/runs", json={"paths": [str(folder)]})).json()["run_id"])
        await asyncio.wait_for(asyncio.gather(*followers), timeout=3600)
        wall = time.perf_counter() - started
        view = (await client.get(f"/v1/runs/{run_holder[0]}")).json()
    counts = [len(ids) for ids in seen]
    exact = all(ids == sorted(set(ids)) for ids in seen) and len(set(counts)) == 1
    return {
        "run": run_holder[0], "documents": view["discovered"], "wall_s": round(wall, 2),
        "events_per_client": counts[0], "events_per_s_per_client": round(counts[0] / wall, 1),
        "events_per_s_total": round(sum(counts) / wall, 1), "every_client_every_event_once": exact,
        "run_docs_per_s": view["docs_per_s"],
    }  # fmt: skip


def memory(server: Server, folder: Path, fmt: str, curve: Path) -> dict[str, Any]:
    marks = [1_000, 10_000, 100_000, 1_000_000]
    at_mark: dict[int, int] = {}
    rows = ["seconds,finished,rss_bytes"]
    with httpx.Client(base_url=server.url, timeout=60) as client:
        run_id = client.post("/v1/runs", json={"paths": [str(folder)], "options": {"format": fmt}}).json()["run_id"]
        started = time.monotonic()
        while True:
            view = client.get(f"/v1/runs/{run_id}").json()
            rss = server.rss()
            rows.append(f"{time.monotonic() - started:.1f},{view['finished']},{rss}")
            for mark in marks:
                if view["finished"] >= mark and mark not in at_mark:
                    at_mark[mark] = rss
            if view["status"] not in ("queued", "running"):
                break
            time.sleep(1.0)
    curve.write_text("\n".join(rows) + "\n")
    return {
        "run": run_id, "status": view["status"], "documents": view["finished"], "docs_per_s": view["docs_per_s"],
        "rss_mb_at": {f"{mark:,}": round(rss / 2**20, 1) for mark, rss in at_mark.items()},
        "rss_mb_end": round(server.rss() / 2**20, 1), "curve": str(curve),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=["latency", "events", "memory"])
    parser.add_argument("--clients", type=int)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--count", type=int)
    parser.add_argument("--format", default="jsonl")
    parser.add_argument(
        "--tree", type=Path, help="memory: an existing folder of tiny files to use (e.g. memory_curve.py's)"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "docbatch-bench-serve")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{args.case}-", dir=args.work))
    if args.case == "latency":
        folder = run_dir / "one"
        folder.mkdir()
        (folder / "note.txt").write_text("one small note\n")
    elif args.case == "events":
        folder = make_tiny(args.work / f"tiny-{args.count or 20_000}", args.count or 20_000)
    else:
        folder = args.tree or make_tiny(args.work / f"tiny-{args.count or 1_000_000}", args.count or 1_000_000)
    server = Server(run_dir, "--root", str(folder), "-j", "2")
    try:
        if args.case == "latency":
            result = latency(server.url, args.clients or 100, args.requests, folder, run_dir)
        elif args.case == "events":
            result = asyncio.run(events(server.url, args.clients or 10, folder))
        else:
            result = memory(server, folder, args.format, args.results / f"serve-memory-{args.format}.csv")
    finally:  # a failed round must not leave a server working through its queue
        server.stop()
    result = {"case": args.case, "python": sys.version.split()[0], "cpus": os.cpu_count(), **result}
    print(json.dumps(result, indent=2))
    (args.results / f"serve-{args.case}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
