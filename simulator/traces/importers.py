"""`specsoc trace import`: acceptance data from the logs and answer files real tools write, as specsoc traces.

Per-round sources become real traces ("synthetic": false, record "accepted" at the recorded draft length):
- spec-bench: Spec-Bench answer JSONL, one question per line. choices[0].accept_lengths counts the tokens each
  decoding step emitted (1 = no draft accepted, only the target's own token), so accepted = value - 1. The file
  does not record the draft length (--gamma) nor the prompt length (--prompt-tokens).
- llama-cpp with verbose logging: one line per round, "accepted %d/%d draft tokens, the last target token is:
  (%d)"; the run becomes one sample at gamma = the drafted count.

Aggregate-only sources give no rounds, only rates; they are replayed through a seeded generator (synth.py) and
the header says so ("synthetic": true, "source": the file, "generator": what was solved or read):
- llama-cpp end-of-run summary (n_draft, n_predict, n_drafted, n_accept): the i.i.d. alpha whose expected
  accepted fraction alpha (1 - alpha^g) / ((1 - alpha) g) at g = n_draft equals n_accept / n_drafted.
- llama-cpp server "acceptance rate per position = (...)" and vLLM "SpecDecoding metrics: ... Per-position
  acceptance rate: ..." lines: a per-position curve. Several lines (one per request, one per logging interval,
  each counting only its own drafts) are averaged position by position, weighted by the drafted tokens each
  line reports (plainly, if a line does not report them).
A llama.cpp log is read at its richest: per-round lines if any, else server curve lines, else the summary.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from simulator.common.config import NotJSON, strict_json
from simulator.common.errors import InputError
from simulator.traces.synth import Curve, Iid, Lengths, check_curve, generate
from simulator.traces.trace import MAX_GAMMA, MAX_SAMPLES, MAX_TOKENS, Trace, TraceSample, validate_header

FORMATS = ("spec-bench", "llama-cpp", "vllm")
LLAMA_ROUND = re.compile(r"accepted\s+(\d+)\s*/\s*(\d+)\s+draft tokens, the last target token is:\s*\(\s*-?\d+\s*\)")
LLAMA_SUMMARY = re.compile(r"(?<![\w])(n_draft|n_predict|n_drafted|n_accept)\s*=\s*(-?\d+)\s*$")
LLAMA_ACCEPT = re.compile(r"(?<![\w])accept\s*=\s*([\d.]+)\s*%")
LLAMA_SERVER = re.compile(r"acceptance rate per position\s*=\s*\(([^)]*)\)")
LLAMA_SERVER_DRAFTED = re.compile(r"\(\s*\d+\s+accepted\s*/\s*(\d+)\s+generated\s*\)")
VLLM_CURVE = re.compile(r"SpecDecoding metrics:.*Per-position acceptance rate:\s*([-+0-9.eE,\s]+)")
VLLM_DRAFTED = re.compile(r"Drafted:\s*(\d+)\s+tokens")


@dataclass(frozen=True)
class ImportOptions:
    """What the source file does not say, from the command line."""

    gamma: int | None = None            # spec-bench: the draft length of the recorded run
    prompt_tokens: int = 63             # every format: prompt lengths are not in the files
    category: str | None = None         # spec-bench: keep only this category (e.g. translation)
    samples: int = 80                   # aggregate sources: samples to generate
    output_tokens: int | None = None    # aggregate sources: output length (llama-cpp summary: n_predict)
    seed: int = 0                       # aggregate sources: generator seed

    def check(self) -> "ImportOptions":
        for key, minimum, maximum in (("gamma", 1, MAX_GAMMA), ("prompt_tokens", 1, MAX_TOKENS),
                                      ("samples", 1, MAX_SAMPLES), ("output_tokens", 1, MAX_TOKENS),
                                      ("seed", 0, 2**32 - 1)):
            value = getattr(self, key)
            if value is not None and not minimum <= value <= maximum:
                raise InputError(f"--{key.replace('_', '-')}", f"must be in {minimum}..{maximum:,}, got {value}")
        return self


def import_command(fmt: str, path: str, options: ImportOptions) -> str:
    """The `specsoc trace import` command line that makes the trace again (add --out FILE to write it)."""
    words = ["specsoc", "trace", "import", "--format", fmt, str(path)]
    if fmt == "spec-bench":
        words += ["--gamma", str(options.gamma), "--prompt-tokens", str(options.prompt_tokens)]
        if options.category is not None:
            words += ["--category", options.category]
    else:
        words += ["--samples", str(options.samples), "--prompt-tokens", str(options.prompt_tokens)]
        if options.output_tokens is not None:
            words += ["--output-tokens", str(options.output_tokens)]
        words += ["--seed", str(options.seed)]
    return shlex.join(words)


def import_trace(fmt: str, path: str, options: ImportOptions) -> Trace:
    """Read `path` in format `fmt` and return it as a trace."""
    if fmt not in FORMATS:
        raise InputError("--format", f"unknown format {fmt!r} for {path} (known: {', '.join(FORMATS)})")
    options.check()
    text = _read(path)
    return {"spec-bench": _spec_bench, "llama-cpp": _llama_cpp, "vllm": _vllm}[fmt](text, str(path), options)


def _read(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise InputError(str(path), "no such file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"cannot read file ({err.__class__.__name__})") from None
    if not text.strip():
        raise InputError(str(path), "empty file")
    return text


def _finish(header: dict, samples: list[TraceSample], path: str) -> Trace:
    validate_header(header, path)
    return Trace(header, tuple(samples), path)


# ------------------------------------------------------------------------------------------------- Spec-Bench

def _spec_bench(text: str, path: str, options: ImportOptions) -> Trace:
    gamma = options.gamma
    if gamma is None:
        raise InputError("--gamma", f"Spec-Bench answers ({path}) do not record the draft length; give the run's "
                                    "draft length with --gamma")
    samples, categories, models, mismatched = [], set(), set(), 0
    for number_, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            answer = strict_json(line)
        except NotJSON as err:
            raise InputError(path, f"line {number_} is not valid JSON ({err})") from None
        where = f"line {number_}"
        if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list) or not answer["choices"] \
                or not isinstance(answer["choices"][0], dict):
            raise InputError(path, "not a Spec-Bench answer: expected an object with a non-empty \"choices\" list",
                             where)
        category = answer.get("category")
        categories.add(str(category))
        if options.category is not None and category != options.category:
            continue
        choice = answer["choices"][0]
        steps = choice.get("accept_lengths")
        if not isinstance(steps, list) or not steps:
            raise InputError(path, "must be a non-empty list of tokens emitted per decoding step",
                             f"{where}: choices[0].accept_lengths")
        for i, v in enumerate(steps):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(path, f"must be a whole number >= 1 (tokens emitted by one step), got {v!r}",
                                 f"{where}: choices[0].accept_lengths[{i}]")
            if v - 1 > gamma:
                raise InputError(path, f"{v} tokens in one step means {v - 1} accepted drafts, more than --gamma "
                                       f"{gamma}", f"{where}: choices[0].accept_lengths[{i}]")
        if sum(steps) > MAX_TOKENS:
            raise InputError(path, f"{sum(steps):,} output tokens in one answer: more than the {MAX_TOKENS:,} of any "
                                   "model's context", f"{where}: choices[0].accept_lengths")
        new_tokens = choice.get("new_tokens")
        if isinstance(new_tokens, list) and all(isinstance(t, int) for t in new_tokens) \
                and sum(new_tokens) != sum(steps):
            mismatched += 1
        if answer.get("model_id") is not None:
            models.add(str(answer["model_id"]))
        qid = answer.get("question_id")
        samples.append(TraceSample(options.prompt_tokens, sum(steps), accepted=tuple(v - 1 for v in steps),
                                   id=qid if isinstance(qid, (str, int)) and not isinstance(qid, bool) else None,
                                   category=category if isinstance(category, str) else None))
    if not samples:
        if options.category is not None:
            raise InputError(path, f"no questions of category {options.category!r} (categories in the file: "
                                   f"{', '.join(sorted(categories))})")
        raise InputError(path, "no Spec-Bench answers found")
    notes = (f"Spec-Bench answers, choices[0] of {len(samples)} question(s); accepted = accept_lengths - 1 at the "
             f"run's draft length {gamma} (--gamma); output_tokens = sum of accept_lengths; prompt lengths are not "
             f"in the file, all set to {options.prompt_tokens} tokens (--prompt-tokens).")
    if models:
        notes += f" model_id: {', '.join(sorted(models))}."
    if mismatched:
        notes += f" {mismatched} question(s) have new_tokens differing from the sum of accept_lengths."
    header = {"specsoc_trace": 1, "record": "accepted", "gamma": gamma, "synthetic": False, "source": path,
              "task": options.category if options.category is not None else ", ".join(sorted(categories)),
              "temperature": 0.0, "notes": notes, "generated_by": import_command("spec-bench", path, options)}
    return _finish(header, samples, path)


# -------------------------------------------------------------------------------------------------- llama.cpp

def expected_accepted_fraction(alpha: float, gamma: int) -> float:
    """The i.i.d. share of drafted tokens accepted: alpha (1 - alpha^g) / ((1 - alpha) g) = mean of alpha^i."""
    return sum(alpha ** i for i in range(1, gamma + 1)) / gamma


def solve_alpha(fraction: float, gamma: int) -> float:
    """The alpha whose expected accepted fraction at draft length gamma is `fraction` (bisection; it increases)."""
    if fraction <= 0 or fraction >= 1:
        return 0.0 if fraction <= 0 else 1.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if expected_accepted_fraction(mid, gamma) < fraction:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return (lo + hi) / 2


def _llama_cpp(text: str, path: str, options: ImportOptions) -> Trace:
    lines = text.splitlines()
    rounds, drafted_by, summary, accept_pct, server = [], None, {}, None, []
    for number_, line in enumerate(lines, 1):
        m = LLAMA_ROUND.search(line)
        if m:
            accepted, drafted = int(m.group(1)), int(m.group(2))
            if not 1 <= drafted <= MAX_GAMMA:
                raise InputError(path, f"line {number_} drafted {str(drafted)[:20]} tokens: a draft length is "
                                       f"1..{MAX_GAMMA}")
            if drafted_by is None:
                drafted_by = (drafted, number_)
            elif drafted != drafted_by[0]:
                raise InputError(path, f"line {number_} drafted {drafted} tokens but line {drafted_by[1]} drafted "
                                       f"{drafted_by[0]}; a per-round import needs one draft length")
            if accepted > drafted:
                raise InputError(path, f"line {number_} accepts {accepted} of only {drafted} drafted tokens")
            rounds.append(accepted)
            continue
        m = LLAMA_SUMMARY.search(line)
        if m:
            summary[m.group(1)] = int(m.group(2))
            continue
        m = LLAMA_ACCEPT.search(line)
        if m:
            accept_pct = float(m.group(1))
        m = LLAMA_SERVER.search(line)
        if m:
            curve = _rates(m.group(1), path, number_)
            drafted = LLAMA_SERVER_DRAFTED.search(line)
            server.append((curve, _drafted(drafted, path, number_), number_))
    if rounds:
        return _llama_rounds(rounds, drafted_by[0], summary, path, options)
    if server:
        return _from_curve(server, path, options, "llama-cpp", "llama.cpp server 'acceptance rate per position' lines")
    if summary:
        return _llama_summary(summary, accept_pct, path, options)
    raise InputError(path, "no llama.cpp acceptance lines found (expected per-round 'accepted N/M draft tokens' "
                           "lines, an end-of-run summary with n_drafted and n_accept, or a server 'acceptance rate "
                           "per position' line)")


def _llama_rounds(rounds: list[int], gamma: int, summary: dict, path: str, options: ImportOptions) -> Trace:
    if gamma < 1:
        raise InputError(path, "the per-round lines draft 0 tokens; there is nothing to replay")
    notes = (f"llama.cpp verbose log: {len(rounds)} rounds of 'accepted N/{gamma} draft tokens' lines as one sample; "
             f"output_tokens = sum of (accepted + 1); the prompt length is not in the log, set to "
             f"{options.prompt_tokens} tokens (--prompt-tokens).")
    drafted, accepted = gamma * len(rounds), sum(rounds)
    if "n_drafted" in summary and "n_accept" in summary:
        agree = summary["n_drafted"] == drafted and summary["n_accept"] == accepted
        notes += (f" End-of-run summary: n_drafted {summary['n_drafted']}, n_accept {summary['n_accept']} "
                  f"({'matches' if agree else 'differs from'} the per-round lines: {drafted} drafted, {accepted} accepted).")
    sample = TraceSample(options.prompt_tokens, sum(n + 1 for n in rounds), accepted=tuple(rounds))
    header = {"specsoc_trace": 1, "record": "accepted", "gamma": gamma, "synthetic": False, "source": path,
              "notes": notes, "generated_by": import_command("llama-cpp", path, options)}
    return _finish(header, [sample], path)


def _llama_summary(summary: dict, accept_pct: float | None, path: str, options: ImportOptions) -> Trace:
    missing = [k for k in ("n_draft", "n_drafted", "n_accept") if k not in summary]
    if missing:
        raise InputError(path, f"llama.cpp summary without {', '.join(missing)}")
    g, drafted, accepted = summary["n_draft"], summary["n_drafted"], summary["n_accept"]
    if g < 1 or drafted < 1:
        raise InputError(path, f"llama.cpp summary has n_draft {g} and n_drafted {drafted}; nothing was drafted")
    if g > MAX_GAMMA:
        raise InputError(path, f"llama.cpp summary has n_draft {str(g)[:20]}: a draft length is 1..{MAX_GAMMA}")
    if not 0 <= accepted <= drafted:
        raise InputError(path, f"llama.cpp summary accepts {accepted} of {drafted} drafted tokens")
    output = options.output_tokens or summary.get("n_predict")
    if output is None or output < 1:
        raise InputError(path, "llama.cpp summary without n_predict; give --output-tokens")
    if output > MAX_TOKENS:
        raise InputError(path, f"llama.cpp summary has n_predict {str(output)[:20]}, beyond the {MAX_TOKENS:,} "
                               "tokens of any model's context; give the run's output length with --output-tokens")
    fraction = accepted / drafted
    alpha = solve_alpha(fraction, g)
    notes = (f"Aggregate only: llama.cpp end-of-run summary, {accepted} of {drafted} drafted tokens accepted at "
             f"n_draft {g}. alpha solved (bisection) so that the i.i.d. expected accepted fraction "
             f"alpha(1-alpha^g)/((1-alpha) g) at g = {g} equals {accepted}/{drafted}; the samples are seeded i.i.d. "
             f"draws of {output} output tokens, not the run's rounds; prompts set to {options.prompt_tokens} tokens.")
    if accept_pct is not None and abs(accept_pct - 100 * fraction) > 0.0015:
        notes += f" The log's 'accept = {accept_pct}%' differs from n_accept/n_drafted."
    solved = {k: summary[k] for k in ("n_draft", "n_predict", "n_drafted", "n_accept") if k in summary}
    meta = {"source": path, "notes": notes, "generated_by": import_command("llama-cpp", path, options),
            "gamma": g, "generator": {"solved_from": solved}}
    return generate(Iid(alpha=alpha), options.samples, Lengths(options.prompt_tokens, 0, output, 0), options.seed, meta)


# ------------------------------------------------------------------------------------ per-position curves

MAX_DRAFTED = 10**12      # tokens one run drafts: a day at ten million a second


def _drafted(match, path: str, line: int) -> int | None:
    """A log line's drafted-token count (None when it has none), within what a run can draft."""
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) > 13 or int(digits) > MAX_DRAFTED:
        raise InputError(path, f"line {line}: {digits[:20]}{'...' if len(digits) > 20 else ''} drafted tokens: more "
                               f"than a run drafts (at most {MAX_DRAFTED:,})")
    return int(digits)


def _rates(text: str, path: str, line: int) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in re.sub(r"\s", "", text).strip(",").split(","))
    except ValueError:
        raise InputError(path, f"line {line}: cannot read the per-position acceptance rates {text.strip()!r}") from None


def _from_curve(found: list, path: str, options: ImportOptions, fmt: str, what: str) -> Trace:
    """found: (curve, drafted tokens or None, line number) per log line."""
    width = len(found[0][0])
    if width > MAX_GAMMA:
        raise InputError(path, f"line {found[0][2]} lists {width:,} draft positions: a draft length is 1..{MAX_GAMMA}")
    for curve, _, line in found:
        if len(curve) != width:
            raise InputError(path, f"line {line} has {len(curve)} draft positions but line {found[0][2]} has {width}")
    weighted = all(d is not None and d > 0 for _, d, _ in found)
    weights = [d if weighted else 1 for _, d, _ in found]
    mean = [sum(w * c[i] for (c, _, _), w in zip(found, weights)) / sum(weights) for i in range(width)]
    mean = [round(v, 6) for v in mean]
    check_curve(mean, f"{path}: per-position acceptance rates")
    how = ("the last and only such line" if len(found) == 1 else
           f"the average of {len(found)} such lines, position by position, weighted by each line's drafted tokens"
           if weighted else f"the plain average of {len(found)} such lines, position by position")
    output = options.output_tokens or 63
    notes = (f"Aggregate only: per-position acceptance curve from {what} ({how}); samples are seeded draws from "
             f"that curve at gamma = {width}, not the run's rounds; prompts {options.prompt_tokens} tokens and "
             f"outputs {output} tokens are set on the command line, not read from the log.")
    meta = {"source": path, "notes": notes, "generated_by": import_command(fmt, path, options),
            "generator": {"log_lines": len(found)}}
    return generate(Curve(tuple(mean)), options.samples, Lengths(options.prompt_tokens, 0, output, 0), options.seed,
                    meta)


def _vllm(text: str, path: str, options: ImportOptions) -> Trace:
    found = []
    for number_, line in enumerate(text.splitlines(), 1):
        m = VLLM_CURVE.search(line)
        if m:
            drafted = VLLM_DRAFTED.search(line)
            found.append((_rates(m.group(1), path, number_), _drafted(drafted, path, number_), number_))
    if not found:
        raise InputError(path, "no vLLM 'SpecDecoding metrics: ... Per-position acceptance rate: ...' lines found")
    return _from_curve(found, path, options, "vllm", "vLLM 'SpecDecoding metrics' lines")
