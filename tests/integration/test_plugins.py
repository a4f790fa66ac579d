"""A processor plugin installed the standard way (a dist-info with an entry point on the path) is
listed, used for its extension, and runs in the supervised workers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli

PLUGIN = """
import codecs

from docbatch import Extraction, Processor, SourceFile


class Rot13Processor(Processor):
    name = "rot13"
    kinds = ("rot13",)
    extensions = ("rot",)
    library = "docbatch-rot13"
    description = "text hidden with ROT13"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        return Extraction(kind="rot13", text=codecs.decode(source.read_bytes().decode(), "rot13"))
"""


def _install_plugin(site: Path) -> None:
    site.mkdir()
    (site / "docbatch_rot13.py").write_text(PLUGIN)
    info = site / "docbatch_rot13-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: docbatch-rot13\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[docbatch.processors]\nrot13 = docbatch_rot13:Rot13Processor\n")


def test_entry_point_plugin_is_listed_and_used(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site)
    env = {"PYTHONPATH": f"{REPO}:{site}"}
    listed = json.loads(run_cli("processors", "--json", cwd=tmp_path, env=env).stdout)
    rot13 = next(row for row in listed if row["name"] == "rot13")
    assert (rot13["extensions"], rot13["library_version"]) == (["rot"], "1.0")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "secret.rot").write_text("uryyb jbeyq")
    (docs / "plain.txt").write_text("still read by the built-in text processor")
    result = run_cli("run", str(docs), "-q", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    output = json.loads((tmp_path / "docbatch-out" / "secret.rot.json").read_text())
    assert output["text"] == "hello world" and output["processor"]["version"] == "rot13/1.0"
    assert json.loads((tmp_path / "docbatch-out" / "plain.txt.json").read_text())["type"] == "text"


def test_a_plugin_claiming_a_builtin_name_is_refused_clearly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site)
    (site / "docbatch_rot13.py").write_text(PLUGIN.replace('name = "rot13"', 'name = "pdf"'))
    result = run_cli("run", str(tmp_path), cwd=tmp_path, env={"PYTHONPATH": f"{REPO}:{site}"})
    assert result.returncode == 2
    assert result.stderr.strip() == "docbatch: error: two processors are named 'pdf'"
    assert not (tmp_path / "docbatch-out").exists()  # refused before the batch started
