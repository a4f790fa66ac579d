"""Configuration mistakes, through the real CLI: docbatch.toml, DOCBATCH_* variables, flags and
--exec are checked before the batch; a mistake is one line naming where the value came from, exit 2,
and nothing written."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli, write_texts


def _refused(result: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    """The one stderr line of a usage error, after checking that nothing was processed."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert not (tmp_path / "docbatch-out").exists() and not (tmp_path / ".docbatch").exists()
    return lines[0].removeprefix("docbatch: error: ")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[run]\ntimout = "5m"\n', "docbatch.toml [run] timout: unknown option (did you mean timeout?)"),
        (
            '[run]\nmax-filesize = "1MB"\n',
            "docbatch.toml [run] max-filesize: unknown option (did you mean max-file-size?)",
        ),
        ('[run]\nolder-than = "30d"\n', "docbatch.toml [run] older-than: unknown option (an option of [prune])"),
        ('[rnu]\ntimeout = "5m"\n', "docbatch.toml: unknown section [rnu] (did you mean [run]?)"),
        (
            'timeout = "5m"\n',
            'docbatch.toml: timeout = "5m" is outside any [section]: put it under [run], [retry-failed]',
        ),
        (
            '[run]\ntimeout = "5 minutes"\n',
            'docbatch.toml [run] timeout = "5 minutes": invalid duration: use a number with a unit (ms, s, m, h, d)',
        ),
        ('[run]\nconcurrency = "four"\n', 'docbatch.toml [run] concurrency = "four": '),
        ('[run]\nmax-file-size = "2 parsecs"\n', 'docbatch.toml [run] max-file-size = "2 parsecs": invalid size'),
        ("[run]\nretries = -1\n", "docbatch.toml [run] retries = -1: Input should be greater than or equal to 0"),
        ('[run]\ninclude = "*.txt"\n', 'docbatch.toml [run] include = "*.txt": a list is expected'),
        ('[run]\nexec = "no-such-tool-here {in}"\n', "no program 'no-such-tool-here' on PATH"),
    ],
)
def test_a_mistake_in_docbatch_toml_names_the_file_section_and_key(tmp_path: Path, toml: str, message: str) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    (tmp_path / "docbatch.toml").write_text(toml)
    line = _refused(run_cli("run", str(docs), "-q", cwd=tmp_path), tmp_path)
    assert line.startswith(message) or message in line, line


def test_docbatch_config_naming_a_missing_file_is_refused(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    result = run_cli("run", str(docs), "-q", cwd=tmp_path, env={"DOCBATCH_CONFIG": str(tmp_path / "nightly.toml")})
    assert _refused(result, tmp_path) == f"DOCBATCH_CONFIG={tmp_path / 'nightly.toml'}: no such file"


def test_docbatch_config_is_read_with_its_own_name_in_messages(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    config = tmp_path / "etc" / "nightly.toml"
    config.parent.mkdir()
    config.write_text('[run]\ntimeout = "90s"\nmax-runtime = "3h 30m"\noutput = "night"\n')
    good = run_cli("run", str(docs), "-q", cwd=tmp_path, env={"DOCBATCH_CONFIG": str(config)})
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "night" / "a.txt.json").is_file()
    config.write_text('[run]\ngrace = "soon"\n')
    bad = run_cli("run", str(docs), "-q", "-o", "other", cwd=tmp_path, env={"DOCBATCH_CONFIG": str(config)})
    assert bad.returncode == 2 and bad.stderr.startswith(f'docbatch: error: {config} [run] grace = "soon": ')


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DOCBATCH_TIMEOUT", "x", 'DOCBATCH_TIMEOUT="x": invalid duration'),
        ("DOCBATCH_CONCURRENCY", "many", 'DOCBATCH_CONCURRENCY="many": '),
        ("DOCBATCH_CONCURRENCY", "0", 'DOCBATCH_CONCURRENCY="0": Input should be greater than or equal to 1'),
        ("DOCBATCH_EXECUTOR", "ftp://x", 'DOCBATCH_EXECUTOR="ftp://x": use local, dask://HOST:PORT'),
    ],
)
def test_a_bad_docbatch_variable_is_named_with_its_value(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    assert _refused(run_cli("run", str(docs), "-q", cwd=tmp_path, env={variable: value}), tmp_path).startswith(message)


def test_a_flag_wins_over_a_bad_variable_and_a_bad_flag_is_named(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    flag_wins = run_cli("run", str(docs), "-q", "--timeout", "5s", cwd=tmp_path, env={"DOCBATCH_TIMEOUT": "x"})
    assert flag_wins.returncode == 0, flag_wins.stderr
    bad_flag = run_cli("retry-failed", "--timeout", "5 mins", cwd=tmp_path)
    assert bad_flag.returncode == 2
    assert bad_flag.stderr.startswith('docbatch: error: --timeout "5 mins": invalid duration')


def test_the_readme_crontab_line_runs_as_written(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    (line,) = [text for text in readme.splitlines() if re.match(r"^[0-9*/,-]+( +[0-9*/,-]+){4} +cd ", text)]
    command = line.split(None, 5)[5]  # the five schedule fields off, the rest is what cron runs with sh
    archive = tmp_path / "archive"
    command = command.replace("cd /srv/archive", f"cd {archive}")
    assert "--max-runtime 3h30m" in command
    write_texts(archive / "incoming", "a.txt", "b.txt")
    (archive / "logs").mkdir()
    shims = tmp_path / "bin"  # `docbatch` on PATH, as an installed one would be
    shims.mkdir()
    shim = shims / "docbatch"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m docbatch "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{shims}:{os.environ['PATH']}"}
    result = subprocess.run(["sh", "-c", command], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert sorted(path.name for path in (archive / "extracted").glob("*.txt.json")) == ["a.txt.json", "b.txt.json"]
    assert (archive / "logs" / "docbatch.jsonl").read_text().strip()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "no-such-tool-here {in} {out}",
            "--exec \"no-such-tool-here {in} {out}\": no program 'no-such-tool-here' on PATH",
        ),
        ("./tools/missing {in}", '--exec "./tools/missing {in}": no program ./tools/missing'),
        ("./tools/plain {in}", '--exec "./tools/plain {in}": ./tools/plain is not executable'),
    ],
)
def test_exec_with_a_program_that_cannot_run_fails_once_before_the_batch(
    tmp_path: Path, template: str, message: str
) -> None:
    docs = write_texts(tmp_path / "docs", *(f"d{index}.txt" for index in range(5)))
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "plain").write_text('#!/bin/sh\ncat "$1"\n')  # no execute bit
    assert _refused(run_cli("run", str(docs), "-q", "--exec", template, cwd=tmp_path), tmp_path) == message
