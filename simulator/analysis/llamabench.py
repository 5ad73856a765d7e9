"""Reading llama-bench's output, in every form it writes, as one record per measured test.

llama-bench (llama.cpp's benchmark tool) times prefill tests ("pp512": n_prompt tokens in one batch) and
generation tests ("tg128": n_gen tokens one by one), optionally at a context already holding n_depth tokens
("tg128 @ d512"), and reports the mean and standard deviation of tokens per second over its repetitions.
These are the measurements a SoC file is calibrated against, so they are read here once, whatever the form:

- `-o json`: a JSON array of records; `-o jsonl`: one JSON object per line; `-o csv`: a header line, then one
  row per test with every value double-quoted; `-o sql`: CREATE TABLE, then one INSERT statement per line
  (values single-quoted). Fields are read by name: unknown ones are ignored, optional ones may be missing
  (older builds lack n_depth, cpu_mask, backends ...; their per-backend flags cuda/metal/... give the backend).
- `-o md` (the default, and what people paste in issues and forums): the table may sit among other text, and a
  post may hold several tables; each needs the columns model, size, params, threads, test and t/s (backend and
  ngl are read when present). Sizes and parameter counts are rounded there (GiB or MiB, B or M, two decimals);
  t/s is "23.18 ± 0.06", "23.18 +/- 0.06" or "23.18"; the "build: <commit> (<number>)" line after a table
  gives its build; CPU and GPU names are not in the table ("").

The form is told from the content, not the file name. Each record must be one test: a combined test
("pp512+tg128", llama-bench -pg) measures prefill and generation together, which a per-phase calibration cannot
split, and is refused like any other bad value: one InputError naming the file, the record (line or record
number), the field and the problem. So are: files above 64 MiB, JSON nested deeper than the parser's stack,
non-finite or non-positive t/s, negative token counts, a thread count that is not a whole number >= 1, and a
file with no test at all.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from simulator.common.errors import InputError

MAX_BYTES = 64 * 2**20       # llama-bench writes about 1 KiB per test; anything near this is another file
LARGEST_WHOLE = 2**63        # llama-bench's counters are 64-bit at most

_WHOLE = re.compile(r"[+-]?[0-9]+")
_REAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)(?:\(.*\))?", re.IGNORECASE)

# Backends of builds that wrote one boolean per backend instead of "backends", in llama-bench's order.
_OLD_BACKEND_FLAGS = (("cuda", "CUDA"), ("opencl", "OpenCL"), ("vulkan", "Vulkan"), ("kompute", "Kompute"),
                      ("metal", "Metal"), ("sycl", "SYCL"), ("gpu_blas", "GPU BLAS"), ("blas", "BLAS"))

# The file-type part of llama.cpp's model description ("llama 3B Q4_K - Medium"), see llama_model_ftype_name.
_FILE_TYPE = re.compile(
    r"(?:^|\s)(?:mostly\s+|all\s+)?(?P<name>BF16|F16|F32|I?Q[1-8]_(?:[01]|K|NL|XXS|XS|S|M)|TQ[12]_0)"
    r"(?P<mix>\s+mix)?(?:\s*-\s*(?P<size>Small|Medium|Large))?(?:\s*-\s*[0-9.]+\s*bpw(?:\s+ternary)?)?"
    r"(?:\s*\(guessed\))?\s*$", re.IGNORECASE)
_PLAIN_FORMATS = {"f32": "fp32", "f16": "fp16", "bf16": "bf16"}


@dataclass(frozen=True)
class BenchRecord:
    """One llama-bench test."""

    model_type: str        # llama.cpp's description of the model, e.g. "llama 3B Q4_K - Medium"
    model_size_B: float    # bytes of the model file (md: the rounded GiB or MiB)
    n_params: float        # parameters (md: the rounded B or M)
    backend: str           # "CPU", "CUDA", "Vulkan", "Metal,BLAS", ... ("" if the file does not say)
    threads: int
    n_prompt: int          # prefill tokens (0 for a generation test)
    n_gen: int             # generated tokens (0 for a prefill test)
    n_depth: int           # tokens already in the context before the test (0 if the file does not say)
    tokens_per_s: float    # mean over the repetitions (avg_ts)
    stddev_tokens_per_s: float
    n_gpu_layers: int | None
    build: str             # "<build_commit> (<build_number>)", the parts known, or ""
    cpu_info: str
    gpu_info: str
    source: str            # "file:line" or "file:record N"

    @property
    def kind(self) -> str:
        """"pp" for a prefill test, "tg" for a generation test."""
        return "pp" if self.n_prompt > 0 else "tg"

    @property
    def weight_format(self) -> str | None:
        """The weight format named in model_type, as specsoc names formats ("q4_k_m", "fp16"); None if unknown."""
        m = _FILE_TYPE.search(self.model_type)
        if m is None:
            return None
        name = m.group("name").lower()
        if name in _PLAIN_FORMATS:
            return _PLAIN_FORMATS[name]
        if m.group("mix"):                                   # "IQ3_S mix - 3.66 bpw" is llama.cpp's IQ3_M
            return f"{name[:-2]}_m" if name.endswith("_s") else None
        size = (m.group("size") or "").lower()
        if size and name.endswith("_k") and not (name == "q2_k" and size == "medium"):   # Q2_K is "- Medium"
            return f"{name}_{size[0]}"
        return name


def read_llama_bench(path: str | Path) -> list[BenchRecord]:
    """Every test in a llama-bench output file, whatever its form (detected from content, not extension)."""
    name = str(path)
    text = _read_text(name)
    lines = text.splitlines()
    form = _form(lines, name)
    records = _READERS[form](text, lines, name)
    if not records:
        raise InputError(name, f"no llama-bench tests in this {form} file")
    return records


# ------------------------------------------------------------------------------------------- the file itself

def _read_text(path: str) -> str:
    file = Path(path)
    if file.is_dir():
        raise InputError(path, "is a directory, not a llama-bench output file")
    try:
        with file.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as err:
        raise InputError(path, f"cannot read file ({err.__class__.__name__})") from None
    if len(raw) > MAX_BYTES:
        raise InputError(path, f"larger than {MAX_BYTES // 2**20} MiB; llama-bench writes about a KiB per test, "
                               "so this is not its output")
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):     # PowerShell's `>` writes UTF-16
            text = raw.decode("utf-16")
        else:
            text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text (undecodable byte at offset {err.start})") from None
    if "\x00" in text:
        raise InputError(path, "contains NUL characters: a binary file, not llama-bench output")
    if not text.strip():
        raise InputError(path, "empty file")
    return text


def _form(lines: list[str], path: str) -> str:
    """json, jsonl, csv, sql or md, from the first line with text (a forum post's table may come later)."""
    first = next(line.strip() for line in lines if line.strip())
    has_table = any(_md_header(_md_cells(line)) for line in lines)    # no line of JSON starts with "|"
    if first.startswith(("[", "{")) and not has_table:                # a post may open with "[quote]"
        return "json" if first.startswith("[") else "jsonl"
    if re.match(r"(CREATE\s+TABLE|INSERT\s+INTO)\b", first, re.IGNORECASE):
        return "sql"
    if not first.startswith("|") and {"avg_ts", "n_prompt"} & {c.strip().strip('"') for c in first.split(",")}:
        return "csv"
    if has_table:
        return "md"
    raise InputError(path, "not llama-bench output: expected a JSON array (-o json), JSON lines (-o jsonl), a CSV "
                           "header with avg_ts (-o csv), SQL statements (-o sql) or a markdown table with test and "
                           "t/s columns (-o md)")


# ------------------------------------------------------------------------------- fields of one record by name

class _Fields:
    """One record's fields by name: typed as JSON holds them, or text as csv and sql hold them."""

    def __init__(self, path: str, where: str, values: dict):
        self.path = path
        self.where = where
        self.values = values

    def fail(self, field: str, problem: str) -> InputError:
        return InputError(self.path, problem, f"{self.where}: {field}")

    def _raw(self, field: str, default):
        value = self.values.get(field)
        if value is None or value == "":
            if default is ...:
                raise self.fail(field, "missing (llama-bench writes it in every record: is this its output?)")
            return default
        return value

    def text(self, field: str, default=...) -> str:
        value = self._raw(field, default)
        if not isinstance(value, str):
            raise self.fail(field, f"must be text, got {_show(value)}")
        return value

    def whole(self, field: str, default=..., minimum: int | None = 0) -> int | None:
        value = self._raw(field, default)
        if value is default and default is not ...:
            return value
        number = _whole(value, lambda problem: self.fail(field, problem))
        if minimum is not None and number < minimum:
            raise self.fail(field, f"must be >= {minimum}, got {number}")
        return number

    def real(self, field: str, default=..., positive: bool = False) -> float:
        value = self._raw(field, default)
        if value is default and default is not ...:
            return value
        number = _real(value, lambda problem: self.fail(field, problem))
        if positive and number <= 0:
            raise self.fail(field, f"must be > 0, got {_show(value)}")
        if number < 0:
            raise self.fail(field, f"must be >= 0, got {_show(value)}")
        return number

    def flag(self, field: str) -> bool:
        value = self.values.get(field)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true"):
            return True
        return False

    def backend(self) -> str:
        if "backends" in self.values:
            return self.text("backends", "")
        if any(flag in self.values for flag, _ in _OLD_BACKEND_FLAGS):
            return next((name for flag, name in _OLD_BACKEND_FLAGS if self.flag(flag)), "CPU")
        return ""


def _show(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:37]}..."


def _whole(value, fail) -> int:
    """A whole number from JSON (int, or a float with no fraction) or from text of ASCII digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise fail(f"must be a whole number, got {_show(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise fail(f"must be a whole number, got {_show(value)}")
        if len(text.lstrip("+-0")) > 19:                      # beyond 2**63; int() would refuse 4300 digits
            raise fail(f"out of range, got {_show(value)}")
        value = int(text)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise fail(f"must be a whole number, got {_show(value)}")
    if abs(value) >= LARGEST_WHOLE:
        raise fail(f"out of range, got {_show(value)}")
    return int(value)


def _real(value, fail) -> float:
    """A finite number from JSON or from decimal text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise fail(f"must be a number, got {_show(value)}")
    if isinstance(value, str):
        text = value.strip()
        if _NOT_FINITE.fullmatch(text):
            raise fail(f"must be finite, got {_show(value)}")
        if not _REAL.fullmatch(text):
            raise fail(f"must be a number, got {_show(value)}")
        value = float(text)
    if isinstance(value, int) and abs(value) >= LARGEST_WHOLE:
        raise fail(f"out of range, got {_show(value)}")
    if not math.isfinite(value):
        raise fail(f"must be finite, got {_show(value)}")
    return float(value)


def _one_test(n_prompt: int, n_gen: int, fail) -> None:
    if n_prompt > 0 and n_gen > 0:
        raise fail(f"pp{n_prompt}+tg{n_gen} is a combined prefill and generation test (llama-bench -pg), which "
                   "cannot be split by phase; only pp and tg tests are read: drop it, or rerun without -pg")
    if n_prompt == 0 and n_gen == 0:
        raise fail("n_prompt and n_gen are both 0: not a test")


def _record(f: _Fields, source: str) -> BenchRecord:
    """A record of the json, jsonl, csv or sql forms, which share llama-bench's field names."""
    model_type = f.text("model_type")
    n_prompt, n_gen = f.whole("n_prompt"), f.whole("n_gen")
    _one_test(n_prompt, n_gen, lambda problem: f.fail("n_prompt, n_gen", problem))
    commit, number = f.text("build_commit", ""), f.whole("build_number", None, minimum=None)
    return BenchRecord(
        model_type=model_type, model_size_B=f.real("model_size", positive=True),
        n_params=f.real("model_n_params", positive=True), backend=f.backend(),
        threads=f.whole("n_threads", minimum=1), n_prompt=n_prompt, n_gen=n_gen, n_depth=f.whole("n_depth", 0),
        tokens_per_s=f.real("avg_ts", positive=True), stddev_tokens_per_s=f.real("stddev_ts", 0.0),
        n_gpu_layers=f.whole("n_gpu_layers", None, minimum=None),
        build=" ".join(part for part in (commit, f"({number})" if number is not None else "") if part),
        cpu_info=f.text("cpu_info", ""), gpu_info=f.text("gpu_info", ""), source=source)


# -------------------------------------------------------------------------------------- json, jsonl, csv, sql

def _json_value(text: str, path: str, where: str, hint: str):
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(path, "JSON nested too deeply to be llama-bench output", where or None) from None
    except json.JSONDecodeError as err:
        truncated = " (the file ends early: did llama-bench stop before its closing ']'?)" \
            if not where and err.pos >= len(text.rstrip()) else ""
        raise InputError(path, f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno}){truncated}; "
                               f"expected {hint}", where or None) from None
    except ValueError:                              # an integer of more digits than Python converts
        raise InputError(path, f"not readable JSON (a number of thousands of digits); expected {hint}",
                         where or None) from None


def _object(value, path: str, where: str) -> _Fields:
    if not isinstance(value, dict):
        raise InputError(path, f"must be a JSON object of llama-bench fields, got {type(value).__name__}", where)
    return _Fields(path, where, value)


def _json(text: str, lines: list[str], path: str) -> list[BenchRecord]:
    document = _json_value(text, path, "", "a JSON array of llama-bench records (-o json)")   # text opens with [
    return [_record(_object(item, path, f"record {i}"), f"{path}:record {i}") for i, item in enumerate(document, 1)]


def _jsonl(text: str, lines: list[str], path: str) -> list[BenchRecord]:
    records = []
    for number, line in enumerate(text.split("\n"), 1):       # JSON strings may hold U+2028: split on \n only
        if line.strip():
            where = f"line {number}"
            value = _json_value(line, path, where, "one JSON object per line (-o jsonl)")
            records.append(_record(_object(value, path, where), f"{path}:{number}"))
    return records


def _csv(text: str, lines: list[str], path: str) -> list[BenchRecord]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header, records = None, []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                continue
            where = f"line {reader.line_num}"
            if len(row) != len(header):
                raise InputError(path, f"{len(row)} fields but the header has {len(header)}", where)
            records.append(_record(_Fields(path, where, dict(zip(header, row))), f"{path}:{reader.line_num}"))
    except csv.Error as err:
        raise InputError(path, f"not readable CSV ({err})", f"line {reader.line_num}") from None
    return records


_INSERT = re.compile(r"INSERT\s+INTO\s+\w+\s*\(([^)]*)\)\s*VALUES\s*\((.*)\)\s*;?", re.IGNORECASE)
_SQL_VALUE = re.compile(r"\s*(?:'((?:[^']|'')*)'|(NULL)|([-+0-9.eE]+))\s*(?:,|$)", re.IGNORECASE)


def _sql_values(text: str, fail) -> list[str | None]:
    values, at = [], 0
    while at < len(text):
        m = _SQL_VALUE.match(text, at)
        if m is None or m.end() == at:
            raise fail(f"cannot read the VALUES list at character {at + 1} (expected 'text', a number or NULL; "
                       "llama-bench does not escape quotes inside values)")
        quoted, null, bare = m.groups()
        values.append(quoted.replace("''", "'") if quoted is not None else None if null else bare)
        at = m.end()
    return values


def _sql(text: str, lines: list[str], path: str) -> list[BenchRecord]:
    """llama-bench's SQL: a CREATE TABLE (skipped), then one INSERT statement per line, every value quoted."""
    records, in_create = [], False
    for number, line in enumerate(lines, 1):
        statement = line.strip()
        where = f"line {number}"
        if in_create or re.match(r"CREATE\s+TABLE\b", statement, re.IGNORECASE):
            in_create = not statement.endswith(");")
            continue
        if not statement:
            continue
        m = _INSERT.fullmatch(statement)
        if m is None:
            raise InputError(path, "not a statement llama-bench writes (CREATE TABLE, or INSERT INTO ... VALUES "
                                   "(...) on one line)", where)
        columns = [c.strip() for c in m.group(1).split(",")]
        values = _sql_values(m.group(2), lambda problem: InputError(path, problem, where))
        if len(values) != len(columns):
            raise InputError(path, f"{len(values)} values for {len(columns)} columns", where)
        records.append(_record(_Fields(path, where, dict(zip(columns, values))), f"{path}:{number}"))
    return records


# ------------------------------------------------------------------------------------------------- markdown

_MD_COLUMNS = {"model": "model", "size": "size", "params": "params", "backend": "backend", "threads": "threads",
               "n_threads": "threads", "ngl": "ngl", "n_gpu_layers": "ngl", "test": "test", "t/s": "t/s"}
_MD_REQUIRED = {
    "model": "llama-bench always prints it",
    "size": "printed by llama-bench since late 2023; paste the table as llama-bench printed it",
    "params": "printed by llama-bench since late 2023; paste the table as llama-bench printed it",
    "threads": "llama-bench prints it only for CPU and BLAS backends or when -t is given: rerun with -t N",
    "test": "llama-bench always prints it", "t/s": "llama-bench always prints it"}
_MD_TEST = re.compile(r"(pp|tg)\s*([0-9]{1,19})(?:\s*\+\s*tg\s*([0-9]{1,19}))?(?:\s*@\s*d\s*([0-9]{1,19}))?",
                      re.IGNORECASE)
_MD_AMOUNT = re.compile(r"([0-9.]+)\s*([A-Za-z]{1,3})")     # disjoint classes: no backtracking
_MD_BUILD = re.compile(r"build:\s*([^\s(]{1,64})\s*\(\s*([0-9]{1,19})\s*\)")
_SIZE_UNITS = {"gib": 2.0**30, "mib": 2.0**20}
_PARAM_UNITS = {"b": 1e9, "m": 1e6}


def _md_cells(line: str) -> list[str] | None:
    """The cells of a table row (a forum quote's leading '>' allowed), or None for a line outside a table."""
    row = line.strip().lstrip("> \t")
    if not row.startswith("|"):
        return None
    row = row[1:-1] if row.endswith("|") and len(row) > 1 else row[1:]
    return [cell.strip() for cell in row.split("|")]


def _md_header(cells: list[str] | None) -> bool:
    return cells is not None and {"test", "t/s"} <= {cell.lower() for cell in cells}


def _md_separator(cells: list[str]) -> bool:
    return all(re.fullmatch(r":?-+:?", cell) for cell in cells)


def _markdown(text: str, lines: list[str], path: str) -> list[BenchRecord]:
    """Every llama-bench table in the text, each row a test; other lines are ignored."""
    records, i = [], 0
    while i < len(lines):
        header = _md_cells(lines[i])
        if not _md_header(header):
            i += 1
            continue
        columns = _md_columns(header, path, i + 1)
        rows, i = [], i + 1
        while i < len(lines) and (cells := _md_cells(lines[i])) is not None and not _md_header(cells):
            if not _md_separator(cells):
                rows.append((i + 1, cells))
            i += 1
        build = _md_build(lines, i)
        for number, cells in rows:
            where = f"line {number}"
            if len(cells) != len(header):
                raise InputError(path, f"{len(cells)} cells but the table's header has {len(header)}", where)
            records.append(_md_record({role: cells[k] for role, k in columns.items()}, build, path, number))
    return records


def _md_columns(header: list[str], path: str, line: int) -> dict[str, int]:
    columns = {}
    for k, name in enumerate(header):
        role = _MD_COLUMNS.get(name.lower())
        if role is not None and role not in columns:
            columns[role] = k
    for role, why in _MD_REQUIRED.items():
        if role not in columns:
            raise InputError(path, f"the table has no '{role}' column ({why})", f"line {line}")
    return columns


def _md_build(lines: list[str], start: int) -> str:
    """The "build: <commit> (<number>)" line llama-bench prints after its table, if it is there."""
    for line in lines[start:]:
        if _md_header(_md_cells(line)):
            break
        m = _MD_BUILD.match(line.strip().lstrip("> \t"))
        if m:
            return f"{m.group(1)} ({int(m.group(2))})"
    return ""


def _md_record(cells: dict[str, str], build: str, path: str, number: int) -> BenchRecord:
    where = f"line {number}"

    def fail(column: str):
        return lambda problem: InputError(path, problem, f"{where}: {column}")

    test = _MD_TEST.fullmatch(cells["test"])
    if test is None:
        raise fail("test")(f"cannot read {_show(cells['test'])} (expected pp512, tg128, 'pp 512' or 'tg128 @ d512')")
    if not cells["model"]:
        raise fail("model")("empty (llama-bench prints the model's type there)")
    kind, count, combined_gen, depth = test.groups()
    if kind.lower() == "tg" and combined_gen is not None:
        raise fail("test")(f"cannot read {_show(cells['test'])} (a combined test is ppN+tgM)")
    n_prompt, n_gen = (int(count), int(combined_gen or 0)) if kind.lower() == "pp" else (0, int(count))
    _one_test(n_prompt, n_gen, fail("test"))
    mean, stddev = _md_rate(cells["t/s"], fail("t/s"))
    threads = _whole(cells["threads"], fail("threads"))
    if threads < 1:
        raise fail("threads")(f"must be >= 1, got {threads}")
    ngl = cells.get("ngl")
    return BenchRecord(
        model_type=cells["model"], model_size_B=_md_amount(cells["size"], _SIZE_UNITS, "GiB or MiB", fail("size")),
        n_params=_md_amount(cells["params"], _PARAM_UNITS, "B or M", fail("params")),
        backend=cells.get("backend", ""), threads=threads, n_prompt=n_prompt, n_gen=n_gen,
        n_depth=int(depth or 0), tokens_per_s=mean, stddev_tokens_per_s=stddev,
        n_gpu_layers=_whole(ngl, fail("ngl")) if ngl else None, build=build, cpu_info="", gpu_info="",
        source=f"{path}:{number}")


def _md_rate(cell: str, fail) -> tuple[float, float]:
    """ "23.18 ± 0.06", "23.18 +/- 0.06" or "23.18": the mean (> 0) and standard deviation (>= 0, else 0)."""
    parts = cell.replace("Â±", "±").replace("+/-", "±").split("±")
    if len(parts) > 2 or not parts[0].strip():
        raise fail(f"cannot read {_show(cell)} (expected '23.18 ± 0.06')")
    mean = _real(parts[0], fail)
    stddev = _real(parts[1], fail) if len(parts) == 2 else 0.0
    if mean <= 0:
        raise fail(f"must be > 0 tokens/s, got {_show(cell)}")
    if stddev < 0:
        raise fail(f"the standard deviation must be >= 0, got {_show(cell)}")
    return mean, stddev


def _md_amount(cell: str, units: dict[str, float], expected: str, fail) -> float:
    m = _MD_AMOUNT.fullmatch(cell)
    if m is None or m.group(2).lower() not in units:
        raise fail(f"cannot read {_show(cell)} (expected a number and {expected})")
    value = _real(m.group(1), fail)
    if value <= 0:
        raise fail(f"must be > 0, got {_show(cell)}")
    return value * units[m.group(2).lower()]


_READERS = {"json": _json, "jsonl": _jsonl, "csv": _csv, "sql": _sql, "md": _markdown}
