"""Seeded synthetic acceptance traces: i.i.d. agreement, per-position acceptance curves, bursty Markov chains.

They exist to test the cost model's assumptions one at a time, and to replay aggregate-only sources (an
acceptance rate, a per-position curve) as per-round traces. Every trace they make says so in its header:
"synthetic": true, the generator's name and every parameter, the seed and, when given, what it imitates.

The models:
- iid: every output position agrees with probability alpha, independently (Leviathan et al.'s assumption,
  Eq. 1). alpha is fixed, or drawn once per sample from a piecewise-linear quantile function (a task mixes
  easy and hard prompts: the paper's semi-quantized pair has median 0.17 but p90 0.90).
- curve: draft position i is accepted with unconditional probability a_i, as vLLM and llama.cpp report it
  (a_1 >= a_2 >= ...). A round accepts position i given i-1 with probability a_i / a_{i-1}; it is recorded as
  accepted lengths at gamma = len(curve), since a curve says nothing about longer drafts.
- markov: a two-state chain on the agreement bits, stationary mean alpha, lag-1 correlation rho:
  P(1 | 1) = alpha + rho (1 - alpha), P(1 | 0) = alpha (1 - rho). Agreements come in bursts; the mean is the
  same as i.i.d. alpha, the spread of accepted lengths is not.
- lengths (shared by all): prompt and output token counts ~ normal(mean, sd), rounded, at least 1.

Draw order, fixed so a seed always gives the same trace: for each sample in turn, the prompt length, the output
length, then (iid with quantiles) one uniform for the sample's alpha, then the sample's record: iid one uniform
per output token; markov one uniform per output token (the first against alpha); curve gamma uniforms per
round, rounds until the output is emitted, the last round cut so that sum(n + 1) == output tokens.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import numpy as np

from simulator.common.errors import InputError
from simulator.traces.trace import MAX_SAMPLES, MAX_TOKENS, Trace, TraceSample, validate_header

MAX_SYNTHETIC_TOKENS = 20_000_000   # output tokens of a synthetic trace in all (its agreements: ~8 bytes a token)


def number(x: float) -> str:
    """A number as the shortest text that reads back to it ("0.9", "63", "0.17")."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def clean(x: float) -> int | float:
    """A whole float as an int, so headers read 63 rather than 63.0."""
    return int(x) if float(x).is_integer() else float(x)


def _probability(value: float, source: str, key: str | None = None) -> float:
    if not 0.0 <= value <= 1.0:
        raise InputError(source, f"must be in [0, 1], got {number(value)}", key)
    return float(value)


def parse_quantiles(text: str, source: str = "--alpha-quantiles") -> tuple[tuple[float, float], ...]:
    """"0:0,0.5:0.17,0.9:0.90,1:1" -> ((0, 0), (0.5, 0.17), (0.9, 0.9), (1, 1)): probability:alpha points."""
    points = []
    for part in text.split(","):
        try:
            p, a = (float(x) for x in part.split(":"))
        except ValueError:
            raise InputError(source, f"expected probability:alpha points like 0:0,0.5:0.17,1:1, got {part.strip()!r}") from None
        points.append((p, a))
    return check_quantiles(points, source)


def check_quantiles(points, source: str) -> tuple[tuple[float, float], ...]:
    points = tuple((float(p), float(a)) for p, a in points)
    if len(points) < 2 or points[0][0] != 0.0 or points[-1][0] != 1.0:
        raise InputError(source, "the quantile points must start at probability 0 and end at probability 1")
    for (p0, a0), (p1, a1) in zip(points, points[1:]):
        if p1 <= p0:
            raise InputError(source, f"probabilities must increase, got {number(p0)} then {number(p1)}")
        if a1 < a0:
            raise InputError(source, f"alpha must not decrease with probability, got {number(a0)} then {number(a1)}")
    for _, a in points:
        _probability(a, source)
    return points


def parse_curve(text: str, source: str = "--curve") -> tuple[float, ...]:
    """"0.837,0.685,0.562" -> (0.837, 0.685, 0.562)."""
    try:
        values = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise InputError(source, f"expected comma-separated acceptance rates like 0.8,0.6,0.4, got {text!r}") from None
    return check_curve(values, source)


def check_curve(values, source: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in values)
    if not values:
        raise InputError(source, "the acceptance curve is empty")
    for v in values:
        _probability(v, source)
    for i, (a, b) in enumerate(zip(values, values[1:]), 1):
        if b > a:
            raise InputError(source, f"the acceptance curve must not increase with position: position {i} is "
                                     f"{number(a)}, position {i + 1} is {number(b)}")
    return values


@dataclass(frozen=True)
class Lengths:
    """Prompt and output lengths per sample: normal(mean, sd) rounded, at least 1 (sd 0 = fixed)."""

    prompt_tokens: float = 63
    prompt_sd_tokens: float = 0
    output_tokens: float = 63
    output_sd_tokens: float = 0

    def check(self, source: str = "specsoc trace synth") -> "Lengths":
        for key, minimum in (("prompt_tokens", 1), ("output_tokens", 1), ("prompt_sd_tokens", 0),
                             ("output_sd_tokens", 0)):
            if not minimum <= getattr(self, key) <= MAX_TOKENS:
                raise InputError(source, f"must be in {minimum}..{MAX_TOKENS:,}, got {number(getattr(self, key))}",
                                 "--" + key.replace("_", "-"))
        return self

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        prompt = rng.normal(self.prompt_tokens, self.prompt_sd_tokens)
        output = rng.normal(self.output_tokens, self.output_sd_tokens)
        return min(MAX_TOKENS, max(1, int(round(prompt)))), min(MAX_TOKENS, max(1, int(round(output))))

    def flags(self) -> list[str]:
        return ["--prompt-tokens", number(self.prompt_tokens), "--prompt-sd-tokens", number(self.prompt_sd_tokens),
                "--output-tokens", number(self.output_tokens), "--output-sd-tokens", number(self.output_sd_tokens)]

    def describe(self) -> dict:
        return {"prompt_tokens": {"mean": clean(self.prompt_tokens), "sd": clean(self.prompt_sd_tokens)},
                "output_tokens": {"mean": clean(self.output_tokens), "sd": clean(self.output_sd_tokens)}}


@dataclass(frozen=True)
class Iid:
    """Each agreement bit ~ Bernoulli(alpha); alpha fixed, or per sample from a quantile function."""

    alpha: float | None = None
    quantiles: tuple[tuple[float, float], ...] | None = None
    name = "iid"
    record = "agreement"

    def check(self, source: str = "specsoc trace synth iid") -> "Iid":
        if (self.alpha is None) == (self.quantiles is None):
            raise InputError(source, "give either --alpha or --alpha-quantiles, not both and not neither")
        if self.alpha is not None:
            _probability(self.alpha, source, "--alpha")
        else:
            check_quantiles(self.quantiles, f"{source}: --alpha-quantiles")
        return self

    def flags(self) -> list[str]:
        if self.alpha is not None:
            return ["--alpha", number(self.alpha)]
        return ["--alpha-quantiles", ",".join(f"{number(p)}:{number(a)}" for p, a in self.quantiles)]

    def params(self) -> dict:
        if self.alpha is not None:
            return {"alpha": clean(self.alpha)}
        return {"alpha_quantiles": [[clean(p), clean(a)] for p, a in self.quantiles]}

    def sample(self, rng: np.random.Generator, output: int) -> dict:
        if self.alpha is not None:
            alpha, extra = self.alpha, {}
        else:
            ps, alphas = zip(*self.quantiles)
            alpha = float(np.interp(rng.random(), ps, alphas))
            extra = {"alpha": round(alpha, 6)}
        bits = rng.random(output) < alpha
        return {"agreement": tuple(int(b) for b in bits), **extra}


@dataclass(frozen=True)
class Curve:
    """Per-position unconditional acceptance a_1..a_g; rounds at gamma = g, position i accepted given i-1 with
    probability a_i / a_{i-1}."""

    curve: tuple[float, ...]
    name = "curve"
    record = "accepted"

    def check(self, source: str = "specsoc trace synth curve") -> "Curve":
        check_curve(self.curve, f"{source}: --curve")
        return self

    @property
    def gamma(self) -> int:
        return len(self.curve)

    def conditional(self) -> np.ndarray:
        previous = np.concatenate(([1.0], self.curve[:-1]))
        current = np.asarray(self.curve)
        return np.divide(current, previous, out=np.zeros_like(current), where=previous > 0)

    def flags(self) -> list[str]:
        return ["--curve", ",".join(number(a) for a in self.curve)]

    def params(self) -> dict:
        return {"curve": [clean(a) for a in self.curve]}

    def sample(self, rng: np.random.Generator, output: int) -> dict:
        conditional = self.conditional()
        rounds, emitted = [], 0
        while emitted < output:
            passed = rng.random(self.gamma) < conditional
            n = self.gamma if passed.all() else int(np.argmin(passed))
            n = min(n, output - emitted - 1)          # the last round stops at the end of the output
            rounds.append(n)
            emitted += n + 1
        return {"accepted": tuple(rounds)}


@dataclass(frozen=True)
class Markov:
    """A two-state chain on the agreement bits with stationary mean alpha and lag-1 correlation rho."""

    alpha: float
    rho: float
    name = "markov"
    record = "agreement"

    def check(self, source: str = "specsoc trace synth markov") -> "Markov":
        _probability(self.alpha, source, "--alpha")
        if not 0.0 <= self.rho < 1.0:
            raise InputError(source, f"must be in [0, 1), got {number(self.rho)}", "--rho")
        return self

    def flags(self) -> list[str]:
        return ["--alpha", number(self.alpha), "--rho", number(self.rho)]

    def params(self) -> dict:
        return {"alpha": clean(self.alpha), "rho": clean(self.rho)}

    def sample(self, rng: np.random.Generator, output: int) -> dict:
        stay, rise = self.alpha + self.rho * (1 - self.alpha), self.alpha * (1 - self.rho)
        u = rng.random(output)
        bits, previous = [], None
        for x in u:
            p = self.alpha if previous is None else (stay if previous else rise)
            previous = int(x < p)
            bits.append(previous)
        return {"agreement": tuple(bits)}


def synth_command(generator: Iid | Curve | Markov, samples: int, lengths: Lengths, seed: int,
                  meta: dict | None = None) -> str:
    """The `specsoc trace synth` command line that makes this trace again (add --out FILE to write it)."""
    words = ["specsoc", "trace", "synth", generator.name, *generator.flags(), "--samples", str(samples),
             *lengths.flags(), "--seed", str(seed)]
    for key in ("imitates", "notes"):
        if (meta or {}).get(key) is not None:
            words += [f"--{key}", meta[key]]
    return shlex.join(words)


def generate(generator: Iid | Curve | Markov, samples: int, lengths: Lengths, seed: int,
             meta: dict | None = None) -> Trace:
    """A synthetic trace of `samples` samples. `meta` adds header keys (imitates, notes, source, generated_by);
    a "generator" entry in it adds to the generator's description (e.g. the aggregate it was solved from)."""
    generator.check()
    lengths.check()
    if not 1 <= samples <= MAX_SAMPLES:
        raise InputError("--samples", f"must be in 1..{MAX_SAMPLES:,}, got {samples}")
    if samples * lengths.output_tokens > MAX_SYNTHETIC_TOKENS:
        raise InputError("--samples", f"{samples:,} samples of {number(lengths.output_tokens)} output tokens: at most "
                                      f"{MAX_SYNTHETIC_TOKENS:,} tokens in all")
    if seed < 0:
        raise InputError("--seed", f"must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(samples):
        prompt, output = lengths.draw(rng)
        out.append(TraceSample(prompt, output, **generator.sample(rng, output)))
    header = {"specsoc_trace": 1, "record": generator.record, "synthetic": True, "seed": seed,
              "generator": {"name": generator.name, **generator.params(), "samples": samples, **lengths.describe()}}
    if generator.record == "accepted":
        header["gamma"] = generator.gamma
    meta = {k: v for k, v in (meta or {}).items() if v is not None}
    meta.setdefault("generated_by", synth_command(generator, samples, lengths, seed, meta))
    header["generator"].update(meta.pop("generator", {}))
    header.update(meta)
    validate_header(header, "synthetic trace header")
    return Trace(header, tuple(out))
