from pathlib import Path

from docbatch.config import QueueOrder
from docbatch.engine.context import queue_key
from docbatch.models import Document, Priority


def _doc(name: str, size: int, priority: Priority = Priority.NORMAL) -> Document:
    return Document(source_id=name, path=Path(name), size=size, mtime_ns=0, priority=priority)


def _order(docs: list[Document], order: QueueOrder) -> list[str]:
    keyed = sorted((queue_key(doc, sequence, order), doc.source_id) for sequence, doc in enumerate(docs))
    return [name for _, name in keyed]


def test_priority_first_then_fifo() -> None:
    docs = [_doc("n1", 5), _doc("l1", 5, Priority.LOW), _doc("c1", 5, Priority.CRITICAL), _doc("n2", 5)]
    assert _order(docs, QueueOrder.DISCOVERY) == ["c1", "n1", "n2", "l1"]


def test_size_orders_within_a_level_only() -> None:
    docs = [_doc("small", 10), _doc("huge", 10**12), _doc("mid", 1000), _doc("tiny-high", 1, Priority.HIGH)]
    assert _order(docs, QueueOrder.SIZE_DESC) == ["tiny-high", "huge", "mid", "small"]
    assert _order(docs, QueueOrder.SIZE_ASC) == ["tiny-high", "small", "mid", "huge"]


def test_equal_sizes_keep_discovery_order() -> None:
    docs = [_doc("a", 7), _doc("b", 7), _doc("c", 7)]
    assert _order(docs, QueueOrder.SIZE_DESC) == ["a", "b", "c"]
