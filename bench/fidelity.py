#!/usr/bin/env python3
"""Which words do independent extractors find in a document that docbatch's output lacks? (issue 11)

    uv run python bench/fidelity.py ../shared/corpus --peer-python /tmp/peers-venv/bin/python \\
        --json fidelity.json [--docbatch PATH/bin/docbatch] [--scratch DIR]
    uv run python bench/fidelity.py --compare BEFORE.json AFTER.json

Runs `docbatch run -f json` over the folder into a scratch output, then the peers on the same files:
poppler's `pdftotext` on PDFs, and kreuzberg and markitdown (markitdown not on PDFs: pdfminer takes
minutes on the large ones) as subprocesses of --peer-python, a bench venv, never a project dependency:
    python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install kreuzberg 'markitdown[all]'
    apt-get install -y poppler-utils

Words: NFKC, casefolded, split on white space (and on a Markdown link's `](`), punctuation and symbol
characters (Unicode categories P*, S*) stripped at both edges, empty words dropped. Per document and
peer: `missing` = the peer's word multiset minus docbatch's, `share` = missing / the peer's words; order
is ignored. Prints, per format (file extension), the documents where docbatch lacks more than
--threshold of a peer's words with the most frequent missing words, a per-format summary, and the
documents that one side read (>= 1 word) while the other failed or skipped. --json keeps every
figure; --compare prints two such files side by side.

Peer results are kept in --scratch (a new temporary folder if not given, printed at the end) with the
peers' texts, and reused when the same --scratch is given again; docbatch is always run afresh. A
peer stuck on one document for --peer-timeout seconds, or crashing, is killed and that document
counted as failed for it; the peer then goes on with the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "docbatch.fidelity/1"
PEER_MEMORY_BYTES = 8 << 30
SAMPLE_WORDS = 8
# Split words here too, so that glued JSON/Markdown syntax (`"a":"b"`, `a|b`, `[^1]`) does not hide a word.
SEPARATORS = str.maketrans(dict.fromkeys('"{}[]|<>', " "))
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:\s+\"[^\"]*\")?\)")
# pandas' placeholders in markitdown's spreadsheet tables: an empty cell, an untitled column.
PANDAS_CELL = re.compile(r"(?<=\|) *(?:NaN|Unnamed: \d+) *(?=\|)")
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# markitdown has no RTF converter: it returns the RTF source, which says nothing about the text.
MARKITDOWN_SKIPS = {".pdf", ".rtf"}

# Run by --peer-python: reads "n<TAB>path" lines, writes DIR/<n>.txt and one JSON line per document
# to DIR/index.jsonl as soon as it is done, so the driver sees progress and can resume after a kill.
PEER_SCRIPT = r"""
import json, sys
from pathlib import Path
tool, listing, folder = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if tool == "kreuzberg":
    import kreuzberg
    config = kreuzberg.ExtractionConfig(use_cache=False, disable_ocr=True)
    def read(path): return kreuzberg.extract_file_sync(path, config=config).content or ""
else:
    from markitdown import MarkItDown
    converter = MarkItDown()
    def read(path): return converter.convert(path).text_content or ""
with (folder / "index.jsonl").open("a") as index:
    for line in listing.read_text().splitlines():
        number, path = line.split("\t", 1)
        record = {"n": int(number), "ok": True}
        try:
            (folder / f"{number}.txt").write_text(read(path), errors="surrogatepass")
        except BaseException as error:  # a Rust panic is a BaseException
            if isinstance(error, KeyboardInterrupt):
                raise
            record = {"n": int(number), "ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
        index.write(json.dumps(record) + "\n")
        index.flush()
"""


@dataclass
class Reading:
    """What one tool made of one document: `ok` False with a `note` when it failed or skipped it."""

    ok: bool
    words: Counter[str] = field(default_factory=Counter)
    note: str = ""

    @property
    def read_something(self) -> bool:
        return self.ok and sum(self.words.values()) > 0


# ---------------------------------------------------------------- words


def word_edge(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS"


def words(text: str) -> Counter[str]:
    """The normalised word multiset of a text (see the module docstring)."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    normal = "".join(char for char in normal if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf"))
    counts: Counter[str] = Counter()
    for raw in normal.translate(SEPARATORS).split():
        start, end = 0, len(raw)
        while start < end and word_edge(raw[start]):
            start += 1
        while end > start and word_edge(raw[end - 1]):
            end -= 1
        if start < end:
            counts[raw[start:end]] += 1
    return counts


def without_markup(text: str) -> str:
    """A peer's Markdown/HTML output as plain text: links and images keep their text (alt text) but not their
    target, HTML comments (markitdown's slide numbers), tags and pandas' NaN/Unnamed cells go, backslash
    escapes are undone."""
    text = PANDAS_CELL.sub(" ", HTML_COMMENT.sub(" ", text))
    text = MARKDOWN_LINK.sub(lambda match: f" {match.group(1)} ", text)
    text = HTML_TAG.sub(" ", text)
    return MARKDOWN_ESCAPE.sub(r"\1", text)


def document_words(document: dict[str, Any]) -> Counter[str]:
    """docbatch's words: the text, the title and every string value of the metadata (an email's subject and
    addresses are there, not in the text)."""
    strings = [document.get("text") or "", document.get("title") or ""]
    pending: list[Any] = [document.get("metadata") or {}]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return words("\n".join(strings))


# ---------------------------------------------------------------- docbatch


def run_docbatch(docbatch: str, corpus: Path, scratch: Path, jobs: int) -> dict[str, Reading]:
    """Run docbatch afresh into scratch/docbatch-out; readings keyed by path relative to the corpus."""
    out, state = scratch / "docbatch-out", scratch / "docbatch-state"
    for folder in (out, state):
        shutil.rmtree(folder, ignore_errors=True)
    command = [docbatch, "run", str(corpus), "-o", str(out), "--state", str(state), "-f", "json", "-j", str(jobs), "-q"]
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    report = json.loads((out / "report.json").read_text())
    readings: dict[str, Reading] = {}
    for failure in report.get("failures", []):
        note = f"{failure.get('state')} {failure.get('error_kind')}: {failure.get('message')}"
        readings[failure["source_id"]] = Reading(ok=False, note=note)
    for skip in report.get("skipped", []):
        readings[skip["source_id"]] = Reading(ok=False, note=f"skipped: {skip.get('reason')}")
    for output in out.rglob("*.json"):
        relative = str(output.relative_to(out))[: -len(".json")]
        if output.parent == out and relative == "report":
            continue
        document = json.loads(output.read_text())
        readings[relative] = Reading(ok=True, words=document_words(document))
    return readings


# ---------------------------------------------------------------- peers


def read_index(folder: Path) -> dict[int, dict[str, Any]]:
    index = folder / "index.jsonl"
    if not index.exists():
        return {}
    records = (json.loads(line) for line in index.read_text().splitlines() if line.strip())
    return {record["n"]: record for record in records}


def append_record(folder: Path, record: dict[str, Any]) -> None:
    with (folder / "index.jsonl").open("a") as index:
        index.write(json.dumps(record) + "\n")


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (PEER_MEMORY_BYTES, PEER_MEMORY_BYTES))


def wait_with_progress(process: subprocess.Popen[bytes], index: Path, timeout: float) -> str:
    """Wait until the peer exits, or kill its process group when the index has not grown for `timeout` s."""
    last_size, last_change = -1, time.monotonic()
    while process.poll() is None:
        size = index.stat().st_size if index.exists() else 0
        if size != last_size:
            last_size, last_change = size, time.monotonic()
        elif time.monotonic() - last_change > timeout:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return f"no result within {timeout:.0f} s (killed)"
        time.sleep(0.2)
    return f"peer process ended with exit code {process.returncode}"


def run_peer_process(tool: str, python: str, todo: list[tuple[int, Path]], folder: Path, timeout: float) -> None:
    """Run one peer over `todo`, restarting past a document it hangs or crashes on."""
    while True:
        done = read_index(folder)
        remaining = [(number, path) for number, path in todo if number not in done]
        if not remaining:
            return
        listing = folder / "todo.tsv"
        listing.write_text("".join(f"{number}\t{path}\n" for number, path in remaining))
        with (folder / "stderr.log").open("ab") as log:
            process = subprocess.Popen(
                [python, "-c", PEER_SCRIPT, tool, str(listing), str(folder)],
                stdout=log, stderr=log, start_new_session=True, preexec_fn=limit_memory,
            )  # fmt: skip
            outcome = wait_with_progress(process, folder / "index.jsonl", timeout)
        done = read_index(folder)
        stuck = next((number for number, _ in remaining if number not in done), None)
        if stuck is not None:
            append_record(folder, {"n": stuck, "ok": False, "error": outcome})


def run_pdftotext(todo: list[tuple[int, Path]], folder: Path, timeout: float) -> None:
    done = read_index(folder)
    for number, path in todo:
        if number in done:
            continue
        command = ["pdftotext", "-q", "-enc", "UTF-8", str(path), "-"]
        try:
            result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            append_record(folder, {"n": number, "ok": False, "error": f"no result within {timeout:.0f} s"})
            continue
        if result.returncode != 0:
            append_record(folder, {"n": number, "ok": False, "error": f"exit code {result.returncode}"})
            continue
        (folder / f"{number}.txt").write_bytes(result.stdout)
        append_record(folder, {"n": number, "ok": True})


def peer_readings(folder: Path, numbered: dict[int, str]) -> dict[str, Reading]:
    """The peer's readings of the documents in `numbered` (its number -> path relative to the corpus)."""
    readings: dict[str, Reading] = {}
    for number, record in read_index(folder).items():
        if number not in numbered:
            continue
        if not record["ok"]:
            readings[numbered[number]] = Reading(ok=False, note=record.get("error", "failed"))
            continue
        text = (folder / f"{number}.txt").read_text(errors="replace")
        readings[numbered[number]] = Reading(ok=True, words=words(without_markup(text)))
    return readings


def run_peers(args: argparse.Namespace, documents: list[str], scratch: Path) -> dict[str, dict[str, Reading]]:
    """Readings per peer name, each keyed by the document's path relative to the corpus."""
    numbered = dict(enumerate(documents))
    every = [(number, args.corpus / name) for number, name in numbered.items()]
    pdfs = [(number, path) for number, path in every if path.suffix.lower() == ".pdf"]
    for_markitdown = [(number, path) for number, path in every if path.suffix.lower() not in MARKITDOWN_SKIPS]
    readings: dict[str, dict[str, Reading]] = {}
    if shutil.which("pdftotext"):
        (scratch / "pdftotext").mkdir(parents=True, exist_ok=True)
        run_pdftotext(pdfs, scratch / "pdftotext", args.peer_timeout)
        readings["pdftotext"] = peer_readings(scratch / "pdftotext", {number: numbered[number] for number, _ in pdfs})
    else:
        print("pdftotext not found (apt-get install -y poppler-utils): PDFs without poppler", file=sys.stderr)
    if args.peer_python:
        for tool, todo in (("kreuzberg", every), ("markitdown", for_markitdown)):
            (scratch / tool).mkdir(parents=True, exist_ok=True)
            run_peer_process(tool, args.peer_python, todo, scratch / tool, args.peer_timeout)
            readings[tool] = peer_readings(scratch / tool, {number: numbered[number] for number, _ in todo})
    return readings


# ---------------------------------------------------------------- figures


def format_of(document: str) -> str:
    return Path(document).suffix.lower().lstrip(".") or "(none)"


def compare_document(ours: Reading, peers: dict[str, Reading]) -> dict[str, Any]:
    """Per-document figures: docbatch's state and word count, and per peer its words and what docbatch lacks."""
    figures: dict[str, Any] = {
        "docbatch": {"ok": ours.ok, "words": sum(ours.words.values()), "note": ours.note},
        "peers": {},
    }
    for name, theirs in peers.items():
        peer_words = sum(theirs.words.values())
        entry: dict[str, Any] = {"ok": theirs.ok, "words": peer_words, "note": theirs.note}
        if ours.read_something or theirs.read_something:
            missing = theirs.words - ours.words
            entry["missing"] = sum(missing.values())
            entry["share"] = round(entry["missing"] / peer_words, 4) if peer_words else 0.0
            entry["extra"] = sum((ours.words - theirs.words).values())
            entry["sample"] = [f"{word}×{count}" for word, count in missing.most_common(SAMPLE_WORDS)]
        figures["peers"][name] = entry
    return figures


def worst_share(figures: dict[str, Any]) -> float:
    """docbatch's largest missing share over the peers, counted only where docbatch read the document."""
    if not figures["docbatch"]["ok"]:
        return 0.0
    return max((peer.get("share", 0.0) for peer in figures["peers"].values() if peer["ok"]), default=0.0)


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    ours = run_docbatch(args.docbatch, args.corpus, scratch, args.jobs)
    documents = sorted(str(path.relative_to(args.corpus)) for path in args.corpus.rglob("*") if path.is_file())
    peers = run_peers(args, documents, scratch)
    per_document = {}
    for document in documents:
        mine = ours.get(document, Reading(ok=False, note="no output and not in docbatch's report"))
        theirs = {name: readings[document] for name, readings in peers.items() if document in readings}
        per_document[document] = {"format": format_of(document), **compare_document(mine, theirs)}
    return {
        "schema": SCHEMA,
        "corpus": str(args.corpus.resolve()),
        "docbatch": args.docbatch,
        "threshold": args.threshold,
        "peers": sorted(peers),
        "documents": per_document,
    }


# ---------------------------------------------------------------- reports


def format_counts(report: dict[str, Any]) -> dict[str, Counter[str]]:
    """Per format: documents, docbatch read, above the threshold, and the one-side-failed counts."""
    threshold = report["threshold"]
    counts: dict[str, Counter[str]] = {}
    for figures in report["documents"].values():
        tally = counts.setdefault(figures["format"], Counter())
        tally["documents"] += 1
        docbatch_read = figures["docbatch"]["ok"]
        peer_read = any(peer["ok"] and peer["words"] for peer in figures["peers"].values())
        tally["docbatch read"] += docbatch_read
        tally["peer read"] += peer_read
        tally[f"lacks > {threshold:.0%}"] += worst_share(figures) > threshold
        tally["only peer read"] += peer_read and not docbatch_read
        tally["only docbatch read"] += docbatch_read and bool(figures["peers"]) and not peer_read
    return counts


def print_lacking(report: dict[str, Any]) -> None:
    threshold = report["threshold"]
    by_format: dict[str, list[str]] = {}
    for document, figures in report["documents"].items():
        if worst_share(figures) > threshold:
            by_format.setdefault(figures["format"], []).append(document)
    for kind in sorted(by_format):
        print(f"\n## {kind}: docbatch lacks > {threshold:.0%} of a peer's words\n")
        print("| document | peer | peer words | missing | share | most frequent missing |")
        print("|---|---|---:|---:|---:|---|")
        for document in by_format[kind]:
            for name, peer in report["documents"][document]["peers"].items():
                if peer["ok"] and peer.get("share", 0.0) > threshold:
                    sample = " ".join(peer["sample"]).replace("|", "\\|")
                    figures = f"{peer['words']} | {peer['missing']} | {peer['share']:.1%}"
                    print(f"| {document} | {name} | {figures} | {sample} |")


def print_one_sided(report: dict[str, Any]) -> None:
    print("\n## read by one side only\n")
    for document, figures in report["documents"].items():
        readers = [name for name, peer in figures["peers"].items() if peer["ok"] and peer["words"]]
        if readers and not figures["docbatch"]["ok"]:
            print(f"- {document}: read by {', '.join(readers)}; docbatch: {figures['docbatch']['note']}")
        elif figures["docbatch"]["ok"] and figures["peers"] and not readers:
            notes = "; ".join(f"{name}: {peer['note'] or 'no words'}" for name, peer in figures["peers"].items())
            print(f"- {document}: read by docbatch only ({notes[:200]})")


def print_summary(report: dict[str, Any]) -> None:
    counts = format_counts(report)
    columns = ["documents", "docbatch read", "peer read", f"lacks > {report['threshold']:.0%}", "only peer read",
               "only docbatch read"]  # fmt: skip
    print("\n## summary per format\n")
    print("| format | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    total: Counter[str] = Counter()
    for kind in sorted(counts):
        total.update(counts[kind])
        print(f"| {kind} | " + " | ".join(str(counts[kind][column]) for column in columns) + " |")
    print("| **all** | " + " | ".join(str(total[column]) for column in columns) + " |")


def print_comparison(before: dict[str, Any], after: dict[str, Any], margin: float = 0.005) -> None:
    """Per-format counts before/after, then documents whose worst share or read state changed."""
    label = f"lacks > {after['threshold']:.0%}"
    counts_before, counts_after = format_counts(before), format_counts(after)
    print(f"| format | {label} before | after | only peer read before | after |")
    print("|---|---:|---:|---:|---:|")
    for kind in sorted(set(counts_before) | set(counts_after)):
        old, new = counts_before.get(kind, Counter()), counts_after.get(kind, Counter())
        print(f"| {kind} | {old[label]} | {new[label]} | {old['only peer read']} | {new['only peer read']} |")
    better: list[str] = []
    worse: list[str] = []
    for document in sorted(set(before["documents"]) & set(after["documents"])):
        old_doc, new_doc = before["documents"][document], after["documents"][document]
        old_share, new_share = worst_share(old_doc), worst_share(new_doc)
        line = f"- {document}: {old_share:.1%} -> {new_share:.1%}"
        if old_doc["docbatch"]["ok"] != new_doc["docbatch"]["ok"]:
            line += f" (docbatch read: {old_doc['docbatch']['ok']} -> {new_doc['docbatch']['ok']})"
            (better if new_doc["docbatch"]["ok"] else worse).append(line)
        elif new_share < old_share - margin:
            better.append(line)
        elif new_share > old_share + margin:
            worse.append(line)
    for title, lines in (("better", better), ("worse", worse)):
        print(f"\n## {title}: {len(lines)} documents\n")
        print("\n".join(lines) if lines else "(none)")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, nargs="?", help="folder of documents (walked recursively)")
    parser.add_argument("--docbatch", default=str(Path(sys.executable).parent / "docbatch"), help="docbatch to run")
    parser.add_argument("--peer-python", help="python of the venv holding kreuzberg and markitdown")
    parser.add_argument("--scratch", type=Path, help="work folder; peers' results in it are reused")
    parser.add_argument("--json", type=Path, help="write every per-document figure here")
    parser.add_argument("--threshold", type=float, default=0.02, help="missing share worth listing (0.02)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="docbatch -j")
    parser.add_argument("--peer-timeout", type=float, default=180.0, help="seconds a peer may take on one document")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two --json files")
    args = parser.parse_args()
    if not args.compare and not args.corpus:
        parser.error("give a corpus folder or --compare BEFORE AFTER")
    return args


def main() -> None:
    args = parse_arguments()
    if args.compare:
        before, after = (json.loads(path.read_text()) for path in args.compare)
        print_comparison(before, after)
        return
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="fidelity-"))
    scratch.mkdir(parents=True, exist_ok=True)
    report = measure(args, scratch)
    print(f"# docbatch ({args.docbatch}) against {', '.join(report['peers'])} on {args.corpus}")
    print_lacking(report)
    print_one_sided(report)
    print_summary(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"\nscratch (outputs, peers' texts): {scratch}")


if __name__ == "__main__":
    main()
