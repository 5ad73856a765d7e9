"""Bad input by mutation, for tests/cli/test_fuzz.py (a few hundred cases) and benchmarks/fuzz.py (thousands).

A valid file of each kind specsoc reads (SoC and model YAML, config.json, a GGUF header, traces, importer inputs,
llama-bench output, sweep files), or a valid command line, is changed in one place: a number replaced by an evil
one (NaN, infinities, huge, negative, not a number at all), a line dropped or doubled, the text cut short or
nested thousands deep, a YAML alias bomb, a key misspelt, bytes that are not UTF-8. The CLI then runs on it
in-process, and the outcome must be: exit 0, or exit 2 with exactly one `error:` line on stderr naming the file
or a flag (or the command, for a problem of all its inputs together); no traceback; no output file left behind on
failure; done within TIME_LIMIT_S, the process's peak RSS under MEMORY_LIMIT_MB.
"""

from __future__ import annotations

import contextlib
import io
import re
import resource
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from simulator.common.bundled import bundled_dir

ROOT = Path(__file__).resolve().parent
FIXTURES = ROOT / "fixtures"
MEMORY_LIMIT_MB = 1000   # the process's peak RSS after a case (pytest and numpy alone take ~300 MB)
TIME_LIMIT_S = 60        # a case still running then counts as a hang (legitimate work, a sweep of 65,537-token
                         # points say, takes ~10 s; a refusal takes well under 1 s)
EVIL = ["nan", ".nan", "NaN", "inf", "-inf", ".inf", "-.inf", "Infinity", "-Infinity", "1e308", "1e309", "-1",
        "0", "-0", "1e-320", "9" * 400, "4294967296", "1.5", "0.5", "\u00b2", "0x10", "true", "null", "[]", "{}",
        '"x"', "[[[[[[[[1]]]]]]]]", "1e15", "-1e15", "65537", "2147483648", "1000000000", "-999999999", ""]
FLAG_VALUES = EVIL + ["cpu:99", "gpu:1", "cpu:0", "cpu:1@-1", "cpu:1@99", "cpu:\u00b2", "a55:7", " ", "a" * 3000,
                      "none", "..", "/", "/proc/x", "op", "layer", "overlap", "q4_0", "int8", "fp64", "3", "7", "64",
                      "65", "131072", "131073", "100000", "100001", "npu", "cpu:2,L0-11=gpu", "cpu:1,L0-99=gpu",
                      "cpu:1,matmul=gpu*0.5+cpu:1", "cpu:1,matmul=gpu*nan+cpu:1", "cpu:1,=", ",", "=", "*", "+",
                      "cpu:1,fallback=npu", "gpu,head.matmul=npu", "x.yaml"]
RUN_FLAGS = ["--gamma", "--samples", "--new-tokens", "--prompt-tokens", "--alpha", "--seed", "--target-device",
             "--draft-device", "--mode", "--granularity", "--soc", "--target", "--draft", "--target-dtype",
             "--draft-dtype", "--trace", "--timeline-max-mb", "--target-kv-dtype"]
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
BOMB = "a0: &a0 [1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
FAST = ["--target", "qwen2.5-0.5b", "--new-tokens", "2", "--samples", "2", "--granularity", "model"]


class Picker:
    """What a mutation draws from: hypothesis's data (tests) or a seeded random.Random (the benchmark)."""

    def __init__(self, choice, integer):
        self.choice = choice            # choice(sequence) -> an element
        self.integer = integer          # integer(lo, hi) -> lo..hi inclusive


def mutate(text: str, pick: Picker, yaml: bool) -> str | bytes:
    """The text changed in one place."""
    kind = pick.choice(["number", "number", "number", "drop", "double", "cut", "nest", "bomb", "key", "bytes",
                        "empty"])
    lines = text.splitlines(keepends=True)
    if kind == "number":
        spots = list(NUMBER.finditer(text))
        if spots:
            m = spots[pick.integer(0, len(spots) - 1)]
            return text[:m.start()] + pick.choice(EVIL) + text[m.end():]
        kind = "cut"
    if kind in ("drop", "double") and lines:
        i = pick.integer(0, len(lines) - 1)
        return "".join(lines[:i] + ([lines[i]] * 2 if kind == "double" else []) + lines[i + 1:])
    if kind == "nest":
        spots = list(NUMBER.finditer(text))
        at = spots[pick.integer(0, len(spots) - 1)] if spots else None
        deep = "[" * 3000 + "1" + "]" * 3000
        return text[:at.start()] + deep + text[at.end():] if at else deep
    if kind == "bomb" and yaml:
        spots = list(NUMBER.finditer(text))
        if spots:
            m = spots[pick.integer(0, len(spots) - 1)]
            return BOMB + text[:m.start()] + "*a8" + text[m.end():]
    if kind == "key":
        keys = list(re.finditer(r"^(\s*)([A-Za-z_]\w*)\s*:", text, re.M)) or list(re.finditer(r'"(\w+)"\s*:', text))
        if keys:
            m = keys[pick.integer(0, len(keys) - 1)]
            name = m.group(m.lastindex)
            return text[:m.start(m.lastindex)] + name[::-1] + "x" + text[m.end(m.lastindex):]
    if kind == "bytes":
        data = text.encode()
        i = pick.integer(0, max(len(data) - 1, 0))
        return data[:i] + bytes([0xFF, 0xFE, 0x00, 0xC3]) + data[i + 1:]
    if kind == "empty":
        return ""
    return text[:pick.integer(0, max(len(text) - 1, 0))]


@dataclass
class Target:
    """One kind of input: a valid text and the command that reads it (IN and OUT stand for the paths)."""

    name: str
    text: str | bytes
    suffix: str
    argv: list[str]
    yaml: bool = False


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _gguf_header() -> bytes:
    from tests.llm.test_gguf import write_gguf
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.gguf"
        write_gguf(path)
        return path.read_bytes()


def targets() -> list[Target]:
    """Every kind of file specsoc reads, with the command that reads it."""
    traces = FIXTURES / "traces"
    sweep = ("base: {target: qwen2.5-0.5b, draft: none, new_tokens: 2, samples: 1, granularity: model}\n"
             "axes:\n  gamma: [1, 2]\n  soc.dram.peak_bandwidth_gb_s: {from: 10, to: 20, step: 10}\n")
    mapping = ("default: cpu:2\nrules:\n  - {select: L0-11, device: gpu}\n  - {select: L12-23.matmul, device: "
               "'npu*0.5+cpu:2'}\nfallback: cpu:4\n")
    return [
        Target("soc", _read(bundled_dir("socs") / "imx95.yaml"), ".yaml", ["run", "--soc", "IN", *FAST, "--json", "OUT"],
               yaml=True),
        Target("model-yaml", _read(bundled_dir("graphs") / "qwen2.5-0.5b.yaml"), ".yaml",
               ["run", "--target", "IN", "--draft", "none", "--new-tokens", "2", "--granularity", "model", "--json",
                "OUT"], yaml=True),
        Target("config-json", _read(FIXTURES / "hf" / "qwen2.5-0.5b" / "config.json"), ".json",
               ["run", "--draft", "IN", *FAST, "--json", "OUT"]),
        Target("gguf", _gguf_header(), ".gguf", ["model", "IN", "--json", "OUT"]),
        Target("trace", _read(bundled_dir("traces") / "vllm-writing.jsonl"), ".jsonl",
               ["trace", "stats", "IN", "--json", "OUT"]),
        Target("trace-run", _read(bundled_dir("traces") / "translation-fp16.jsonl"), ".jsonl",
               ["run", "--trace", "IN", "--samples", "2", "--target", "qwen2.5-0.5b", "--draft", "qwen2.5-0.5b",
                "--granularity", "model", "--json", "OUT"]),
        Target("spec-bench", _read(traces / "specbench_answers.jsonl"), ".jsonl",
               ["trace", "import", "--format", "spec-bench", "IN", "--gamma", "4", "--out", "OUT"]),
        Target("llama-cpp-verbose", _read(traces / "llama_verbose.log"), ".log",
               ["trace", "import", "--format", "llama-cpp", "IN", "--out", "OUT"]),
        Target("llama-cpp-summary", _read(traces / "llama_summary.log"), ".log",
               ["trace", "import", "--format", "llama-cpp", "IN", "--samples", "4", "--out", "OUT"]),
        Target("llama-cpp-server", _read(traces / "llama_server.log"), ".log",
               ["trace", "import", "--format", "llama-cpp", "IN", "--samples", "4", "--out", "OUT"]),
        Target("vllm", _read(traces / "vllm.log"), ".log",
               ["trace", "import", "--format", "vllm", "IN", "--samples", "4", "--out", "OUT"]),
        Target("llama-bench-json", _read(FIXTURES / "llamabench" / "run.json"), ".json",
               ["calibrate", "IN", "--soc", "imx95", "--out", "OUT"]),
        Target("llama-bench-md", _read(FIXTURES / "llamabench" / "run.md"), ".md",
               ["calibrate", "IN", "--soc", "imx95", "--out", "OUT"]),
        Target("sweep", sweep, ".yaml", ["sweep", "IN", "--out", "OUT", "--jobs", "1"], yaml=True),
        Target("mapping", mapping, ".yaml", ["run", "--target-device", "IN", *FAST, "--json", "OUT"], yaml=True),
    ]


@dataclass
class Outcome:
    kind: str          # ok | refused | traceback | exit | message | hang | orphan | memory
    code: int | None
    line: str
    wall_s: float
    rss_mb: float


class _Hang(BaseException):
    """Raised by the alarm: a case ran past TIME_LIMIT_S."""


def _alarm(_signum, _frame):
    raise _Hang()


def run_case(argv: list[str], data: str | bytes | None, suffix: str = ".txt") -> Outcome:
    """Run `specsoc ARGV` in-process on `data` written to IN (IN and OUT in argv are replaced by paths in a fresh
    directory) and judge the outcome."""
    from simulator.cli.main import main
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / f"in{suffix}"
        if data is not None:
            path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
        argv = [str(path) if a == "IN" else str(folder / "out.json") if a == "OUT" else a for a in argv]
        before = set(folder.iterdir())
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TIME_LIMIT_S)
        code, crash = None, ""
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        except _Hang:
            crash = "hang"
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # noqa: BLE001 - anything escaping main() is a crash
            crash = f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        wall = time.perf_counter() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stderr = err.getvalue()
        lines = stderr.splitlines()
        line = lines[0] if lines else ""
        if crash == "hang":
            return Outcome("hang", None, " ".join(argv)[:200], wall, rss)
        if rss > MEMORY_LIMIT_MB:
            return Outcome("memory", code, f"peak RSS {rss:.0f} MB after {' '.join(argv)[:160]}", wall, rss)
        if crash or "Traceback" in stderr or "Traceback" in out.getvalue():
            return Outcome("traceback", code, crash or stderr[-300:], wall, rss)
        if code not in (0, 2):
            return Outcome("exit", code, stderr[-300:], wall, rss)
        if code == 0:
            return Outcome("ok", 0, "", wall, rss)
        left = set(folder.iterdir()) - before
        if left:
            return Outcome("orphan", 2, f"{sorted(p.name for p in left)} after {line}", wall, rss)
        named = "--" in line or path.name in line or "specsoc" in line or \
            any(line.startswith(f"error: {a.strip()[:100]}") for a in argv if a.strip())   # the command, a file given
        if len(lines) != 1 or not line.startswith("error:") or not named:
            return Outcome("message", 2, stderr[:300], wall, rss)
        return Outcome("refused", 2, line, wall, rss)


def flag_case(pick: Picker) -> list[str]:
    """A `specsoc run` command line with one or two flags given evil values."""
    argv = ["run", *FAST, "--json", "OUT"]
    for _ in range(pick.integer(1, 2)):
        argv += [pick.choice(RUN_FLAGS), pick.choice(FLAG_VALUES)]
    return argv

