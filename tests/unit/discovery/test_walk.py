import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docbatch.config import SourceConfig
from docbatch.discovery import DiscoveryFailure, discover
from docbatch.models import Document, ErrorKind, Skip


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
    items = list(discover(config))
    # What the filters leave out is not part of the run: neither a document nor a recorded skip.
    assert [(type(item).__name__, item.source_id) for item in items] == [("Document", "keep.pdf")]


def test_a_trailing_slash_means_folders_only(tmp_path: Path) -> None:
    _write(tmp_path / "drafts")  # a file named like the folder pattern
    _write(tmp_path / "a" / "drafts" / "old.txt")
    _write(tmp_path / "a" / "kept.txt")
    _write(tmp_path / "invoices" / "2025.txt")
    _write(tmp_path / "notes.txt")
    pruned = [item.source_id for item in discover(SourceConfig(paths=[tmp_path], exclude=["drafts/"]))]
    assert pruned == ["drafts", "notes.txt", "a/kept.txt", "invoices/2025.txt"]
    only = [item.source_id for item in discover(SourceConfig(paths=[tmp_path], include=["invoices/"]))]
    assert only == ["invoices/2025.txt"]
    # Without the slash a pattern names a file or a folder, as in gitignore: the file named drafts and
    # every file under a folder named drafts.
    named = [item.source_id for item in discover(SourceConfig(paths=[tmp_path], include=["drafts"]))]
    assert named == ["drafts", "a/drafts/old.txt"]


def test_extension_globs_match_regardless_of_case(tmp_path: Path) -> None:
    for name in ("SCAN.PDF", "b.Pdf", "c.pdf", "d.txt", "E.pdfx"):
        _write(tmp_path / name)
    found = [item.source_id for item in discover(SourceConfig(paths=[tmp_path], include=["*.pdf"]))]
    assert found == ["SCAN.PDF", "b.Pdf", "c.pdf"]
    # Only the extension is read without case, as docbatch reads types; names keep theirs.
    assert [item.source_id for item in discover(SourceConfig(paths=[tmp_path], include=["scan.*"]))] == []
    kept = [item.source_id for item in discover(SourceConfig(paths=[tmp_path], exclude=["*.PDF"]))]
    assert kept == ["E.pdfx", "d.txt"]


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


def test_the_same_folder_or_file_named_several_ways_is_walked_once_under_the_first_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "docs" / "a" / "x.txt")
    _write(tmp_path / "docs" / "b.txt")
    (tmp_path / "link").symlink_to(tmp_path / "docs")
    spellings = [Path("docs"), Path("./docs/"), tmp_path / "docs", Path("link"), Path("docs/a"), Path("docs/b.txt")]
    items = list(discover(SourceConfig(paths=spellings)))
    # One folder after all: ids relative to it, as when it is given once.
    assert [item.source_id for item in items] == ["b.txt", "a/x.txt"]


def test_a_folder_inside_a_later_one_keeps_its_own_ids_and_is_not_walked_again(tmp_path: Path) -> None:
    _write(tmp_path / "docs" / "a" / "x.txt")
    _write(tmp_path / "docs" / "b.txt")
    single = _write(tmp_path / "docs" / "c.txt")
    items = list(discover(SourceConfig(paths=[single, tmp_path / "docs" / "a", tmp_path / "docs"])))
    assert [item.source_id for item in items] == ["c.txt", "a/x.txt", "docs/b.txt"]


def test_a_hidden_folder_given_again_is_still_walked(tmp_path: Path) -> None:
    _write(tmp_path / "docs" / ".archive" / "x.txt")
    _write(tmp_path / "docs" / "b.txt")
    items = list(discover(SourceConfig(paths=[tmp_path / "docs", tmp_path / "docs" / ".archive"])))
    assert [item.source_id for item in items if isinstance(item, Document)] == ["docs/b.txt", ".archive/x.txt"]


def test_root_names_never_make_two_documents_share_an_id(tmp_path: Path) -> None:
    _write(tmp_path / "x" / "docs" / "a.txt")
    _write(tmp_path / "z" / "y" / "docs" / "a.txt")
    _write(tmp_path / "y" / "docs" / "a.txt")
    roots = [tmp_path / "x" / "docs", tmp_path / "z" / "y" / "docs", tmp_path / "y"]
    ids = [item.source_id for item in discover(SourceConfig(paths=roots))]
    # "y" would contain the second root's "y/docs": it is lengthened by its parent instead.
    assert ids == ["docs/a.txt", "y/docs/a.txt", f"{tmp_path.name}/y/docs/a.txt"]


def test_the_log_file_and_earlier_docbatch_folders_are_not_read_nor_counted(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt")
    log = _write(tmp_path / "run.log", b"2026 docbatch summary")
    _write(tmp_path / ".docbatch" / "ledger.sqlite", b"SQLite format 3")
    _write(tmp_path / "state-no-dot" / "ledger.sqlite", b"SQLite format 3")
    _write(tmp_path / "old-out" / ".docbatch-output", b"ledger=/elsewhere\n")
    _write(tmp_path / "old-out" / "a.txt.json", b"{}")
    items = list(discover(SourceConfig(paths=[tmp_path]), own_files=[log]))
    assert [item.source_id for item in items] == ["a.txt"]


def test_an_unreadable_folder_is_a_failure_not_a_skip(public_tmp: Path) -> None:
    tmp_path = public_tmp
    _write(tmp_path / "docs" / "a.txt")
    _write(tmp_path / "docs" / "locked" / "b.txt")
    (tmp_path / "docs" / "locked").chmod(0)
    try:
        # Root reads any folder: the walk runs as nobody, in a process of its own.
        script = (
            "import sys; from pathlib import Path; from docbatch.config import SourceConfig; "
            "from docbatch.discovery import discover; "
            "[print(type(i).__name__, i.source_id, getattr(i, 'error_kind', ''), getattr(i, 'message', '')) "
            "for i in discover(SourceConfig(paths=[Path(sys.argv[1])]))]"
        )
        out = _as_nobody([sys.executable, "-c", script, str(tmp_path / "docs")], tmp_path)
    finally:
        (tmp_path / "docs" / "locked").chmod(0o755)
    lines = out.splitlines()
    assert lines[0] == "Document a.txt  "
    assert (
        lines[1] == f"DiscoveryFailure locked io cannot read folder {tmp_path / 'docs' / 'locked'}: permission denied"
    )


def _as_nobody(command: list[str], cwd: Path) -> str:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop root's permission override")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_missing_file_given_directly_is_a_failure(tmp_path: Path) -> None:
    _write(tmp_path / "x.txt")
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "nowhere.txt")
    (item,) = list(discover(SourceConfig(paths=[link])))
    assert isinstance(item, DiscoveryFailure) and item.error_kind is ErrorKind.IO
