"""Output files appear whole or not at all; config sections name the file, key and problem of the first fault."""

from __future__ import annotations

import json
import os

import pytest

from simulator.common.config import Section, is_number, read_json, read_mapping
from simulator.common.errors import InputError
from simulator.common.output import check_output_path, write_json


def test_json_is_sorted_strict_and_written_through_a_temporary_file(tmp_path):
    out = tmp_path / "r.json"
    write_json(str(out), {"b": 1, "a": [0.5]})
    assert out.read_text() == json.dumps({"a": [0.5], "b": 1}, indent=2, sort_keys=True) + "\n"
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(ValueError):
        write_json(str(out), {"x": float("nan")})              # not JSON: refused, and the old file stays whole
    assert json.loads(out.read_text()) == {"a": [0.5], "b": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("where,problem", [("dir", "is a directory"), ("missing/x.json", "does not exist")])
def test_an_output_path_that_cannot_be_written_is_refused_before_any_work(tmp_path, where, problem):
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match=problem):
        check_output_path(str(tmp_path / where))


def test_a_section_names_the_file_the_key_and_a_likely_typo():
    sec = Section("soc.yaml", {"clock_ghz": 1.8, "clok": 2, "cores": 2.5})
    assert sec.number("clock_ghz", positive=True) == 1.8
    with pytest.raises(InputError, match=r"^soc\.yaml: cores: must be a whole number, got 2\.5$"):
        sec.number("cores", integer=True)
    with pytest.raises(InputError, match=r"found unknown key 'clok': a typo\?"):
        sec.number("clock")
    with pytest.raises(InputError, match=r"^soc\.yaml: clok: unknown key$"):
        sec.done()


def test_malformed_files_are_one_line_errors_with_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\nb: [2\n")
    with pytest.raises(InputError, match=r"bad\.yaml: malformed YAML at line \d"):
        read_mapping(bad)
    doc = tmp_path / "doc.json"
    doc.write_text("{\n  \"a\": \n")
    with pytest.raises(InputError, match=r"not valid JSON .* line 3 .*expected a `specsoc x` file"):
        read_json(str(doc), "specsoc x")


def test_numbers_are_finite_ints_or_floats_not_bools():
    assert is_number(1) and is_number(0.5)
    assert not any(is_number(v) for v in (True, float("inf"), float("nan"), "1", None))


def test_outputs_written_together_appear_together_or_not_at_all(tmp_path):
    import pytest as _pytest

    from simulator.common.output import together, write_text
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old")
    with _pytest.raises(KeyboardInterrupt):
        with together():
            write_text(str(a), "new a")
            write_text(str(b), "new b")
            assert a.read_text() == "old" and not b.exists()      # written, not yet in place
            raise KeyboardInterrupt
    assert a.read_text() == "old" and not b.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with together():
        write_text(str(a), "new a")
        write_text(str(b), "new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_an_empty_output_path_is_refused(capsys):
    from simulator.cli.main import main
    for flag in ("--json", "--csv", "--timeline"):
        assert main(["run", "--samples", "1", flag, ""]) == 2
        assert f"{flag}: is an empty path" in capsys.readouterr().err
