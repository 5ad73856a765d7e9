"""Bundled scenarios' JSON documents, pinned: the output of the code before the package refactor (issue 10).

Each command writes its --json document; it must equal the stored one to 1e-9 relative in every number and
exactly everywhere else (same keys, strings, booleans). A deliberate change of results regenerates the stored
files with the commands below and says so in its commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli.main import main

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"

COMMANDS = {
    "default": ["run"],
    "overlap": ["run", "--kv-cache", "--target-device", "cpu:4", "--draft-device", "gpu", "--mode", "overlap",
                "--alpha", "0.9"],
    "ar": ["run", "--draft", "none", "--kv-cache", "--target-device", "cpu:6", "--new-tokens", "32"],
    "explore90": ["explore", "--alpha", "0.90"],
    "explore17": ["explore", "--alpha", "0.17"],
    "check": ["check"],
}


def assert_same(got, want, path: str = "") -> None:
    """Equal structure; numbers to 1e-9 relative (bools and strings exactly)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{path}: keys differ"
        for key in want:
            assert_same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), f"{path}: {got!r} is not a number"
        assert got == pytest.approx(want, rel=1e-9, abs=0.0), f"{path}: {got!r} != {want!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_equals_the_stored_document(name, tmp_path, capsys):
    out = tmp_path / f"{name}.json"
    assert main([*COMMANDS[name], "--json", str(out)]) == 0
    capsys.readouterr()
    assert_same(json.loads(out.read_text()), json.loads((GOLDEN / f"{name}.json").read_text()), name)


def test_the_comparison_fails_on_a_changed_number():
    want = json.loads((GOLDEN / "default.json").read_text())
    got = json.loads(json.dumps(want))
    got["results"]["total_time_s"] *= 1 + 1e-8
    with pytest.raises(AssertionError, match="total_time_s"):
        assert_same(got, want)
