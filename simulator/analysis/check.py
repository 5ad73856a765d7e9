"""Where does Eq. 1 hold for this scenario, and which of its assumptions moves the answer, by how much.

The closed form (Eq. 1, the trace's mean alpha, c from simulated single passes at S_L) is compared with
simulations that switch the realistic effects on one at a time, in a fixed order, each step on the same
samples as the one before (a waterfall):

    closed form -> simulation with every effect off (i.i.d. acceptance, many rounds: only the closed form's
    own arithmetic differs, so the gap is ~0) -> the scenario's samples, still i.i.d. (finite samples, short
    last rounds) -> its acceptance trace instead of i.i.d. at the same mean alpha -> verify cost growing with
    gamma -> dispatch, launch and handoff overheads -> sequence growth -> overlap (overlap scenarios) -> DRAM
    contention = the scenario as `specsoc run` simulates it.

Each step's change is reported in percent of speedup and flagged above a threshold. Because effects
interact, the change of leaving each one out of the full scenario is reported too. Every simulated speedup
comes with its 95% interval over its samples (run/interval.py); Eq. 1's is a closed form, with none. From the
scenario's own draw on, each step switches one effect on the same samples as the step before, so its change
is far surer than the two intervals' widths suggest: the intervals say how well the samples pin the speedup
itself down, not the change.

Sequential steps run at model granularity: with nothing in parallel every granularity gives the same total
(tests/decode/test_autoregressive.py), and it is the fast one. Overlap steps keep the scenario's granularity, since a
thrown-away pre-draft is abandoned at op (or layer) boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.analysis.analytic import eq1, expected_tokens
from simulator.analysis.explore import pass_seconds
from simulator.common.errors import InputError
from simulator.llm.planner import Planner
from simulator.run.interval import Interval
from simulator.run.results import SpeculativeResults
from simulator.run.scenario import Effects, Scenario, Workload
from simulator.run.simulate import Progress, no_progress, planner_for, run_baseline, run_speculative
from simulator.traces.synth import Iid, Lengths, generate
from simulator.traces.trace import estimate_alpha

EFFECTS = ("verify_grows", "overheads", "sequence_growth", "dram_contention")   # Effects fields, in waterfall order
LABELS = {"acceptance": "acceptance trace instead of i.i.d. (same mean alpha)",
          "verify_grows": "verify cost grows with gamma", "overheads": "dispatch, launch and handoff overheads",
          "sequence_growth": "sequence growth", "overlap": "overlap (drafting during verify)",
          "dram_contention": "DRAM contention"}
CLOSED_FORM_ROUNDS = 20000   # i.i.d. rounds for the all-off comparison: ~0.25% standard error at alpha 0.9


@dataclass
class Step:
    key: str
    label: str
    speedup: float
    mean_accepted: float | None = None
    samples: int | None = None              # simulated steps: the samples the speedup is over
    ci95: Interval = None                   # its 95% interval over them (None: one sample, or Eq. 1)
    delta_percent: float | None = None      # against the step before
    flagged: bool = False

    def to_json(self) -> dict:
        return {"effect": self.key, "label": self.label, "speedup": self.speedup, "speedup_ci95": self.ci95,
                "samples": self.samples, "mean_accepted_per_round": self.mean_accepted,
                "delta_percent": self.delta_percent, "flagged": self.flagged}


def _iid_like(scenario: Scenario, alpha: float, seed: int, samples=None, output=None) -> Workload:
    """i.i.d. agreement at alpha over the scenario's sample lengths (or `samples` x `output` tokens)."""
    if samples is None:
        lengths = [(s.prompt_tokens, s.output_tokens) for s in scenario.workload.samples]
    else:
        lengths = [(scenario.workload.samples[0].prompt_tokens, output)] * samples
    parts = [generate(Iid(alpha=alpha), 1, Lengths(p, 0, o, 0), seed + i).samples[0] for i, (p, o) in enumerate(lengths)]
    trace = replace(generate(Iid(alpha=alpha), 1, Lengths(1, 0, 1, 0), seed), samples=tuple(parts))
    return Workload(trace, trace.samples, seed)


@dataclass(frozen=True)
class LeftOut:
    """The full scenario with one effect left out."""

    key: str
    label: str
    speedup_without: float
    ci95_without: Interval      # its 95% interval over the scenario's samples
    delta_percent: float        # the effect's own: full / without - 1
    flagged: bool

    def to_json(self) -> dict:
        return {"effect": self.key, "label": self.label, "speedup_without": self.speedup_without,
                "speedup_without_ci95": self.ci95_without, "delta_percent": self.delta_percent,
                "flagged": self.flagged}


@dataclass(frozen=True)
class CheckResult:
    alpha: float
    c: float
    seq_len: int
    gamma: int
    threshold_percent: float
    closed_form_speedup: float
    steps: list[Step]
    leave_one_out: list[LeftOut]

    @property
    def simulated_speedup(self) -> float:
        return self.steps[-1].speedup

    @property
    def simulated_ci95(self) -> Interval:
        return self.steps[-1].ci95

    @property
    def gap_all_off_percent(self) -> float:
        """Eq. 1 against the simulation with every effect off: only the closed form's own arithmetic differs."""
        return 100.0 * (self.steps[1].speedup / self.closed_form_speedup - 1.0)

    @property
    def flagged_labels(self) -> list[str]:
        return sorted({s.label for s in self.steps if s.flagged} | {e.label for e in self.leave_one_out if e.flagged})

    def to_json(self) -> dict:
        return {"alpha": self.alpha, "c": self.c, "seq_len": self.seq_len, "gamma": self.gamma,
                "threshold_percent": self.threshold_percent, "closed_form_speedup": self.closed_form_speedup,
                "simulated_speedup": self.simulated_speedup, "simulated_speedup_ci95": self.simulated_ci95,
                "gap_all_off_percent": self.gap_all_off_percent,
                "steps": [s.to_json() for s in self.steps], "leave_one_out": [e.to_json() for e in self.leave_one_out]}


class _Simulations:
    """Runs the check's simulations, sharing planners, and reports progress."""

    def __init__(self, total: int, progress: Progress):
        self.total = total
        self.done = 0
        self.progress = progress
        self.planners: dict[tuple, Planner] = {}

    def planner(self, sc: Scenario) -> Planner:
        return self.planners.setdefault((sc.effects.overheads, sc.granularity), planner_for(sc))

    def run(self, sc: Scenario) -> SpeculativeResults:
        if sc.speculation.mode == "sequential":
            sc = replace(sc, granularity="model")
        planner = self.planner(sc)
        res = run_speculative(sc, run_baseline(sc, planner), planner)
        self.done += 1
        self.progress("check", self.done, self.total)
        return res


def check(scenario: Scenario, threshold_percent: float = 2.0, progress: Progress = no_progress) -> CheckResult:
    if scenario.speculation is None:
        raise InputError("--draft", "check compares speculative decoding with Eq. 1: give a drafter")
    spec = scenario.speculation
    alpha = estimate_alpha(scenario.workload.trace)
    prompts = [s.prompt_tokens for s in scenario.workload.samples]
    seq_len = round(sum(prompts) / len(prompts))
    all_off = Effects(False, False, False, False)
    overlap = spec.mode == "overlap"
    sims = _Simulations(2 * (len(EFFECTS) + 1 + overlap) + 2, progress)   # the waterfall, then one per effect left out

    off_sc = replace(scenario, effects=all_off, speculation=replace(spec, mode="sequential"))
    target_at, draft_at = off_sc.placements()
    planner = sims.planner(replace(off_sc, granularity="model"))
    c = (pass_seconds(planner, spec.draft, draft_at, seq_len, scenario.kv_cache)
         / pass_seconds(planner, scenario.target, target_at, seq_len, scenario.kv_cache))
    closed = eq1(alpha, spec.gamma, c)
    tokens_per_round = expected_tokens(alpha, spec.gamma)
    output = max(8, round(CLOSED_FORM_ROUNDS * tokens_per_round / 16))

    steps = [Step("closed_form", f"Eq. 1 (alpha {alpha:.3f}, c {c:.3f} at S_L {seq_len})", closed,
                  tokens_per_round - 1.0)]

    def add(key, label, sc):
        res = sims.run(sc)
        steps.append(Step(key, label, res.speedup, res.mean_accepted_per_round, res.samples, res.speedup_ci95))
        return sc

    long_iid = _iid_like(off_sc, alpha, scenario.workload.seed + 1000, samples=16, output=output)
    add("all_off", "simulation, every effect off (i.i.d., many rounds)", replace(off_sc, workload=long_iid))
    sc = add("samples", "the scenario's samples, still i.i.d.",
             replace(off_sc, workload=_iid_like(scenario, alpha, scenario.workload.seed + 2000)))
    iid_itself = scenario.workload.trace.iid_alpha is not None
    sc = add("acceptance", "the scenario's own i.i.d. draw (sampling noise)" if iid_itself else LABELS["acceptance"],
             replace(sc, workload=scenario.workload))
    effects = all_off
    for key in EFFECTS:
        if key == "dram_contention" and overlap:
            sc = add("overlap", LABELS["overlap"], replace(sc, speculation=spec))
        effects = replace(effects, **{key: True})
        sc = add(key, LABELS[key], replace(sc, effects=effects))
    for before, step in zip(steps, steps[1:]):
        step.delta_percent = 100.0 * (step.speedup / before.speedup - 1.0)
        step.flagged = abs(step.delta_percent) > threshold_percent and step.key not in ("all_off",)
    full = steps[-1].speedup
    left_out = []
    for key in ("acceptance", *EFFECTS) + (("overlap",) if overlap else ()):
        if key == "acceptance":
            without = replace(scenario, workload=_iid_like(scenario, alpha, scenario.workload.seed + 2000))
        elif key == "overlap":
            without = replace(scenario, speculation=replace(spec, mode="sequential"))
        else:
            without = replace(scenario, effects=replace(scenario.effects, **{key: False}))
        res = sims.run(without)
        change = 100.0 * (full / res.speedup - 1.0)
        label = next((st.label for st in steps if st.key == key), LABELS[key])
        left_out.append(LeftOut(key, label, res.speedup, res.speedup_ci95, change, abs(change) > threshold_percent))
    return CheckResult(alpha, c, seq_len, spec.gamma, threshold_percent, closed, steps, left_out)
