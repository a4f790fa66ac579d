import logging
import threading

import pytest

from docbatch.discovery.items import SeenFiles
from docbatch.scratch import CACHE_KIB, COMMIT_EVERY, ScratchTable


def test_a_scratch_table_is_a_map_of_strings() -> None:
    table = ScratchTable()
    assert table.get("a") is None and "a" not in table and len(table) == 0
    assert table.put_new("a", "first") is None
    assert table.put_new("a", "second") == "first"  # taken: the earlier value, unchanged
    table["b"] = "one"
    table["b"] = "two"
    assert (table.get("a"), table.get("b"), len(table)) == ("first", "two", 2)
    table.discard("a")
    table.discard("never there")
    assert "a" not in table and len(table) == 1
    table.close()


def test_a_scratch_table_is_a_set_of_strings() -> None:
    table = ScratchTable()
    assert table.add("x") is True
    assert table.add("x") is False
    assert "x" in table and "y" not in table and 1 not in table
    table.close()


def test_closing_drops_every_entry_and_the_table_can_be_used_again() -> None:
    table = ScratchTable()
    table.add("x")
    table.close()
    assert len(table) == 0 and "x" not in table
    table.add("y")
    assert "y" in table
    table.close()
    table.close()  # twice is harmless


def test_entries_past_the_page_cache_are_all_still_there() -> None:
    # A million documents' entries never sit in memory: past CACHE_KIB they are in the table's file.
    table = ScratchTable()
    count = 3 * CACHE_KIB * 1024 // 60  # about 60 bytes an entry: three times the cache
    for index in range(count):
        assert table.put_new(f"folder/note{index:07d}.txt", f"/input/folder/note{index:07d}.txt") is None
    assert len(table) == count
    assert table.get("folder/note0000000.txt") == "/input/folder/note0000000.txt"
    assert table.put_new(f"folder/note{count - 1:07d}.txt", "again") == f"/input/folder/note{count - 1:07d}.txt"
    table.close()


def test_a_scratch_table_is_used_from_several_threads() -> None:
    table = ScratchTable()

    def fill(offset: int) -> None:
        for index in range(2000):
            table.add(f"{offset}-{index}")

    threads = [threading.Thread(target=fill, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(table) == 8000
    table.close()


def test_seen_files_are_file_identities() -> None:
    seen = SeenFiles()
    assert (1, 2) not in seen
    seen.add((1, 2))
    assert (1, 2) in seen and (2, 1) not in seen and "1:2" not in seen
    assert len(seen) == 1
    seen.close()
    assert (1, 2) not in seen


def test_a_table_whose_file_is_refused_goes_on_in_memory_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # A full or read-only temporary folder: the run must stay right (its memory grows, that is all).
    table = ScratchTable()
    table.put_new("kept", "before")
    table.add("member")
    for index in range(COMMIT_EVERY):  # these two are committed by now
        table.add(f"filler{index}")
    db = table._db
    assert db is not None
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")  # the next page the file needs is refused: "disk full"
    with caplog.at_level(logging.WARNING, logger="docbatch"):
        for index in range(2000):
            assert table.put_new(f"key{index:05d}", "x" * 50) is None
    assert "refused docbatch's scratch table" in caplog.text
    assert table._db is None and table._memory is not None
    assert table.get("kept") == "before" and "member" in table and table.add("member") is False
    assert table.put_new("key01999", "again") == "x" * 50  # entries since then are in memory
    table["kept"] = "after"
    table.discard("member")
    assert table.get("kept") == "after" and "member" not in table and "filler0" in table
    table.close()
    assert len(table) == 0 and "kept" not in table


def test_names_that_are_not_utf8_are_kept_as_they_are() -> None:
    table = ScratchTable()
    name = "caf\udce9.txt"  # a Latin-1 file name as Python reads it from a UTF-8 system
    try:
        assert table.put_new(name, "out/caf\udce9.txt.json") is None
        assert table.put_new(name, "other") == "out/caf\udce9.txt.json" and name in table
    finally:
        table.close()
