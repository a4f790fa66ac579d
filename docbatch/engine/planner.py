"""Deciding, before any byte is read, whether a document needs work (ARCHITECTURE.md, "The ledger").

Done means: a succeeded attempt with the same fingerprint (size and mtime; the content hash too with
--verify) and the same recipe hash (processor, its library version, and the options that shape the
output), whose output file is still there. A dead document whose fingerprint and recipe are unchanged
stays dead unless --retry-dead.
Anything else (new, changed, failed, cancelled, left running by a crash) is processed.
"""

from __future__ import annotations

import enum
import hashlib
import os
from dataclasses import dataclass

from docbatch.checkpoint.base import DocumentRow, LedgerLookup
from docbatch.config import RunConfig
from docbatch.engine.claims import OutputClaims
from docbatch.errors import DocumentError
from docbatch.models import Document, JobState
from docbatch.outputs.paths import output_path
from docbatch.processors.base import library_version
from docbatch.processors.registry import default_registry, load_custom_processor
from docbatch.serialization import stable_hash


class Verdict(enum.Enum):
    PROCESS = "process"
    UP_TO_DATE = "up_to_date"
    STILL_DEAD = "still_dead"


@dataclass(frozen=True, slots=True)
class Plan:
    verdict: Verdict
    recipe_hash: str
    attempt: int
    previous: DocumentRow | None = None
    # The ledger's source for this id when it is another file than the document now (not --force):
    # the output there is that file's.
    other_source: str | None = None


class Planner:
    def __init__(self, config: RunConfig, reader: LedgerLookup | None) -> None:
        self._config = config
        self._reader = reader
        self._all_versions = _all_processor_versions()
        self._by_extension: dict[str, str] = {}
        self.claims = OutputClaims(config.output.root, config.output.format, reader)

    def recipe_hash(self, document: Document) -> str:
        """The recipe a document will be processed with, known from its extension alone (and its own
        options, when a manifest gives some)."""
        if not document.options:
            known = self._by_extension.get(document.extension)
            if known is None:
                known = self._by_extension[document.extension] = self._recipe_hash(document)
            return known
        return self._recipe_hash(document)

    def _recipe_hash(self, document: Document) -> str:
        if self._config.exec_template:
            processor = f"exec/{self._config.exec_template}"
        elif self._config.processor_override:
            processor = load_custom_processor(self._config.processor_override).version()
        else:
            registry = default_registry()
            found = registry.for_kind(registry.extension_kinds.get(document.extension, ""))
            # Unknown extensions are sniffed by content, so any processor may read them.
            processor = found.version() if found is not None else self._all_versions
        return stable_hash([processor, self._config.recipe_options(), document.options])

    def _output_exists(self, document: Document) -> bool:
        """A done document whose output was deleted, or that goes to a new output folder, is redone."""
        try:
            return output_path(self._config.output.root, document.source_id, self._config.output.format).exists()
        except DocumentError:
            return False

    def refusal(self, document: Document, plan: Plan) -> tuple[str, str] | None:
        """Claim the output of a document that will be processed or is done; None when it is its own,
        else (ledger id, reason) for a ``collision``. Dead documents write nothing and claim nothing."""
        if plan.verdict is Verdict.STILL_DEAD:
            return None
        if plan.other_source is not None:
            refused = self.claims.owned_by_other_source(document, plan.other_source)
            if refused is not None:
                return refused
        return self.claims.claim(document, check_ledger=plan.verdict is Verdict.PROCESS)

    def plan(self, document: Document) -> Plan:
        recipe = self.recipe_hash(document)
        previous = self._reader.document(document.source_id) if self._reader is not None else None
        attempt = (previous.attempts if previous else 0) + 1
        if previous is None or self._config.force:
            return Plan(Verdict.PROCESS, recipe, attempt, previous)
        if other_source_file(previous.path, document):
            # Another file under this id: never "unchanged", whatever its size and mtime.
            return Plan(Verdict.PROCESS, recipe, attempt, previous, other_source=previous.path)
        unchanged = (
            previous.size == document.size and previous.mtime_ns == document.mtime_ns and previous.recipe_hash == recipe
        )
        done = unchanged and previous.state == JobState.SUCCEEDED.value and self._output_exists(document)
        if done and (not self._config.verify or _sha256(document) == previous.sha256):
            return Plan(Verdict.UP_TO_DATE, recipe, attempt, previous)
        if unchanged and previous.state == JobState.DEAD.value and not self._config.retry_dead:
            return Plan(Verdict.STILL_DEAD, recipe, attempt, previous)
        return Plan(Verdict.PROCESS, recipe, attempt, previous)


def other_source_file(recorded: str | None, document: Document) -> bool:
    """Whether the ledger's source path for the document's id names another file that still exists.

    Only absolute recorded paths are compared (older ledgers recorded them as spelled, relative to a
    folder unknown here). A recorded file that is gone is taken as this one moved (a renamed input
    folder keeps its ids), as before."""
    if not recorded or not os.path.isabs(recorded) or recorded == os.path.abspath(document.path):
        return False  # the usual case, decided without touching the disk
    try:
        return not os.path.samefile(recorded, document.path)
    except OSError:  # the recorded file is gone, or this one went since discovery
        return False


def _all_processor_versions() -> str:
    return ",".join(f"{row.name}/{library_version(row.library)}" for row in default_registry().describe())


def _sha256(document: Document) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(document.path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
