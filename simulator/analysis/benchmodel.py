"""llama-bench's tests in the simulator: a prefill or generation test of a model on a placement, as tok/s.

llama-bench times two kinds of test (reference/formats.md): `ppN` feeds an N-token prompt in one pass and
reports N / time; `tgN` generates N tokens one pass each, with a KV cache, after `n_depth` tokens already in
the context, and reports N / total time. Nothing else runs on the SoC meanwhile, so every pass takes its
alone time (the engine's closed form: the sum of its tasks' rooflines, the per-token host cost included).

Exact: a tgN test sums its N passes (N up to EXACT_MAX_TOKENS). Sampled (while fitting, where the same test
is costed many times, and for longer tests): a generation pass's time is piecewise linear in its position
(only attention grows with the context), so the N passes are integrated by the trapezoid rule over 9 positions
(65 beyond EXACT_MAX_TOKENS): exact wherever no op switches between compute- and memory-bound within the test,
and within a fraction of a percent where one does. A test's prompt, depth and generated tokens together stay
within MAX_CONTEXT_TOKENS.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.common.errors import InputError
from simulator.hw.placement import Placement, parse_device, place
from simulator.hw.soc import SoC
from simulator.llm.planner import Planner
from simulator.llm.graph import PassShape
from simulator.llm.model import ModelSpec, Precision

SAMPLED_POSITIONS = 9
EXACT_MAX_TOKENS = 1024
MAX_CONTEXT_TOKENS = 2**20     # a million tokens: beyond any edge model's context


@dataclass(frozen=True)
class BenchCase:
    """One llama-bench test: `kind` "pp" (prefill `tokens`) or "tg" (generate `tokens`) after `depth` tokens."""

    model: ModelSpec
    weights: str          # a weight format (hw.dtypes.WEIGHT_FORMATS)
    device: str           # where it runs: cpu:K (K threads), a cluster, or the GPU
    kind: str
    tokens: int
    depth: int = 0

    def __post_init__(self):
        if self.kind not in ("pp", "tg") or self.tokens < 1 or self.depth < 0:
            raise InputError("test", f"{self.kind}{self.tokens} @ d{self.depth}: a pp or tg test of 1 or more tokens")
        if self.tokens + self.depth > MAX_CONTEXT_TOKENS:
            raise InputError("test", f"{self.kind}{self.tokens} at depth {self.depth}: more than {MAX_CONTEXT_TOKENS:,} "
                                     "tokens of context, beyond any model simulated here")

    @property
    def label(self) -> str:
        test = f"{self.kind}{self.tokens}" + (f" @ d{self.depth}" if self.depth else "")
        return f"{self.model.name} {self.weights} {self.device} {test}"

    def placement(self, soc: SoC) -> Placement:
        (where,) = place([parse_device(soc, self.device, "device")])
        return where


def _pass_s(planner: Planner, case: BenchCase, where: Placement, precision: Precision, new: int, past: int) -> float:
    return planner.plan(case.model, precision, PassShape(new, past, True), where).alone_s


def predict_s(soc: SoC, case: BenchCase, sampled: bool = False) -> float:
    """Seconds the test takes on `soc`: one pass for pp, the sum of its passes for tg."""
    planner = Planner(soc, "layer")
    where = case.placement(soc)
    precision = Precision.resolve(case.weights)
    if case.kind == "pp":
        return _pass_s(planner, case, where, precision, case.tokens, case.depth)
    n = case.tokens
    positions = SAMPLED_POSITIONS if sampled else (65 if n > EXACT_MAX_TOKENS else n)
    if n <= positions:
        return sum(_pass_s(planner, case, where, precision, 1, case.depth + i) for i in range(n))
    step = (n - 1) / (positions - 1)
    times = [_pass_s(planner, case, where, precision, 1, case.depth + round(i * step)) for i in range(positions)]
    mean = (sum(times) - (times[0] + times[-1]) / 2) / (positions - 1)
    return mean * n


def predict_tokens_per_s(soc: SoC, case: BenchCase, sampled: bool = False) -> float:
    return case.tokens / predict_s(soc, case, sampled)
