"""Acceptance traces: what the drafter got right, per sample, read from JSONL and replayed at any gamma.

File format (JSONL). Line 1 is a header object:
    {"specsoc_trace": 1, "record": "agreement" | "accepted", "gamma": G (required for "accepted"),
     "source": "...", "draft_model": "...", "target_model": "...", "task": "...", "temperature": 0.0,
     "synthetic": true|false, "generator": {...}, "seed": S, "imitates": "...", "notes": "..."}
then one object per sample:
    {"prompt_tokens": 63, "output_tokens": 60, "agreement": "1101..."}   (record "agreement")
    {"prompt_tokens": 63, "output_tokens": 60, "accepted": [2, 0, 5, ...]} (record "accepted")
A sample may also carry "id" and "category" (where it came from, e.g. a Spec-Bench question) and "alpha" (the
acceptance rate a synthetic generator drew it with); they are kept, and never change a replay.

An agreement record has one character per output token: "1" when the drafter, given the correct prefix,
predicts that token under greedy decoding, else "0". From it the accepted length of a round at ANY gamma
follows: the run of 1s from the round's first position, capped at gamma. An accepted record lists the drafts
accepted in each round at the recorded gamma (what Spec-Bench and llama.cpp logs give); each round emits
n + 1 tokens. It converts exactly to an agreement stream: n ones then a zero when n < gamma, and gamma ones
then the unknown agreement of the target's bonus token when n == gamma. Those unknown positions never
matter when replaying at the recorded gamma in sequential mode; otherwise they are drawn from a seeded
generator at the trace's own acceptance rate, and the results say how many were drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from simulator.common.bundled import resolve_file
from simulator.common.config import NotJSON, read_text_within, strict_json
from simulator.common.errors import InputError
from simulator.common.output import write_text

RECORDS = ("agreement", "accepted")
HEADER_KEYS = {"specsoc_trace", "record", "gamma", "source", "draft_model", "target_model", "task", "temperature",
               "synthetic", "generator", "seed", "imitates", "notes", "generated_by"}


@dataclass(frozen=True)
class TraceSample:
    prompt_tokens: int
    output_tokens: int
    agreement: tuple[int, ...] = ()      # record "agreement": one 0/1 per output token
    accepted: tuple[int, ...] = ()       # record "accepted": drafts accepted per round
    alpha: float | None = None           # the acceptance rate a synthetic generator drew this sample with
    id: str | int | None = None          # where the sample came from (e.g. a Spec-Bench question_id)
    category: str | None = None          # e.g. "translation"

    def to_json(self) -> dict:
        out = {"prompt_tokens": self.prompt_tokens, "output_tokens": self.output_tokens}
        if self.accepted:
            out["accepted"] = list(self.accepted)
        else:
            out["agreement"] = "".join(str(b) for b in self.agreement)
        for key in ("alpha", "id", "category"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Trace:
    header: dict
    samples: tuple[TraceSample, ...]
    label: str = field(default="", compare=False)   # the file it was read from, as errors and outputs name it

    @property
    def record(self) -> str:
        return self.header["record"]

    @property
    def gamma(self) -> int | None:
        return self.header.get("gamma")

    @property
    def iid_alpha(self) -> float | None:
        """The alpha of a synthetic trace of i.i.d. agreement at one fixed alpha; None for any other trace."""
        generator = self.header.get("generator", {})
        if self.header.get("synthetic") and generator.get("name") == "iid" and "alpha" in generator:
            return generator["alpha"]
        return None

    def describe(self) -> dict:
        return {**self.header, "samples": len(self.samples), **({"file": self.label} if self.label else {})}

    def write(self, path: str) -> None:
        lines = [json.dumps(self.header, sort_keys=True)] + [json.dumps(s.to_json(), sort_keys=True) for s in self.samples]
        write_text(path, "\n".join(lines) + "\n")


MAX_TRACE_BYTES = 256 * 2**20    # a trace of 100,000 samples of 1,000 tokens is 100 MB
MAX_GAMMA = 1024          # drafts per round: no speculative decoder drafts more (tree drafters: a few hundred)
MAX_TOKENS = 131_072      # tokens of one sample (prompt, output): the longest context of any model specsoc knows
MAX_SAMPLES = 100_000     # samples of a trace or a run: a speedup's interval is tight long before


def _int(value, source: str, key: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(source, f"must be a whole number, got {str(value)[:40]}", key)
    if value < minimum or (maximum is not None and value > maximum):
        limit = f"in {minimum}..{maximum:,}" if maximum is not None else f">= {minimum}"
        raise InputError(source, f"must be {limit}, got {str(value)[:40]}", key)
    return value


def validate_header(header: dict, source: str) -> dict:
    unknown = sorted(set(header) - HEADER_KEYS)
    if unknown:
        raise InputError(source, f"unknown key (known: {', '.join(sorted(HEADER_KEYS))})", f"header.{unknown[0]}")
    if header.get("specsoc_trace") != 1:
        raise InputError(source, "missing or wrong: the first line must be a header with \"specsoc_trace\": 1",
                         "header.specsoc_trace")
    record = header.get("record")
    if record not in RECORDS:
        raise InputError(source, f"must be one of {', '.join(RECORDS)}, got {record!r}", "header.record")
    if record == "accepted" or "gamma" in header:
        _int(header.get("gamma"), source, "header.gamma", 1, MAX_GAMMA)
    if "synthetic" in header and not isinstance(header["synthetic"], bool):
        raise InputError(source, f"must be true or false, got {header['synthetic']!r}", "header.synthetic")
    if "seed" in header:
        _int(header["seed"], source, "header.seed", 0, 2**32 - 1)
    if "generator" in header and not isinstance(header["generator"], dict):
        raise InputError(source, "must be an object (the generator's name and parameters)", "header.generator")
    for key in ("source", "draft_model", "target_model", "task", "imitates", "notes", "generated_by"):
        if key in header and not isinstance(header[key], str):
            raise InputError(source, f"must be a string, got {header[key]!r}", f"header.{key}")
    return header


def _extras(obj: dict, source: str, where: str) -> dict:
    """The optional descriptive keys of a sample, checked."""
    out = {}
    if "alpha" in obj:
        alpha = obj["alpha"]
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise InputError(source, f"must be a number in [0, 1], got {alpha!r}", f"{where}.alpha")
        out["alpha"] = alpha
    if "id" in obj:
        if isinstance(obj["id"], bool) or not isinstance(obj["id"], (str, int)):
            raise InputError(source, f"must be a string or a whole number, got {obj['id']!r}", f"{where}.id")
        out["id"] = obj["id"]
    if "category" in obj:
        if not isinstance(obj["category"], str):
            raise InputError(source, f"must be a string, got {obj['category']!r}", f"{where}.category")
        out["category"] = obj["category"]
    return out


def parse_sample(obj, source: str, where: str, header: dict) -> TraceSample:
    if not isinstance(obj, dict):
        raise InputError(source, "must be a JSON object", where)
    record = header["record"]
    allowed = {"prompt_tokens", "output_tokens", record, "alpha", "id", "category"}
    extra = sorted(set(obj) - allowed)
    if extra:
        raise InputError(source, f"unknown key for a {record!r} trace", f"{where}.{extra[0]}")
    prompt = _int(obj.get("prompt_tokens"), source, f"{where}.prompt_tokens", 1, MAX_TOKENS)
    if record == "agreement":
        bits = obj.get("agreement")
        if not isinstance(bits, str) or not bits or set(bits) - {"0", "1"}:
            raise InputError(source, "must be a non-empty string of 0s and 1s", f"{where}.agreement")
        output = _int(obj.get("output_tokens", len(bits)), source, f"{where}.output_tokens", 1, MAX_TOKENS)
        if output > len(bits):
            raise InputError(source, f"{output} output tokens but only {len(bits)} agreement bits", f"{where}.output_tokens")
        return TraceSample(prompt, output, agreement=tuple(int(b) for b in bits[:output]), **_extras(obj, source, where))
    gamma = header["gamma"]
    rounds = obj.get("accepted")
    if not isinstance(rounds, list) or not rounds:
        raise InputError(source, "must be a non-empty list of accepted counts", f"{where}.accepted")
    for i, n in enumerate(rounds):
        n = _int(n, source, f"{where}.accepted[{i}]", 0)
        if n > gamma:
            raise InputError(source, f"accepted length {n} exceeds the recorded gamma {gamma}", f"{where}.accepted[{i}]")
    emitted = sum(n + 1 for n in rounds)
    output = _int(obj.get("output_tokens", emitted), source, f"{where}.output_tokens", 1, MAX_TOKENS)
    if output != emitted:
        raise InputError(source, f"{output} output tokens but the rounds emit {emitted} (sum of accepted + 1)",
                         f"{where}.output_tokens")
    return TraceSample(prompt, output, accepted=tuple(rounds), **_extras(obj, source, where))


def load_trace(name_or_path: str) -> Trace:
    """A bundled trace by name (traces/NAME.jsonl) or a JSONL file by path."""
    path, label = resolve_file("traces", name_or_path, (".jsonl",))
    try:
        lines = read_text_within(path, MAX_TRACE_BYTES, "an acceptance trace").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(label, f"cannot read file ({err.__class__.__name__})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append((number, strict_json(line)))
        except NotJSON as err:
            raise InputError(label, f"line {number} is not valid JSON ({err})") from None
    if not rows:
        raise InputError(label, "empty trace: no header and no samples")
    number, header = rows[0]
    if not isinstance(header, dict) or "specsoc_trace" not in header:
        raise InputError(label, "missing header: line 1 must be an object with \"specsoc_trace\": 1")
    validate_header(header, label)
    samples = tuple(parse_sample(obj, label, f"line {n}", header) for n, obj in rows[1:])
    if not samples:
        raise InputError(label, "empty trace: a header but no samples")
    return Trace(header, samples, label)


def estimate_alpha(trace: Trace) -> float:
    """The trace's acceptance rate: the share of 1s in agreement records; for accepted records the maximum-
    likelihood alpha of a truncated geometric, accepted drafts / (accepted drafts + rejections)."""
    if trace.record == "agreement":
        bits = [b for s in trace.samples for b in s.agreement]
        return sum(bits) / len(bits)
    gamma = trace.gamma
    accepted = sum(n for s in trace.samples for n in s.accepted)
    rejections = sum(1 for s in trace.samples for n in s.accepted if n < gamma)
    return accepted / (accepted + rejections) if accepted + rejections else 0.0
