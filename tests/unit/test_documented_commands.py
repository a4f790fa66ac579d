"""The commands the README and CI document start docbatch through uv without uv's own lines."""

from __future__ import annotations

import re

from tests.conftest import REPO

# `uv run [its options] docbatch ...`: the options between `run` and the command are uv's.
_UV_RUN_DOCBATCH = re.compile(r"uv run ((?:--?[\w-]+ )*)docbatch\b")


def test_every_documented_uv_run_of_docbatch_is_quiet_and_frozen() -> None:
    found = 0
    for name in ("README.md", ".ci/run"):
        for options in _UV_RUN_DOCBATCH.findall((REPO / name).read_text(encoding="utf-8")):
            found += 1
            # --quiet: no "Bytecode compiled ..." on stderr at every start; --frozen: never re-lock.
            assert set(options.split()) >= {"--frozen", "--quiet"}, (name, options)
    assert found >= 2  # the README's quick start and CI's copy of it
