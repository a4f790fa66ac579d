import zipfile
from pathlib import Path

from docbatch.executors.failures import describe_exception, without_paths
from docbatch.executors.job import run_job
from docbatch.models import ErrorKind, JobSpec, JobState


def test_common_library_exceptions_are_said_in_words() -> None:
    assert (
        describe_exception(KeyError("word/document.xml")) == "a part or entry it needs is missing ('word/document.xml')"
    )
    undecodable = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    assert describe_exception(undecodable) == "bytes that are not valid utf-8 at offset 0"
    assert describe_exception(zipfile.BadZipFile("File is not a zip file")).startswith("broken ZIP container")
    assert describe_exception(NotImplementedError()) == "unexpected structure (not implemented error)"


def test_paths_in_messages_become_the_document_id(tmp_path: Path) -> None:
    path = str(tmp_path / "in" / "a.pdf")
    assert without_paths(f"cannot open {path}: broken", path, "in/a.pdf") == "cannot open in/a.pdf: broken"


def test_a_custom_processor_that_raises_is_not_blamed_on_the_document(tmp_path: Path) -> None:
    document = tmp_path / "raise.txt"
    document.write_text("text")
    spec = JobSpec(
        source_id="raise.txt", path=str(document), size=4, processor_override="tests.helpers.processors:misbehave"
    )
    result = run_job(spec)
    assert (result.state, result.error_kind) == (JobState.DEAD, ErrorKind.PROCESSOR)
    assert result.message == "processor tests.helpers.processors:misbehave raised ValueError: bad bytes at offset 7"


def test_a_library_failure_names_the_reader_and_no_absolute_path(tmp_path: Path) -> None:
    document = tmp_path / "deep" / "folder" / "broken.docx"
    document.parent.mkdir(parents=True)
    with zipfile.ZipFile(document, "w") as archive:  # a ZIP that claims to be Word but has no body
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<not-closed")
    result = run_job(JobSpec(source_id="folder/broken.docx", path=str(document), size=document.stat().st_size))
    assert result.state is JobState.DEAD and result.error_kind is ErrorKind.CORRUPT
    assert result.message is not None and str(tmp_path) not in result.message
