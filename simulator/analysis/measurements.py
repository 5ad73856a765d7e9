"""Measurements files: measured token rates of real boards, each with its source, for `specsoc validate`.

A YAML file with a list `measurements:`; each entry names the board and the SoC file that describes it, the
model (bundled name or path) and weight format, the engine (free text, with its version), where it ran
(`device`: cpu:K for K threads, a cluster, or gpu), the test as llama-bench names it ("pp512", "tg128",
"tg128 @ d512"), the measured tokens per second, and the source (a URL). `note` is free text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from simulator.analysis.benchmodel import BenchCase
from simulator.common.bundled import bundled_dir
from simulator.common.config import Section, read_mapping
from simulator.common.errors import InputError
from simulator.hw.dtypes import WEIGHT_FORMATS
from simulator.llm.modelfile import load_model

_TEST = re.compile(r"^(pp|tg) ?([0-9]{1,6})(?: @ d([0-9]{1,6}))?$")
MAX_MEASUREMENTS = 10_000


@dataclass(frozen=True)
class Measurement:
    board: str
    soc: str
    case: BenchCase
    engine: str
    tokens_per_s: float
    source: str
    note: str = ""


def parse_test(text: str, where: str) -> tuple[str, int, int]:
    m = _TEST.match(text)
    if not m or int(m.group(2)) < 1:
        raise InputError(where, f"test {text!r}: write it as llama-bench does: pp512, tg128 or 'tg128 @ d512'")
    return m.group(1), int(m.group(2)), int(m.group(3) or 0)


def bundled_measurements() -> list[str]:
    return sorted(p.stem for p in (bundled_dir("socs") / "measurements").glob("*.yaml"))


def load_measurements(name_or_path: str) -> list[Measurement]:
    """A bundled measurements file by name (socs/measurements/NAME.yaml) or a YAML path."""
    stem = name_or_path[:-5] if name_or_path.endswith(".yaml") else name_or_path
    bundled = bundled_dir("socs") / "measurements" / f"{stem}.yaml"
    path = Path(name_or_path)
    if "/" not in name_or_path and bundled.is_file() and not path.is_file():
        path, label = bundled, f"socs/measurements/{stem}.yaml"
    elif not path.exists():
        raise InputError(name_or_path, f"no such file, and not a bundled measurements file "
                                       f"(bundled: {', '.join(bundled_measurements())})")
    else:
        label = name_or_path
        if not path.is_file():
            raise InputError(name_or_path, "is not a regular file")
    top = Section(label, read_mapping(path))
    entries = top.sections("measurements")
    top.done()
    if not entries:
        raise top.fail("measurements", "the list is empty")
    if len(entries) > MAX_MEASUREMENTS:
        raise top.fail("measurements", f"more than {MAX_MEASUREMENTS} entries")
    out = []
    for sec in entries:
        kind, tokens, depth = parse_test(sec.string("test"), f"{label}: {sec.path}.test")
        weights = sec.string("weights", choices=WEIGHT_FORMATS)
        try:
            model = load_model(sec.string("model"))
        except InputError as err:
            raise sec.fail("model", str(err)) from None
        try:
            case = BenchCase(model, weights, sec.string("device"), kind, tokens, depth)
        except InputError as err:
            raise sec.fail("test", err.problem) from None
        out.append(Measurement(board=sec.string("board"), soc=sec.string("soc"), case=case,
                               engine=sec.string("engine"),
                               tokens_per_s=sec.number("tokens_per_s", min=1e-6, max=1e7),
                               source=sec.string("source"), note=sec.string("note", "")))
        sec.done()
    return out
