"""The paper's design-space exploration, by Eq. 1 and by full simulation side by side.

A design variant is k cores available on one CPU cluster (1..n), plus the SoC's GPUs. A mapping places the
drafter and the target, whole, each on one processing unit of the variant (the k cores, or a GPU): the
paper's v x N^m space, 24 mappings on the i.MX 95. For each mapping, c = t(drafter pass) / t(target pass)
comes from simulated single passes at the sequence length S_L (no KV cache, as in the paper), and Eq. 1
picks gamma in 0..gamma_max (or among the gammas asked for). As in the paper, the baseline of every speedup in a variant is the target alone
on the variant's k CPU cores; a mapping that puts the target elsewhere pays t(target there) / t(baseline) on
top (r below): S = Eq.1(alpha, gamma, c) / r. Full simulation runs every (mapping, gamma) over the workload
(sequential, the paper's mode, every effect on) against the simulated baseline of the same samples; each
simulated speedup comes with its 95% interval over the samples (run/interval.py). Eq. 1's are closed forms of
alpha and c, with no sampling in them and no interval.

With partitions (`--partitions`, analysis/partitions.py) each variant also gets finer placements: the target split
by layers, by op class or matmul by matmul between an accelerator and the variant's cores, or whole on an NPU,
and the drafter on an NPU. Every mapping with at least one partitioned model is costed by Eq. 1 (its passes alone
are simulated once, as DAGs: llm/partition.py); the best partition of each variant, speculating and not, is then
simulated over the workload like the whole-model mappings, and reported beside the best whole-model mapping.

`specsoc explore` simulates EXPLORE_SAMPLES synthetic samples unless told otherwise, fewer than `specsoc run`'s
default: it runs every gamma of every mapping of every variant (~200 runs on the i.MX 95), whose cost grows
with the samples (on a 2-core machine about 2 s at 4 samples at alpha 0.9, 18 s at 64; 4 s and 60 s at alpha
0.17). The intervals say what so few samples can tell; `--samples 64` narrows them.

The JSON document (`specsoc explore --json`, read back by `specsoc plot heatmap`) is written and read here:
a decision names its mapping by `decision_label`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.analysis.analytic import eq1, first_best
from simulator.common.config import is_number, read_json
from simulator.common.errors import InputError
from simulator.analysis.partitions import candidates
from simulator.common.parallel import as_finished
from simulator.engine.dag import DagPlan
from simulator.engine.engine import alone_seconds
from simulator.hw.placement import DeviceRequest, Placement
from simulator.hw.soc import SoC
from simulator.llm.planner import Planner
from simulator.llm.graph import PassShape
from simulator.llm.partition import Partition
from simulator.run.interval import Interval
from simulator.run.results import DecodingResults, speedup_over
from simulator.run.scenario import Effects, ModelRun, Scenario, Speculation
from simulator.run.simulate import Progress, no_progress, run_baseline, run_speculative


EXPLORE_SAMPLES = 4   # synthetic samples `specsoc explore` simulates by default (see the module's docstring)


@dataclass(frozen=True)
class ExploreSpec:
    """What to explore: the scenario's SoC, models (with their formats) and workload, at acceptance `alpha`.
    The scenario's devices, gamma, mode and granularity are not used: explore places the models itself and
    simulates sequential rounds at model granularity (with nothing in parallel, every granularity gives one
    total)."""

    scenario: Scenario
    alpha: float
    seq_len: int = 63
    gamma_max: int = 8
    simulate: bool = True
    granularity: str = "model"
    gammas: tuple[int, ...] = ()     # the gammas tried; () = 1..gamma_max
    partitions: bool = False         # also explore partitioned placements (analysis/partitions.py)

    @property
    def gamma_values(self) -> tuple[int, ...]:
        return self.gammas or tuple(range(1, self.gamma_max + 1))

    def __post_init__(self):
        if self.scenario.speculation is None:
            raise InputError("--draft", "explore places a drafter and a target: give a drafter")

    @property
    def soc(self) -> SoC:
        return self.scenario.soc

    @property
    def target(self) -> ModelRun:
        return self.scenario.target

    @property
    def draft(self) -> ModelRun:
        return self.scenario.speculation.draft


def decision_label(draft_device: str | None, target_device: str) -> str:
    """How a decision names its mapping in the JSON: 'draft X, target Y', or 'target Y alone' (not speculating)."""
    return f"target {target_device} alone" if draft_device is None else f"draft {draft_device}, target {target_device}"


@dataclass
class MappingResult:
    cluster: str
    cores: int
    draft_device: str
    target_device: str
    c: float                    # t_draft / t_target at S_L
    r: float                    # t_target(its placement) / t_target(baseline: k CPU cores)
    speedup_eq1: dict[int, float]
    speedup_simulated: dict[int, float] = field(default_factory=dict)
    ci95_simulated: dict[int, Interval] = field(default_factory=dict)
    alone_simulated: float = 1.0    # the target alone on this mapping's placement, against the variant's baseline
    alone_ci95: Interval = (1.0, 1.0)

    @property
    def heterogeneous(self) -> bool:
        return self.draft_device != self.target_device

    def best(self, which: str) -> tuple[int, float]:
        """Best gamma and its speedup against the variant's baseline, by "eq1" or "simulated"; gamma 0 is the
        target alone, not speculating, on this mapping's placement (1 / r by Eq. 1), so that moving the target
        is never credited to speculation."""
        table = self.speedup_eq1 if which == "eq1" else self.speedup_simulated
        return first_best(sorted(table.items()), (0, 1.0 / self.r if which == "eq1" else self.alone_simulated))

    def simulated_at(self, gamma: int) -> float:
        """The simulated speedup at gamma (0: the target alone on this mapping's placement)."""
        return self.alone_simulated if gamma == 0 else self.speedup_simulated[gamma]

    def ci95_at(self, gamma: int) -> Interval:
        """The 95% interval of the simulated speedup at gamma over the samples."""
        return self.alone_ci95 if gamma == 0 else self.ci95_simulated[gamma]

    def to_json(self) -> dict:
        g_eq1, s_eq1 = self.best("eq1")
        out = {"cluster": self.cluster, "cores": self.cores, "draft_device": self.draft_device,
               "target_device": self.target_device, "c": self.c, "target_time_ratio": self.r,
               "best_gamma": g_eq1, "speedup_eq1": s_eq1,
               "speedup_eq1_by_gamma": {str(g): s for g, s in self.speedup_eq1.items()}}
        if self.speedup_simulated:
            g_sim, s_sim = self.best("simulated")
            out.update(best_gamma_simulated=g_sim, speedup_simulated=s_sim, speedup_simulated_ci95=self.ci95_at(g_sim),
                       speedup_simulated_by_gamma={str(g): s for g, s in self.speedup_simulated.items()},
                       speedup_simulated_ci95_by_gamma={str(g): ci for g, ci in self.ci95_simulated.items()})
        return out


@dataclass(frozen=True)
class Decision:
    """A variant's choice: speculate with `mapping` at `gamma`, or not (gamma 0: the target alone on the
    mapping's target placement, or on the variant's own cores when `mapping` is None). A simulated decision
    carries its speedup's 95% interval over the samples (the variant's own baseline against itself: 1.0, exactly)."""

    speedup: float
    gamma: int = 0
    mapping: MappingResult | None = None
    ci95: Interval = None

    @property
    def speculate(self) -> bool:
        return self.gamma > 0

    @property
    def heterogeneous(self) -> bool:
        return self.speculate and self.mapping.heterogeneous

    @property
    def label(self) -> str | None:
        if self.mapping is None:
            return None
        return decision_label(self.mapping.draft_device if self.speculate else None, self.mapping.target_device)

    def to_json(self) -> dict:
        return {"speculate": self.speculate, "gamma": self.gamma, "heterogeneous": self.heterogeneous,
                "speedup": self.speedup, "speedup_ci95": self.ci95, "mapping": self.label}


@dataclass
class PartitionChoice:
    """A variant's best partitioned mapping by Eq. 1 (gamma 0: the target alone on the mapping's target placement,
    when speculating does not pay there), and its simulated speedup against the variant's baseline."""

    mapping: MappingResult
    gamma: int
    speedup_eq1: float
    speedup_simulated: float | None = None
    ci95: Interval | None = None

    @property
    def label(self) -> str:
        m = self.mapping
        return decision_label(m.draft_device if self.gamma else None, m.target_device)

    def to_json(self) -> dict:
        return {"mapping": self.label, "gamma": self.gamma, "speedup_eq1": self.speedup_eq1,
                "speedup_simulated": self.speedup_simulated, "speedup_simulated_ci95": self.ci95}


@dataclass
class Variant:
    cluster: str
    cores: int
    mappings: list[MappingResult]
    partitions: list[MappingResult] = field(default_factory=list)   # mappings with a partitioned model
    skipped: list[tuple[str, str]] = field(default_factory=list)     # partitions left out: (what, why)
    best_partition: dict[str, PartitionChoice] = field(default_factory=dict)   # "speculative", "plain"

    def best_plain(self, which: str) -> tuple[str, float]:
        """The whole-model mapping's best target alone: (its placement, its speedup against the baseline)."""
        return first_best(((m.target_device, 1.0 / m.r if which == "eq1" else m.alone_simulated)
                           for m in self.mappings), (self.mappings[0].target_device, 1.0))

    def decision(self, which: str) -> Decision:
        """The variant's choice: the best mapping and gamma, or no speculation (the target alone: on the
        variant's cores, or on another PU if that alone is faster)."""
        mapping, gamma, speedup = first_best(((m, *m.best(which)) for m in self.mappings), (None, 0, 1.0))
        if which == "eq1":
            return Decision(speedup, gamma, mapping)
        return Decision(speedup, gamma, mapping, (1.0, 1.0) if mapping is None else mapping.ci95_at(gamma))

    def to_json(self, simulated: bool) -> dict:
        eq = self.decision("eq1")
        out = {"cluster": self.cluster, "cores": self.cores, "speculate": eq.speculate, "gamma": eq.gamma,
               "heterogeneous": eq.heterogeneous, "speedup_eq1": eq.speedup, "mapping": eq.label}
        if simulated:
            out["speedup_simulated"] = 1.0 if eq.mapping is None else eq.mapping.simulated_at(eq.gamma)
            out["speedup_simulated_ci95"] = (1.0, 1.0) if eq.mapping is None else eq.mapping.ci95_at(eq.gamma)
            out["simulated_decision"] = self.decision("simulated").to_json()
        if self.best_partition:
            out["best_partition"] = {k: v.to_json() for k, v in self.best_partition.items()}
            out["partitions_skipped"] = [{"partition": what, "why": why} for what, why in self.skipped]
        return out


@dataclass
class ExploreResult:
    spec: ExploreSpec
    variants: list[Variant]

    def to_json(self) -> dict:
        spec = self.spec
        return {"soc": spec.soc.name, "calibration": spec.soc.calibration or "none", "alpha": spec.alpha,
                "seq_len": spec.seq_len, "simulated": spec.simulate, "samples": len(spec.scenario.workload.samples),
                "variants": [v.to_json(spec.simulate) for v in self.variants],
                "mappings": [m.to_json() for v in self.variants for m in v.mappings + v.partitions]}


def csv_rows(result: ExploreResult) -> list[dict]:
    """One row per mapping and gamma (gamma 0: the target alone on the mapping's target placement, against the
    variant's baseline): `specsoc explore --csv`."""
    rows = []
    for m in (m for v in result.variants for m in v.mappings + v.partitions):
        head = {"soc": result.spec.soc.name, "alpha": result.spec.alpha, "cluster": m.cluster, "cores": m.cores,
                "draft_device": m.draft_device, "target_device": m.target_device, "c": m.c, "target_time_ratio": m.r}
        for gamma in (0, *m.speedup_eq1):
            row = {**head, "gamma": gamma, "speedup_eq1": 1.0 / m.r if gamma == 0 else m.speedup_eq1[gamma]}
            if m.speedup_simulated:
                row.update(speedup_simulated=m.simulated_at(gamma), speedup_simulated_ci95=m.ci95_at(gamma))
            rows.append(row)
    return rows


def variant_placements(soc: SoC) -> list[tuple[str, int, list[Placement]]]:
    """(cluster, k, the PUs a model may go to: k cores of the cluster, then each GPU) for every variant."""
    gpus = [Placement(pu, (0,)) for pu in soc.pus if pu.kind == "gpu"]
    out = []
    for pu in soc.pus:
        if pu.kind == "cpu":
            for k in range(1, pu.units + 1):
                out.append((pu.name, k, [Placement(pu, tuple(range(k))), *gpus]))
    return out


def pass_seconds(planner: Planner, run: ModelRun, placement: Placement | Partition, seq_len: int,
                 kv_cache: bool = False) -> float:
    """One forward pass alone on the SoC: seq_len positions without a KV cache (or one token after them with). A
    partitioned pass is a DAG: simulated alone (once per plan)."""
    shape = PassShape(1, seq_len - 1, kv_cache)
    plan = planner.plan(run.spec, run.precision, shape, placement)
    return alone_seconds(planner.soc, plan) if isinstance(plan, DagPlan) else plan.alone_s


def _model_run(run: ModelRun, placement: Placement | Partition) -> ModelRun:
    if isinstance(placement, Partition):
        return ModelRun(run.spec, run.precision, placement, placement.label)
    return ModelRun(run.spec, run.precision, DeviceRequest(placement.pu, len(placement.cores), placement.cores[0]),
                    placement.label)


def explore(spec: ExploreSpec, progress: Progress = no_progress, jobs: int = 1) -> ExploreResult:
    """Every variant's mappings, in closed form and (spec.simulate) simulated. Each distinct simulation runs once
    (a mapping with both models on the GPU is the same in every variant); the simulations are deterministic and
    independent, grouped in tasks (`_groups`) that run in this process, or with jobs > 1 in a pool of that many
    processes: the results are the same either way."""
    todo = variant_placements(spec.soc)
    planner = Planner(spec.soc, spec.granularity)     # Eq. 1's side first: it also fills the memoised model
    variants = [Variant(cluster, k, [_mapping(spec, planner, cluster, k, places[0], d, t)   # layouts a pool's
                                     for d in places for t in places])                      # workers inherit
                for cluster, k, places in todo]
    chosen = _explore_partitions(spec, planner, variants, todo) if spec.partitions else []
    groups = _groups(spec, todo) + _partition_groups(chosen) if spec.simulate else []
    runs: dict[tuple, DecodingResults] = {}
    for done, (_index, group_runs) in enumerate(as_finished(_run_group, groups, jobs, _state, (spec,)), 1):
        runs.update(group_runs)
        progress("simulation groups", done, len(groups))
    if runs:
        for variant, (_cluster, _k, places) in zip(variants, todo):
            for m, (d, t) in zip(variant.mappings, ((d, t) for d in places for t in places)):
                _simulated(spec, m, places[0], d, t, runs)
        for variant, base, kind, choice, (d, t) in chosen:
            baseline = runs[_key((None, base, 0))]
            run = runs[_key((d if choice.gamma else None, t, choice.gamma))]
            choice.speedup_simulated, choice.ci95 = speedup_over(baseline, run)
    return ExploreResult(spec, variants)


def _explore_partitions(spec: ExploreSpec, planner: Planner, variants: list[Variant], todo: list) -> list[tuple]:
    """Each variant's partitioned mappings by Eq. 1 (every drafter with every target, one of them partitioned), and
    its best one with a drafter (speculating, or not where that does not pay) and without (the target alone):
    (variant, its base placement, "speculative" or "plain", the choice, its (drafter, target) placements), the runs
    to simulate."""
    chosen = []
    for variant, (_cluster, k, places) in zip(variants, todo):
        found = candidates(spec.soc, places[0], spec.target, spec.draft, spec.granularity)
        variant.skipped = list(found.skipped)
        drafts, targets = list(places) + list(found.draft), list(places) + list(found.target)
        pairs = [(d, t) for d in drafts for t in targets if isinstance(d, Partition) or isinstance(t, Partition)]
        variant.partitions = [_mapping(spec, planner, variant.cluster, k, places[0], d, t) for d, t in pairs]
        if not pairs:
            continue
        speculative = first_best(((m, pair, *m.best("eq1")) for m, pair in zip(variant.partitions, pairs)),
                                 (None, None, 0, 0.0))
        plain = first_best(((m, pair, 0, 1.0 / m.r) for m, pair in zip(variant.partitions, pairs)
                            if isinstance(pair[1], Partition)), (None, None, 0, 0.0))
        for kind, (m, pair, gamma, speedup) in (("speculative", speculative), ("plain", plain)):
            if m is not None:
                variant.best_partition[kind] = choice = PartitionChoice(m, gamma, speedup)
                chosen.append((variant, places[0], kind, choice, pair))
    return chosen


def _partition_groups(chosen: list[tuple]) -> list[list[Run]]:
    """The runs of the chosen partitions: the target alone on its placement, and the mapping at its gamma."""
    groups = []
    for _variant, _base, _kind, choice, (d, t) in chosen:
        groups.append([(None, t, 0)] + ([(d, t, choice.gamma)] if choice.gamma else []))
    return groups


Run = tuple   # (drafter placement or None for the target alone, target placement, gamma); keyed by labels


def _key(run: Run) -> tuple:
    draft, target, gamma = run
    return (draft.label if draft else None, target.label, gamma)


def _groups(spec: ExploreSpec, todo: list) -> list[list[Run]]:
    """Every distinct simulation once, in tasks by target placement (first those on the GPUs alone, shared by
    every variant, then each variant's own), largest first so that a pool's last tasks are short. The runs of
    a task share placements: a process plans their passes once."""
    seen, groups = set(), []
    shared = [p for p in todo[0][2] if p.pu.kind != "cpu"] if todo else []
    for places in [shared] + [places for _c, _k, places in todo]:
        for t in places:
            group = [(None, t, 0), *((d, t, g) for d in places for g in spec.gamma_values)]
            group = [r for r in group if _key(r) not in seen]
            seen.update(map(_key, group))
            if group:
                groups.append(group)
    return sorted(groups, key=len, reverse=True)


def _state(spec: ExploreSpec) -> dict:
    """What the simulations need: the spec and a planner whose memoised plans every simulation of a process reuses."""
    return {"spec": spec, "planner": Planner(spec.soc, spec.granularity)}


def _run_group(state: dict, group: list[Run]) -> dict[tuple, DecodingResults]:
    """Each run's results by its key: the target alone on a placement (gamma 0), or one mapping at one gamma (its
    own times only: the speedup pairs it with the variant's baseline afterwards)."""
    spec, planner = state["spec"], state["planner"]
    runs = {}
    for run in group:
        draft, target, gamma = run
        if draft is None:
            sc = Scenario(spec.soc, _model_run(spec.target, target), spec.scenario.workload, False, spec.granularity)
            runs[_key(run)] = run_baseline(sc, planner)
        else:
            sc = Scenario(spec.soc, _model_run(spec.target, target), spec.scenario.workload, False, spec.granularity,
                          Speculation(_model_run(spec.draft, draft), gamma), Effects())
            runs[_key(run)] = run_speculative(sc, None, planner)
    return runs


def _mapping(spec: ExploreSpec, planner: Planner, cluster: str, k: int, base_place: Placement, d_place: Placement,
             t_place: Placement) -> MappingResult:
    """One mapping by Eq. 1: c at S_L, and the speedup at every gamma against the variant's baseline."""
    t_base = pass_seconds(planner, spec.target, base_place, spec.seq_len)
    t_t = pass_seconds(planner, spec.target, t_place, spec.seq_len)
    c = pass_seconds(planner, spec.draft, d_place, spec.seq_len) / t_t
    r = t_t / t_base
    return MappingResult(cluster, k, d_place.label, t_place.label, c, r,
                         {g: eq1(spec.alpha, g, c) / r for g in spec.gamma_values})


def _simulated(spec: ExploreSpec, m: MappingResult, base_place: Placement, d_place: Placement, t_place: Placement,
               runs: dict[tuple, DecodingResults]) -> None:
    """A mapping's simulated speedups against the variant's baseline (the target alone on the variant's cores,
    over the same samples), from the runs."""
    baseline = runs[_key((None, base_place, 0))]
    m.alone_simulated, m.alone_ci95 = speedup_over(baseline, runs[_key((None, t_place, 0))])
    for gamma in spec.gamma_values:
        run = runs[_key((d_place, t_place, gamma))]
        m.speedup_simulated[gamma], m.ci95_simulated[gamma] = speedup_over(baseline, run)


def c_vs_seq_len(soc: SoC, target: ModelRun, draft: ModelRun, seq_lens: list[int], cores: list[int] | None = None
                 ) -> list[dict]:
    """Fig. 6: c for each mapping (drafter and target on the k cores of the first cluster or a GPU) against S_L."""
    planner = Planner(soc, "model")
    first = soc.first("cpu").name
    rows = []
    for cluster, k, places in variant_placements(soc):
        if cluster != first or (cores and k not in cores):
            continue
        for d_place in places:
            for t_place in places:
                cs = [pass_seconds(planner, draft, d_place, n) / pass_seconds(planner, target, t_place, n)
                      for n in seq_lens]
                rows.append({"cluster": cluster, "cores": k, "draft_device": d_place.label,
                             "target_device": t_place.label, "c": dict(zip(seq_lens, cs))})
    return rows


# ------------------------------------------------------------------------------------ the JSON, read back

_MAPPING_KEYS = {"cluster": str, "cores": int, "draft_device": str, "target_device": str, "c": float,
                 "best_gamma": int, "speedup_eq1": float}
WRONG = "not a `specsoc explore --json` file"


def read_explore(path: str) -> dict:
    """A `specsoc explore --json` document, checked enough to plot."""
    doc = read_json(path, "specsoc explore --json")
    if not isinstance(doc, dict) or not isinstance(doc.get("mappings"), list) or not isinstance(doc.get("variants"), list):
        raise InputError(path, f"{WRONG} (it needs 'variants' and 'mappings' lists)")
    if not doc["mappings"]:
        raise InputError(path, f"{WRONG}: 'mappings' is empty")
    for i, m in enumerate(doc["mappings"]):
        if not isinstance(m, dict):
            raise InputError(path, f"{WRONG}: mapping {i} is not an object")
        for key, kind in _MAPPING_KEYS.items():
            value = m.get(key)
            ok = isinstance(value, str) if kind is str else is_number(value)
            if not ok:
                raise InputError(path, f"{WRONG}: mapping {i} has no valid {key!r}")
        for key in ("speedup_eq1_by_gamma", "speedup_simulated_by_gamma"):
            table = m.get(key)
            if table is not None and (not isinstance(table, dict) or not table
                                      or not all(k.isdigit() and is_number(v) for k, v in table.items())):
                raise InputError(path, f"{WRONG}: mapping {i} has an invalid {key!r}")
    for i, v in enumerate(doc["variants"]):
        if not isinstance(v, dict) or not isinstance(v.get("cluster"), str) or not is_number(v.get("cores")):
            raise InputError(path, f"{WRONG}: variant {i} has no valid 'cluster' and 'cores'")
    return doc
