import os
from pathlib import Path

from docbatch.config import SourceConfig
from docbatch.discovery import discover
from docbatch.models import Document, Skip


def _write(path: Path, content: bytes = b"hello") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _by_id(items: list[Document | Skip]) -> dict[str, Document | Skip]:
    return {item.source_id: item for item in items}


def test_walks_recursively_in_a_stable_order_with_ids_relative_to_root(tmp_path: Path) -> None:
    _write(tmp_path / "b.txt")
    _write(tmp_path / "a" / "z.txt")
    _write(tmp_path / "a" / "deeper" / "y.txt")
    _write(tmp_path / "c" / "x.txt")
    items = list(discover(SourceConfig(paths=[tmp_path])))
    # A folder's files by name, then its subfolders by name, depth first.
    assert [item.source_id for item in items] == ["b.txt", "a/z.txt", "a/deeper/y.txt", "c/x.txt"]
    assert all(isinstance(item, Document) for item in items)


def test_skips_hidden_lock_and_empty_files_with_reasons(tmp_path: Path) -> None:
    _write(tmp_path / ".secret.txt")
    _write(tmp_path / "~$report.docx")
    _write(tmp_path / "empty.txt", b"")
    _write(tmp_path / ".git" / "config")
    _write(tmp_path / "kept.txt")
    items = _by_id(list(discover(SourceConfig(paths=[tmp_path]))))
    assert isinstance(items["kept.txt"], Document)
    reasons = {key: item.reason for key, item in items.items() if isinstance(item, Skip)}
    assert reasons == {
        ".secret.txt": "hidden file",
        "~$report.docx": "Office lock file",
        "empty.txt": "empty file",
        ".git": "hidden folder (not walked)",
    }


def test_never_opens_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (item,) = list(discover(SourceConfig(paths=[tmp_path])))
    assert isinstance(item, Skip)
    assert item.reason == "not a regular file (a FIFO)"


def test_does_not_follow_symlinks_out_of_the_root(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside" / "secret.txt")
    root = tmp_path / "root"
    _write(root / "inside.txt")
    (root / "escape.txt").symlink_to(outside)
    (root / "escape-dir").symlink_to(outside.parent)
    (root / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (root / "alias.txt").symlink_to(root / "inside.txt")
    items = _by_id(list(discover(SourceConfig(paths=[root]))))
    assert isinstance(items["alias.txt"], Document)
    assert isinstance(items["inside.txt"], Document)
    for name in ("escape.txt", "escape-dir"):
        item = items[name]
        assert isinstance(item, Skip) and "outside its root" in item.reason
    dangling = items["dangling.txt"]
    assert isinstance(dangling, Skip) and dangling.reason == "dangling symlink"


def test_a_symlink_loop_ends(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "doc.txt")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    items = _by_id(list(discover(SourceConfig(paths=[tmp_path]))))
    assert isinstance(items["a/doc.txt"], Document)
    loop = items["a/loop"]
    assert isinstance(loop, Skip) and "symlink loop" in loop.reason


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    _write(tmp_path / "keep.pdf")
    _write(tmp_path / "drop.txt")
    _write(tmp_path / "drafts" / "old.pdf")
    config = SourceConfig(paths=[tmp_path], include=["*.pdf"], exclude=["drafts"])
    items = _by_id(list(discover(config)))
    assert isinstance(items["keep.pdf"], Document)
    assert isinstance(items["drop.txt"], Skip) and items["drop.txt"].reason == "not matched by --include"
    assert isinstance(items["drafts"], Skip) and items["drafts"].reason == "excluded by --exclude"
    assert "drafts/old.pdf" not in items


def test_several_roots_get_their_folder_name_as_prefix_and_files_their_name(tmp_path: Path) -> None:
    _write(tmp_path / "one" / "x.txt")
    _write(tmp_path / "two" / "x.txt")
    single = _write(tmp_path / "three" / "x.txt")
    items = list(discover(SourceConfig(paths=[tmp_path / "one", tmp_path / "two", single])))
    assert [item.source_id for item in items] == ["one/x.txt", "two/x.txt", "x.txt"]


def test_discovery_is_lazy(tmp_path: Path) -> None:
    for index in range(50):
        _write(tmp_path / f"d{index:02d}" / "doc.txt")
    stream = discover(SourceConfig(paths=[tmp_path]))
    first = next(stream)
    # A file created after the first document was yielded is still found: the walk had not run ahead.
    _write(tmp_path / "d49" / "late.txt")
    rest = [item.source_id for item in stream]
    assert first.source_id == "d00/doc.txt"
    assert "d49/late.txt" in rest


def test_the_runs_own_output_and_state_folders_are_never_walked(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("text")
    for own in ("docbatch-out", "state"):
        (tmp_path / own).mkdir()
        (tmp_path / own / "written.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "b.txt").write_text("text")
    found = list(discover(SourceConfig(paths=[tmp_path]), own_folders=(tmp_path / "docbatch-out", tmp_path / "state")))
    # Not documents, not skips either: they are not the user's files at all.
    assert [item.source_id for item in found] == ["a.txt", "notes/b.txt"]
