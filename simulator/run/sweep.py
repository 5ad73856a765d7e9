"""Sweeps: many independent scenarios from one YAML file, each point's result appended to a JSONL file as it ends.

A sweep file has a `base:` (ScenarioSpec fields: the flags of `specsoc run`, `target_device: cpu:4`, ...) and
`axes:` (a field or a SoC parameter by its dotted key, `soc.dram.peak_bandwidth_gb_s`, list entries by name,
`soc.gpus.mali-g310.shader_cores`, each with a list of values or a range `{from: 1, to: 8, step: 1}`). The points are every combination of the axes'
values, in file order. Each point is independent and deterministic: its seed is derived from its parameters
(unless the base or an axis sets `seed`), so a point gives the same result alone, in any order, on any worker;
points that differ only in hardware or mapping share their seed, so they replay the same samples.

Results go to a JSONL file, one line per finished point, flushed at once: a sweep stopped at any moment keeps
every finished point, and a resumed sweep runs only the points whose key is not in the file yet (a last line
cut short by a kill is ignored and its point run again).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, fields
from pathlib import Path

from simulator.common.bundled import resolve_file
from simulator.common.config import Section, read_mapping
from simulator.common.errors import InputError
from simulator.hw.socfile import parse_soc
from simulator.run.builder import ScenarioSpec
from simulator.run.simulate import simulate

MAX_POINTS = 1_000_000
WORKLOAD_FIELDS = ("alpha", "trace", "samples", "prompt_tokens", "new_tokens")
_FIELDS = {f.name for f in fields(ScenarioSpec)} - {"effects"}


@dataclass(frozen=True)
class Point:
    index: int
    params: tuple[tuple[str, object], ...]      # (axis, value), in axis order

    @property
    def key(self) -> str:
        """The point's identity in a results file: its parameters as canonical JSON."""
        return json.dumps(dict(self.params), sort_keys=True, separators=(",", ":"))

    @property
    def seed(self) -> int:
        """Derived from the parameters that shape the workload only (WORKLOAD_FIELDS): points that differ in
        hardware, mapping or gamma replay the same samples, so their difference is the what-if, not noise."""
        shaping = {k: v for k, v in self.params if k in WORKLOAD_FIELDS}
        text = json.dumps(shaping, sort_keys=True, separators=(",", ":"))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@dataclass(frozen=True)
class Sweep:
    source: str
    base: dict
    axes: tuple[tuple[str, tuple], ...]
    soc_data: dict          # the base SoC file's mapping, for soc.* axes
    soc_label: str

    def points(self) -> list[Point]:
        names = [name for name, _ in self.axes]
        return [Point(i, tuple(zip(names, combo)))
                for i, combo in enumerate(itertools.product(*(values for _, values in self.axes)))]

    def scenario(self, point: Point):
        """The point's scenario: the base, the point's fields, its SoC with the point's soc.* values."""
        params = dict(point.params)
        spec_args = {**self.base, **{k: v for k, v in params.items() if not k.startswith("soc.")}}
        spec_args.setdefault("seed", point.seed)
        spec = ScenarioSpec(**spec_args)
        soc_keys = {k: v for k, v in params.items() if k.startswith("soc.")}
        soc = None
        if soc_keys:
            data = copy.deepcopy(self.soc_data)
            for key, value in soc_keys.items():
                _set(data, key[4:].split("."), value, self.source, key)
            soc = parse_soc(data, f"{self.soc_label} with " + ", ".join(f"{k}={v}" for k, v in soc_keys.items()),
                            spec.calibrated)
        return spec.build(soc)


def _find(data, part: str):
    """A mapping's key, or the entry of a list of mappings whose name is `part`."""
    if isinstance(data, dict):
        return part in data, (data.get(part) if part in data else None)
    if isinstance(data, list):
        for entry in data:
            if isinstance(entry, dict) and entry.get("name") == part:
                return True, entry
    return False, None


def _set(data, parts: list[str], value, source: str, key: str) -> None:
    node = data
    for part in parts[:-1]:
        found, node = _find(node, part)
        if not found:
            raise InputError(source, f"the SoC file has no {part!r} on the way to this key", key)
    if not isinstance(node, dict) or parts[-1] not in node:
        raise InputError(source, "the SoC file has no such parameter", key)
    node[parts[-1]] = value


def _range(sec: Section) -> list:
    """`{from: A, to: B, step: S}`: A, A + S, ... up to B inclusive (S defaults to 1; whole numbers stay whole)."""
    start, stop = sec.number("from"), sec.number("to")
    step = sec.number("step", 1, positive=True)
    sec.done()
    n = int((stop - start) / step + 1e-9) + 1
    if stop < start or n > MAX_POINTS:
        raise sec.fail("to", f"from {start:g} to {stop:g} by {step:g} is not a range of 1..{MAX_POINTS:,} values")
    whole = all(float(x).is_integer() for x in (start, step))
    return [int(start + i * step) if whole else round(start + i * step, 12) for i in range(n)]


def load_sweep(path: str) -> Sweep:
    """Read and check a sweep file: every key known, every axis a non-empty list, every SoC key present."""
    data = read_mapping(Path(path))
    top = Section(path, data)
    base = dict(top.raw("base", {}) or {})
    axes_raw = top.raw("axes")
    top.done()
    if not isinstance(axes_raw, dict) or not axes_raw:
        raise InputError(path, "give at least one axis: a mapping of field or soc.KEY to a list of values", "axes")
    for name in base:
        if name not in _FIELDS:
            raise InputError(path, f"unknown scenario field (known: {', '.join(sorted(_FIELDS))})", f"base.{name}")
    axes = []
    for name, values in axes_raw.items():
        name = str(name)
        if not name.startswith("soc.") and name not in _FIELDS:
            raise InputError(path, "unknown axis: a scenario field or soc.DOTTED.KEY", f"axes.{name}")
        if name in base:
            raise InputError(path, "is both in base and an axis", f"axes.{name}")
        if isinstance(values, dict):
            values = _range(Section(path, values, f"axes.{name}"))
        if not isinstance(values, list) or not values:
            raise InputError(path, "must be a non-empty list of values, or a range {from, to, step}", f"axes.{name}")
        axes.append((name, tuple(values)))
    total = 1
    for _, values in axes:
        total *= len(values)
    if total > MAX_POINTS:
        raise InputError(path, f"{total:,} points: more than {MAX_POINTS:,}", "axes")
    soc_path, soc_label = resolve_file("socs", str(base.get("soc", "imx95")), (".yaml", ".yml"))
    sweep = Sweep(path, base, tuple(axes), read_mapping(soc_path), soc_label)
    for name, values in axes:                 # every SoC key exists, before anything runs
        if name.startswith("soc."):
            _set(copy.deepcopy(sweep.soc_data), name[4:].split("."), values[0], path, f"axes.{name}")
    ScenarioSpec(**{k: v for k, v in base.items()}).check()
    return sweep


def run_point(sweep: Sweep, point: Point) -> dict:
    """One point's JSONL record: its parameters, seed and headline results."""
    scenario = sweep.scenario(point)
    results = json.loads(json.dumps(simulate(scenario).to_json()))
    keep = ("speedup", "speedup_ci95", "tokens_per_s", "total_time_s", "mean_accepted_per_round", "rounds",
            "time_per_output_token_s", "time_to_first_token_s")
    return {"key": point.key, "point": point.index, "params": dict(point.params),
            "seed": dict(point.params).get("seed", sweep.base.get("seed", point.seed)),
            "results": {k: results[k] for k in keep if k in results}}


def done_keys(path: Path) -> set[str]:
    """Keys of the points already in a results file (a last line cut short is not a point)."""
    keys = set()
    if not path.exists():
        return keys
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                keys.add(json.loads(line)["key"])
            except (ValueError, KeyError, TypeError):
                continue
    return keys


def read_results(path: str) -> list[dict]:
    """The points of a results file, in point order (a last line cut short by a kill is left out)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot be read ({err.__class__.__name__})") from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record.get("params"), dict) or not isinstance(record.get("results"), dict):
                raise ValueError
        except (ValueError, AttributeError, RecursionError):
            if number == len(lines):            # the last line, cut short by a kill
                continue
            raise InputError(f"{path}:{number}", "not a line `specsoc sweep` writes") from None
        records.append(record)
    if not records:
        raise InputError(path, "no finished point")
    return sorted(records, key=lambda r: r.get("point", 0))
