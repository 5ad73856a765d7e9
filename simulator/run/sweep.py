"""Sweeps: many independent scenarios from one YAML file, each point's result appended to a JSONL file as it ends.

A sweep file has a `base:` (ScenarioSpec fields: the flags of `specsoc run`, `target_device: cpu:4`, ...) and
`axes:` (a field or a SoC parameter by its dotted key, `soc.dram.peak_bandwidth_gb_s`, list entries by name,
`soc.gpus.mali-g310.shader_cores`, each with a list of values or a range `{from: 1, to: 8, step: 1}`). The
points are every combination of the axes' values, in file order. Each point is independent and deterministic: its seed is derived from its parameters
(unless the base or an axis sets `seed`), so a point gives the same result alone, in any order, on any worker;
points that differ only in hardware or mapping share their seed, so they replay the same samples.

Results go to a JSONL file, one line per finished point, flushed at once: a sweep stopped at any moment keeps
every finished point, and a resumed sweep runs only the points whose key is not in the file yet (a last line
cut short by a kill is ignored and its point run again).

Points that share a SoC and a granularity share a planner (the costed pass shapes): a Runner keeps the last
few, so each pass shape is planned once per worker, not once per point. An optional `reduce:` list picks, per
combination of the other axes, the point that maximises (or minimises) a result over some axes: `{maximize:
speedup, over: [gamma]}` is "the best gamma per mapping", `{maximize: speedup, over: [draft_device,
target_device]}` "the best mapping per variant", as explore reports them.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path

from simulator.common.bundled import input_files, resolve_file
from simulator.common.config import Section, read_mapping
from simulator.common.errors import InputError
from simulator.hw.soc import SoC
from simulator.hw.socfile import parse_soc
from simulator.llm.planner import Planner
from simulator.run.builder import ScenarioSpec
from simulator.run.simulate import planner_for, simulate

MAX_POINTS = 1_000_000
WORKLOAD_FIELDS = ("alpha", "trace", "samples", "prompt_tokens", "new_tokens")
RESULT_KEYS = ("speedup", "speedup_ci95", "tokens_per_s", "decode_tokens_per_s", "total_time_s", "ttft_s",
               "mean_accepted_per_round", "rounds", "time_per_output_token_s")   # what a point's record keeps
METRICS = ("speedup", "tokens_per_s", "decode_tokens_per_s", "total_time_s", "ttft_s", "mean_accepted_per_round",
           "rounds", "time_per_output_token_mean_s", "time_per_output_token_p50_s", "time_per_output_token_p90_s")


def _kept_results(results: dict) -> dict:
    """A run's headline results, flat: a statistic of a time (time_per_output_token_s: mean, p50, p90) becomes
    one key each (time_per_output_token_mean_s, ...)."""
    out = {}
    for key in RESULT_KEYS:
        value = results.get(key)
        if isinstance(value, dict):
            out.update((f"{key[:-2]}_{stat}_s", v) for stat, v in value.items())
        elif key in results:
            out[key] = value
    return out


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
class Reduction:
    """Per combination of the axes not in `over`, the point whose `metric` is highest (lowest when not
    `maximize`); ties go to the first point in file order, points without the metric are passed over."""

    metric: str
    maximize: bool
    over: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"best {' x '.join(self.over)} by {'highest' if self.maximize else 'lowest'} {self.metric}"

    def apply(self, axes: list[str], records: list[dict]) -> list[dict]:
        """One row per group: the group's axis values, the chosen point's values of `over`, its metric, its index."""
        per = [a for a in axes if a not in self.over]
        best: dict[tuple, dict] = {}
        for record in records:
            value = record["results"].get(self.metric)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            group = tuple(json.dumps(record["params"].get(a), sort_keys=True) for a in per)
            held = best.get(group)
            if held is None or (value > held["results"][self.metric] if self.maximize
                                else value < held["results"][self.metric]):
                best[group] = record
        return [{**{a: r["params"].get(a) for a in per}, **{a: r["params"].get(a) for a in self.over},
                 self.metric: r["results"][self.metric], "point": r["point"]}
                for r in sorted(best.values(), key=lambda r: r["point"])]


@dataclass(frozen=True)
class Sweep:
    source: str
    base: dict
    axes: tuple[tuple[str, tuple], ...]
    reductions: tuple[Reduction, ...] = ()

    @property
    def axis_names(self) -> list[str]:
        return [name for name, _ in self.axes]

    def points(self) -> list[Point]:
        return [Point(i, tuple(zip(self.axis_names, combo)))
                for i, combo in enumerate(itertools.product(*(values for _, values in self.axes)))]

    def inputs(self) -> tuple[str, ...]:
        """Every file the sweep reads: itself, and the SoC, model and trace files of its base and axes."""
        files = [self.source]
        for role in ("soc", "target", "draft", "trace"):
            values = dict(self.axes).get(role, (self.base.get(role, ScenarioSpec.__dataclass_fields__[role].default),))
            for value in values:
                files.extend(input_files(**{role: value}))
        return tuple(files)

    def spec(self, point: Point) -> tuple[ScenarioSpec, tuple[tuple[str, object], ...]]:
        """The point's ScenarioSpec (the base with the point's fields) and its soc.* values."""
        params = dict(point.params)
        spec_args = {**self.base, **{k: v for k, v in params.items() if not k.startswith("soc.")}}
        spec_args.setdefault("seed", point.seed)
        return ScenarioSpec(**spec_args), tuple((k, v) for k, v in point.params if k.startswith("soc."))


class Runner:
    """Runs the points of one sweep in one process, keeping the SoCs and planners of the last KEEP (SoC file, SoC
    values, granularity) combinations: the points that share one plan each pass shape once."""

    KEEP = 8

    def __init__(self, sweep: Sweep):
        self.sweep = sweep
        self._socs: OrderedDict[tuple, SoC] = OrderedDict()
        self._planners: OrderedDict[tuple, Planner] = OrderedDict()
        self._files: dict[str, tuple[dict, str]] = {}

    def run(self, point: Point) -> dict:
        """The point's JSONL record: its parameters, seed and headline results."""
        scenario, soc_key, seed = self.scenario(point)
        planner = _kept(self._planners, (soc_key, scenario.granularity, scenario.effects.overheads),
                        lambda: planner_for(scenario))
        results = json.loads(json.dumps(simulate(scenario, planner=planner).to_json()))
        return {"key": point.key, "point": point.index, "params": dict(point.params), "seed": seed,
                "results": _kept_results(results)}

    def scenario(self, point: Point):
        """(the point's scenario, the key of its SoC, its seed): every file read and every value checked."""
        spec, soc_values = self.sweep.spec(point)
        soc_key = json.dumps([spec.soc, spec.calibrated, soc_values], sort_keys=True, default=str)
        soc = _kept(self._socs, soc_key, lambda: self._soc(spec, soc_values))
        return spec.build(soc), soc_key, spec.seed

    def _soc(self, spec: ScenarioSpec, soc_values: tuple) -> SoC:
        """The point's SoC: its file as it is, or with the point's soc.* values set in it."""
        if not soc_values:
            return spec.load_soc()
        if spec.soc not in self._files:
            path, label = resolve_file("socs", spec.soc, (".yaml", ".yml"))
            self._files[spec.soc] = (read_mapping(path), label)
        data, label = self._files[spec.soc]
        data = copy.deepcopy(data)
        for key, value in soc_values:
            _set(data, key[4:].split("."), value, self.sweep.source, f"axes.{key}", label)
        return parse_soc(data, f"{label} with " + ", ".join(f"{k}={v}" for k, v in soc_values), spec.calibrated)


def _kept(cache: OrderedDict, key, make):
    """cache[key], made if missing; the cache keeps its Runner.KEEP most recently used entries."""
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = make()
    if len(cache) > Runner.KEEP:
        cache.popitem(last=False)
    return value


def run_point(sweep: Sweep, point: Point) -> dict:
    """One point's record, on its own (a Runner shares planners between the points it runs)."""
    return Runner(sweep).run(point)


def batches(sweep: Sweep, points: list[Point], size: int) -> list[list[Point]]:
    """The points in batches of at most `size`, those that share a SoC and granularity together (so a batch's
    Runner plans their passes once), in file order otherwise."""
    def soc_of(point: Point) -> str:
        spec, soc_values = sweep.spec(point)
        return json.dumps([spec.soc, spec.calibrated, spec.granularity, soc_values], default=str)

    groups: dict[str, list[Point]] = {}
    for point in points:
        groups.setdefault(soc_of(point), []).append(point)
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]


def _find(data, part: str):
    """A mapping's key, or the entry of a list of mappings whose name is `part`."""
    if isinstance(data, dict):
        return part in data, (data.get(part) if part in data else None)
    if isinstance(data, list):
        for entry in data:
            if isinstance(entry, dict) and entry.get("name") == part:
                return True, entry
    return False, None


def _set(data, parts: list[str], value, source: str, key: str, label: str) -> None:
    """Set the value at a dotted key of a SoC file's mapping (list entries by name); the key must exist."""
    node = data
    for part in parts[:-1]:
        found, node = _find(node, part)
        if not found:
            raise InputError(source, f"the SoC file {label} has no {part!r} on the way to this key", key)
    if not isinstance(node, dict) or parts[-1] not in node:
        raise InputError(source, f"the SoC file {label} has no such parameter", key)
    node[parts[-1]] = value


def _range(sec: Section) -> list:
    """`{from: A, to: B, step: S}`: A, A + S, ... up to B inclusive (S defaults to 1; whole numbers stay whole)."""
    start, stop = sec.number("from"), sec.number("to")
    step = sec.number("step", 1, positive=True)
    sec.done()
    count = (stop - start) / step + 1e-9
    n = int(count) + 1 if math.isfinite(count) and count < MAX_POINTS else MAX_POINTS + 1
    if stop < start or n > MAX_POINTS:
        raise sec.fail("to", f"from {start:g} to {stop:g} by {step:g} is not a range of 1..{MAX_POINTS:,} values")
    whole = all(float(x).is_integer() for x in (start, step))
    return [int(start + i * step) if whole else round(start + i * step, 12) for i in range(n)]


def load_sweep(path: str, max_points: int | None = None) -> Sweep:
    """Read and check a sweep file: every key known, every axis a non-empty list, every SoC key present; with
    `max_points` (the --max-points budget), refused before any scenario is built if it makes more points."""
    data = read_mapping(Path(path))
    top = Section(path, data)
    base = top.raw("base", {}) or {}
    if not isinstance(base, dict):
        raise InputError(path, "must be a mapping of scenario fields to values", "base")
    base = dict(base)
    axes_raw = top.raw("axes")
    top_reduce = top.raw("reduce", None)
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
        texts = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(texts)) < len(texts):
            twice = next(t for t in texts if texts.count(t) > 1)
            raise InputError(path, f"lists {twice[:40]} twice: each value makes its own points", f"axes.{name}")
        axes.append((name, tuple(values)))
    total = 1
    for _, values in axes:
        total *= len(values)
    if total > MAX_POINTS:
        raise InputError(path, f"{total:,} points: more than {MAX_POINTS:,}", "axes")
    if max_points is not None and total > max_points:
        raise InputError("--max-points", f"{path} makes {total:,} points, more than {max_points:,} (at 10-500 ms a "
                                         f"point, {total * 0.01 / 3600:,.1f}-{total * 0.5 / 3600:,.0f} CPU hours): "
                                         "raise --max-points if you mean it")
    sweep = Sweep(path, base, tuple(axes), _reductions(path, top_reduce, [n for n, _ in axes]))
    try:
        ScenarioSpec(**base).check()
    except InputError as err:
        raise _refusal(sweep, err, {}) from None
    _check_points(sweep)
    return sweep


PER_VALUE = ("alpha", "gamma", "seed", "prompt_tokens", "new_tokens")   # axes whose values need no other's to check
CHECK_ALL = 10_000      # combinations of the other axes built before a sweep runs; beyond, each value on its own


def _check_points(sweep: Sweep) -> None:
    """Every axis value checked before anything runs, by building the scenarios it takes part in (files read,
    SoC values set and checked, devices placed): every combination of the axes that can clash (SoC, models,
    devices, traces, ...) when there are at most CHECK_ALL of them, else each of their values on its own; each
    value of the PER_VALUE axes with the first of those."""
    runner = Runner(sweep)
    order = sweep.axis_names
    firsts = {name: values[0] for name, values in sweep.axes}
    structural = [(name, values) for name, values in sweep.axes if name not in PER_VALUE]
    combos = 1
    for _name, values in structural:
        combos *= len(values)
    if combos <= CHECK_ALL:
        tried = [dict(zip([n for n, _ in structural], combo)) for combo in itertools.product(*(v for _, v in structural))]
    else:
        tried = [{name: value} for name, values in structural for value in values]
    tried += [{name: value} for name, values in sweep.axes if name in PER_VALUE for value in values[1:]]
    for changed in tried:
        params = {**firsts, **changed}
        try:
            runner.scenario(Point(-1, tuple((name, params[name]) for name in order)))
        except InputError as err:
            raise _refusal(sweep, err, changed if len(tried) > 1 else {}) from None


def _refusal(sweep: Sweep, err: InputError, params: dict) -> InputError:
    """A scenario's refusal as the sweep file's: a flag named as the base or axis key it came from, with the
    axis values it came with."""
    at = f" (with {', '.join(f'{k}={str(v)[:40]}' for k, v in params.items())})" if params else ""
    if err.source == sweep.source:
        return InputError(err.source, f"{err.problem}{at}", err.key)
    if err.source.startswith("--"):
        field = "calibrated" if err.source == "--uncalibrated" else err.source[2:].replace("-", "_")
        where = f"axes.{field}" if field in dict(sweep.axes) else f"base.{field}"
        return InputError(sweep.source, f"{err.problem}{at}", where)
    return InputError(sweep.source, f"{err}{at}")


def _reductions(path: str, raw, axes: list[str]) -> tuple[Reduction, ...]:
    """`reduce:`: a list of {maximize: METRIC | minimize: METRIC, over: [AXIS, ...]}."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise InputError(path, "must be a list of {maximize: METRIC, over: [AXIS, ...]}", "reduce")
    out = []
    for i, entry in enumerate(raw):
        where = f"reduce[{i}]"
        if not isinstance(entry, dict):
            raise InputError(path, "must be a mapping {maximize: METRIC, over: [AXIS, ...]}", where)
        sec = Section(path, entry, where)
        maximize, minimize, over = sec.raw("maximize", None), sec.raw("minimize", None), sec.raw("over")
        sec.done()
        if (maximize is None) == (minimize is None):
            raise InputError(path, "give one of maximize: METRIC or minimize: METRIC", where)
        metric = maximize if maximize is not None else minimize
        if metric not in METRICS:
            raise InputError(path, f"unknown metric {metric!r} (known: {', '.join(METRICS)})", where)
        over = [over] if isinstance(over, str) else over
        if not isinstance(over, list) or not over or not all(isinstance(a, str) for a in over) \
                or len(set(over)) < len(over):
            raise InputError(path, "over: must be an axis or a list of distinct axes", f"{where}.over")
        for axis in over:
            if axis not in axes:
                raise InputError(path, f"{axis!r} is not an axis (axes: {', '.join(axes)})", f"{where}.over")
        out.append(Reduction(metric, maximize is not None, tuple(over)))
    return tuple(out)


def done_keys(path: Path, keys: set[str]) -> set[str]:
    """Keys of the points already in a results file, checked before anything is added to it: every line (but a
    last one cut short by a kill) must be a point of this sweep, so that a resume never appends to another
    sweep's results or to a file that is not one."""
    done: set[str] = set()
    if not path.exists():
        return done
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError("--out", f"{path} cannot be read ({err.__class__.__name__})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            key = json.loads(line)["key"]
        except (ValueError, KeyError, TypeError, RecursionError):
            if number == len(lines):            # the last line, cut short by a kill
                continue
            raise InputError("--out", f"{path} line {number} is not a line `specsoc sweep` writes: give another file") from None
        if key not in keys:
            raise InputError("--out", f"{path} line {number} is a point of another sweep (its parameters are not "
                                      "among this sweep's): give another file")
        done.add(key)
    return done


def _is_record(record) -> bool:
    """A point's line as `specsoc sweep` writes it: an integer index, scalar parameters, a results mapping."""
    scalar = (str, int, float, bool, type(None))
    return (isinstance(record, dict) and isinstance(record.get("point"), int) and not isinstance(record["point"], bool)
            and isinstance(record.get("params"), dict) and isinstance(record.get("results"), dict)
            and all(isinstance(v, scalar) or isinstance(v, list) for v in record["params"].values()))


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
            if not _is_record(record):
                raise ValueError
        except (ValueError, AttributeError, RecursionError):
            if number == len(lines):            # the last line, cut short by a kill
                continue
            raise InputError(f"{path}:{number}", "not a line `specsoc sweep` writes") from None
        records.append(record)
    if not records:
        raise InputError(path, "no finished point")
    return sorted(records, key=lambda r: r["point"])
