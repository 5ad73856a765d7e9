"""The bundled data files: they load, every number carries its source, and they agree with public figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from simulator.hw.socfile import load_soc
from simulator.llm.modelfile import load_model

ROOT = Path(__file__).resolve().parent.parent
SOC_FILES = sorted((ROOT / "socs").glob("*.yaml"))
GRAPH_FILES = sorted((ROOT / "graphs").glob("*.yaml"))
DATA_FILES = SOC_FILES + GRAPH_FILES

_KEY_VALUE = re.compile(r"^\s*(?:-\s+)?[^\s:#][^:#]*:\s+(?P<value>\S.*)$")


def _split_comment(line: str) -> tuple[str, str | None]:
    """(content, comment) of one YAML line; comment is None if there is no `#` comment outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), None


def _has_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, dict):
        return any(_has_number(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_number(v) for v in value)
    return False


def uncommented_numeric_lines(text: str) -> list[str]:
    """Lines holding a numeric value (`key: number` or a flow map/list with numbers) without a non-empty comment."""
    bad = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        content, comment = _split_comment(line)
        match = _KEY_VALUE.match(content)
        if not match:
            continue
        indent = len(line) - len(line.lstrip())
        if content.strip().startswith("value:") and i + 1 < len(lines) and \
                lines[i + 1].startswith(" " * indent + "source:"):
            continue       # a calibration value: its source is the `source:` key beside it
        try:
            value = yaml.safe_load(match.group("value"))
        except yaml.YAMLError:
            continue
        if _has_number(value) and not comment:
            bad.append(line)
    return bad


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_bundled_files_exist():
    assert {p.stem for p in SOC_FILES} >= {"imx95", "rk3588", "rpi5"}
    assert {p.stem for p in GRAPH_FILES} >= {"llama-3.2-1b", "llama-3.2-3b", "qwen2.5-0.5b", "qwen2.5-1.5b",
                                              "tinyllama-1.1b"}


@pytest.mark.parametrize("path", SOC_FILES, ids=_id)
def test_soc_file_loads(path):
    soc = load_soc(path.stem)
    assert soc.name == path.stem
    assert soc.pu(soc.host).kind == "cpu"


@pytest.mark.parametrize("path", GRAPH_FILES, ids=_id)
def test_graph_file_loads(path):
    model = load_model(path.stem)
    assert model.name == path.stem
    assert model.source.startswith("https://huggingface.co/")


@pytest.mark.parametrize("path", DATA_FILES, ids=_id)
def test_every_number_has_a_source_comment(path):
    assert uncommented_numeric_lines(path.read_text(encoding="utf-8")) == []


def test_provenance_check_catches_missing_comments(tmp_path):
    text = (ROOT / "socs" / "imx95.yaml").read_text(encoding="utf-8")
    stripped = []
    for line in text.splitlines():
        if line.strip().startswith(("clock_ghz:", "flop_per_cycle:")):
            line = _split_comment(line)[0]
        elif line.strip().startswith("bandwidth_gb_s:"):
            line = _split_comment(line)[0] + "  #   "          # an empty comment does not count
        stripped.append(line)
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("\n".join(stripped) + "\n", encoding="utf-8")
    bad = uncommented_numeric_lines(bad_file.read_text(encoding="utf-8"))
    assert [b.strip().split(":")[0] for b in bad] == ["clock_ghz", "flop_per_cycle", "clock_ghz",
                                                      "flop_per_cycle", "bandwidth_gb_s", "clock_ghz", "bandwidth_gb_s"]
    # The stripped file still loads: the check is about provenance, not the schema.
    assert load_soc(str(bad_file)).name == "imx95"


def test_provenance_check_unit_cases():
    text = "\n".join([
        "a: 1",                               # bad
        "b: 2  # config.json b",
        "c: {x: 1, y: 2}",                    # bad
        "d: {x: 1}  # spec",
        "e: {int8: fp32}",                    # no number
        "f: \"LPDDR5-6400 x32\"",             # a string, not a number
        "  - cores: 6",                       # bad
        "g: true",
        "h: 0.5 #",                           # bad: empty comment
        "i: \"a # b\" 3",                     # not valid YAML number; a string
        "# j: 5",
    ])
    assert uncommented_numeric_lines(text) == ["a: 1", "c: {x: 1, y: 2}", "  - cores: 6", "h: 0.5 #"]


PUBLIC_PARAMETERS = {
    "llama-3.2-1b": 1.24e9,
    "llama-3.2-3b": 3.21e9,
    "qwen2.5-0.5b": 0.49e9,
    "qwen2.5-1.5b": 1.54e9,
    "tinyllama-1.1b": 1.10e9,
}


@pytest.mark.parametrize("name", sorted(PUBLIC_PARAMETERS))
def test_parameter_count_matches_public_figure(name):
    count = load_model(name).parameters()
    assert count == pytest.approx(PUBLIC_PARAMETERS[name], rel=0.02)


def test_imx95_derived_facts():
    soc = load_soc("imx95")
    assert soc.dram.usable_B_s == pytest.approx(25.6e9 * 0.7, rel=1e-9)
    assert soc.pu("mali-g310").compute_dtype("int8") == "fp32"
    assert soc.pu("mali-g310").kind == "gpu"
    assert soc.host == "a55" and soc.pu("a55").units == 6


def test_every_bundled_data_file_is_installed_with_the_package():
    # pyproject.toml's package-data globs must cover every file under socs/, graphs/ and traces/, or a
    # `pip install .` (not editable) would lack it
    import fnmatch
    import tomllib
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, directory in setup["package-dir"].items():
        globs = setup["package-data"][package]
        for path in (ROOT / directory).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(ROOT / directory).as_posix()
                assert any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), rel
