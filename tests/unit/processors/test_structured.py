"""JSON numbers exactly as written, JSON Lines, CSV fields of any length, CSV as a Markdown table."""

import csv
from pathlib import Path

from docbatch.executors.job import run_job
from docbatch.models import ErrorKind, Extraction, JobResult, JobSpec, JobState


def _run(tmp_path: Path, name: str, data: bytes) -> JobResult:
    path = tmp_path / name
    path.write_bytes(data)
    return run_job(JobSpec(source_id=name, path=str(path), size=len(data)))


def _extract(tmp_path: Path, name: str, data: bytes) -> Extraction:
    result = _run(tmp_path, name, data)
    assert result.state is JobState.SUCCEEDED, result.message
    assert result.extraction is not None
    return result.extraction


def test_json_integers_wider_than_64_bits_keep_every_digit(tmp_path: Path) -> None:
    data = b'{"title": "Registry", "tag": -80241446968629135069, "serial": 18446744073709551617}'
    extraction = _extract(tmp_path, "registry.json", data)
    assert extraction.text == (
        '{\n  "title": "Registry",\n  "tag": -80241446968629135069,\n  "serial": 18446744073709551617\n}'
    )
    assert "e+19" not in extraction.text
    assert extraction.title == "Registry"


def test_json_floats_keep_their_digits_and_out_of_range_exponents(tmp_path: Path) -> None:
    extraction = _extract(tmp_path, "floats.json", b"[1.10, 0e+1, 1E400, -0.0, 3.141592653589793238462643383279]")
    assert extraction.text == "[\n  1.10,\n  0e+1,\n  1E400,\n  -0.0,\n  3.141592653589793238462643383279\n]"
    assert extraction.markdown == "```json\n" + extraction.text + "\n```"


def test_json_keeps_key_order_and_repeated_keys_with_a_warning(tmp_path: Path) -> None:
    extraction = _extract(tmp_path, "dup.json", b'{"b": 1, "a": 2, "b": 3}')
    assert extraction.text == '{\n  "b": 1,\n  "a": 2,\n  "b": 3\n}'
    assert extraction.metadata["keys"] == ["b", "a"]
    assert extraction.warnings == ["an object repeats a key: every value is kept in the text, in order"]


def test_json_nan_and_trailing_garbage_are_corrupt(tmp_path: Path) -> None:
    for name, data in (("nan.json", b"[NaN]"), ("tail.json", b'{"a": 1} x')):
        result = _run(tmp_path, name, data)
        assert result.state is JobState.DEAD and result.error_kind is ErrorKind.CORRUPT
        assert "invalid JSON" in (result.message or "")


def test_json_lines_keep_numbers_and_key_order(tmp_path: Path) -> None:
    data = b'{"z": 1, "id": 123456789012345678901234567890}\r\n\r\n{"z": 2.50, "id": 7}\n'
    extraction = _extract(tmp_path, "records.jsonl", data)
    assert extraction.text == '{"z":1,"id":123456789012345678901234567890}\n{"z":2.50,"id":7}'
    assert extraction.metadata["records"] == 2


def test_json_lines_name_the_bad_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "bad.jsonl", b'{"a": 1}\n{"a": \n')
    assert result.state is JobState.DEAD
    assert "line 2" in (result.message or "")


def test_csv_field_longer_than_pythons_default_limit_is_read(tmp_path: Path) -> None:
    long_field = "lorem ipsum " * 15_000  # 180,000 characters, over csv's default 131,072
    data = f'id,notes\n1,"short"\n2,"{long_field}"\n3,"still here"\n'.encode()
    limit_before = csv.field_size_limit()
    extraction = _extract(tmp_path, "long.csv", data)
    assert extraction.metadata["rows"] == 4
    lines = extraction.text.split("\n")
    assert lines[2] == "2\t" + long_field.strip()
    assert lines[3] == "3\tstill here"
    assert csv.field_size_limit() == limit_before  # the process-wide limit is restored


def test_csv_markdown_is_a_table_with_the_first_row_as_header(tmp_path: Path) -> None:
    data = "Name;City;Note\nZoë;Köln;a|b\nŁukasz;Łódź;\n".encode("utf-16-le")
    extraction = _extract(tmp_path, "people.csv", data)
    assert extraction.markdown == (
        "| Name | City | Note |\n| --- | --- | --- |\n| Zoë | Köln | a\\|b |\n| Łukasz | Łódź |  |"
    )
    assert extraction.text == "Name\tCity\tNote\nZoë\tKöln\ta|b\nŁukasz\tŁódź\t"
