"""What travels through a broker, and how it is framed.

Work messages carry a batch to a worker; replies carry a worker's news back to the coordinator that
sent it. Both are JSON (pydantic models, never pickle: a worker must not run code a broker hands it),
compressed with zlib. A reply larger than the transport's limit (SQS: 256 KiB) is cut into fragments
the coordinator puts back together; a work message never is (the executor splits a batch instead).

Wire form of a body: ``b"D1"`` + zlib(JSON) for a whole message, ``b"F1"`` + JSON header + ``b"\\n"``
+ bytes for a fragment (``{"id", "part", "parts"}``, parts counted from 0).
"""

from __future__ import annotations

import uuid
import zlib
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from docbatch.errors import DocbatchError
from docbatch.models import JobBatch, JobResult
from docbatch.serialization import dumps_compact, loads

_WHOLE = b"D1"
_FRAGMENT = b"F1"
_FRAGMENT_HEADER_BYTES = 96
_M = TypeVar("_M", bound=BaseModel)


class MessageError(DocbatchError):
    """A body that is not a docbatch message of this version (garbage, another program's, truncated)."""


class WorkMessage(BaseModel):
    """A batch on its way to a worker.

    ``session``: the coordinator's session (its reply channel); ``handover``: unique per hand-over of
    a batch; ``indices``: each spec's position in the coordinator's hand-over (a batch handed back
    carries only its jobs not done); ``timeout_s``: each job's deadline in seconds from its start;
    ``memory_per_job_bytes``: the worker's RLIMIT_AS per job; ``prior_deliveries``: deliveries of the
    message this one replaces (a hand-back, or a RabbitMQ redelivery re-published to be counted)."""

    kind: Literal["work"] = "work"
    session: str
    run_id: str
    handover: str
    indices: list[int]
    batch: JobBatch
    timeout_s: float
    memory_per_job_bytes: int | None = None
    prior_deliveries: int = 0


class WorkerInfo(BaseModel):
    """A worker as the coordinator sees it: ``worker`` is ``host:pid``; ``slots`` its -j; ``busy`` the
    slots running a batch now; ``done`` jobs finished since it started; ``docs_per_s`` over its last
    minute."""

    worker: str
    host: str
    pid: int
    slots: int
    busy: int = 0
    done: int = 0
    docs_per_s: float = 0.0


class Reply(BaseModel):
    """A worker's news for one session.

    ``started``: a worker took ``handover`` (``deliveries``: how often it has now been delivered);
    ``results``: (index, result) pairs for some of its jobs; ``dead_lettered``: the hand-over went to the
    dead-letter place after too many deliveries (``reason``); ``heartbeat``: the worker is alive."""

    kind: Literal["started", "results", "dead_lettered", "heartbeat"]
    worker: WorkerInfo
    handover: str | None = None
    deliveries: int = 0
    results: list[tuple[int, JobResult]] = Field(default_factory=list)
    reason: str | None = None


def encode(message: BaseModel) -> bytes:
    """A model as a whole-message body."""
    return _WHOLE + zlib.compress(message.model_dump_json().encode(), 1)


def decode_work(body: bytes) -> WorkMessage:
    """Raises MessageError when ``body`` is not a work message."""
    return _decode(body, WorkMessage)


def decode_reply(body: bytes) -> Reply:
    """Raises MessageError when ``body`` is not a reply."""
    return _decode(body, Reply)


def _decode(body: bytes, model: type[_M]) -> _M:
    if not body.startswith(_WHOLE):
        raise MessageError("not a docbatch message (unknown framing)")
    try:
        return model.model_validate_json(zlib.decompress(body[len(_WHOLE) :]))
    except (zlib.error, ValidationError, ValueError) as error:
        first_line = str(error).splitlines()[0]
        raise MessageError(f"not a docbatch {model.__name__}: {first_line}") from error


def fragments(body: bytes, limit: int) -> list[bytes]:
    """``body`` as one or more bodies of at most ``limit`` bytes each."""
    if len(body) <= limit:
        return [body]
    room = limit - _FRAGMENT_HEADER_BYTES
    if room < 1024:
        raise ValueError(f"a message limit of {limit} bytes leaves no room for fragments")
    identity = uuid.uuid4().hex
    chunks = [body[start : start + room] for start in range(0, len(body), room)]
    return [
        _FRAGMENT + dumps_compact({"id": identity, "part": part, "parts": len(chunks)}) + b"\n" + chunk
        for part, chunk in enumerate(chunks)
    ]


class Reassembler:
    """Puts fragmented bodies back together; whole bodies pass straight through."""

    def __init__(self) -> None:
        self._partial: dict[str, dict[int, bytes]] = {}

    def add(self, body: bytes) -> bytes | None:
        """The whole body once its last fragment is in (or ``body`` itself), else None.
        Raises MessageError for a malformed fragment."""
        if not body.startswith(_FRAGMENT):
            return body
        header, newline, chunk = body[len(_FRAGMENT) :].partition(b"\n")
        try:
            meta = loads(header)
            identity, part, parts = str(meta["id"]), int(meta["part"]), int(meta["parts"])
        except (KeyError, TypeError, ValueError) as error:
            raise MessageError("a malformed message fragment") from error
        if not newline:
            raise MessageError("a malformed message fragment")
        held = self._partial.setdefault(identity, {})
        held[part] = chunk  # a duplicate delivery of a fragment replaces itself
        if len(held) < parts:
            return None
        del self._partial[identity]
        return b"".join(held[index] for index in range(parts))
