"""The paper's design-space exploration, by Eq. 1 and by full simulation side by side.

A design variant is k cores available on one CPU cluster (1..n), plus the SoC's GPUs. A mapping places the
drafter and the target, whole, each on one processing unit of the variant (the k cores, or a GPU): the
paper's v x N^m space, 24 mappings on the i.MX 95. For each mapping, c = t(drafter pass) / t(target pass)
comes from simulated single passes at the sequence length S_L (no KV cache, as in the paper), and Eq. 1
picks gamma in 0..gamma_max. As in the paper, the baseline of every speedup in a variant is the target alone
on the variant's k CPU cores; a mapping that puts the target elsewhere pays t(target there) / t(baseline) on
top (r below): S = Eq.1(alpha, gamma, c) / r. Full simulation runs every (mapping, gamma) over the workload
(sequential, the paper's mode, every effect on) against the simulated baseline of the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.analysis.analytic import eq1
from simulator.llm.costs import Planner
from simulator.llm.graph import PassShape
from simulator.hw.placement import DeviceRequest, Placement
from simulator.run.scenario import Effects, ModelRun, Scenario, Speculation, Workload
from simulator.run.simulate import Progress, _no_progress, run_baseline, run_speculative
from simulator.hw.soc import SoC


@dataclass(frozen=True)
class ExploreSpec:
    soc: SoC
    target: ModelRun            # the device fields are ignored: explore places the models itself
    draft: ModelRun
    workload: Workload          # samples for the simulation; its alpha feeds Eq. 1
    alpha: float
    seq_len: int = 63
    gamma_max: int = 8
    simulate: bool = True
    granularity: str = "model"  # sequential runs have nothing in parallel: every granularity gives one total


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
    alone_simulated: float = 1.0    # the target alone on this mapping's placement, against the variant's baseline

    @property
    def heterogeneous(self) -> bool:
        return self.draft_device != self.target_device

    def best(self, which: str) -> tuple[int, float]:
        """Best gamma and its speedup against the variant's baseline, by "eq1" or "simulated"; gamma 0 is the
        target alone, not speculating, on this mapping's placement (1 / r by Eq. 1), so that moving the target
        is never credited to speculation."""
        table = self.speedup_eq1 if which == "eq1" else self.speedup_simulated
        best = (0, 1.0 / self.r if which == "eq1" else self.alone_simulated)
        for gamma, s in sorted(table.items()):
            if s > best[1] + 1e-12:
                best = (gamma, s)
        return best

    def to_json(self) -> dict:
        g_eq1, s_eq1 = self.best("eq1")
        out = {"cluster": self.cluster, "cores": self.cores, "draft_device": self.draft_device,
               "target_device": self.target_device, "c": self.c, "target_time_ratio": self.r,
               "best_gamma": g_eq1, "speedup_eq1": s_eq1,
               "speedup_eq1_by_gamma": {str(g): s for g, s in self.speedup_eq1.items()}}
        if self.speedup_simulated:
            g_sim, s_sim = self.best("simulated")
            out.update(best_gamma_simulated=g_sim, speedup_simulated=s_sim,
                       speedup_simulated_by_gamma={str(g): s for g, s in self.speedup_simulated.items()})
        return out


@dataclass
class Variant:
    cluster: str
    cores: int
    mappings: list[MappingResult]

    def decision(self, which: str) -> dict:
        """The variant's choice: the best mapping and gamma, or no speculation (the target alone: on the
        variant's cores, or on another PU if that alone is faster)."""
        best_map, best_gamma, best = None, 0, 1.0
        for m in self.mappings:
            gamma, s = m.best(which)
            if s > best + 1e-12:
                best_map, best_gamma, best = m, gamma, s
        if best_map is None:
            return {"speculate": False, "gamma": 0, "heterogeneous": False, "speedup": 1.0, "mapping": None}
        if best_gamma == 0:
            return {"speculate": False, "gamma": 0, "heterogeneous": False, "speedup": best,
                    "mapping": f"target {best_map.target_device} alone"}
        return {"speculate": True, "gamma": best_gamma, "heterogeneous": best_map.heterogeneous, "speedup": best,
                "mapping": f"draft {best_map.draft_device}, target {best_map.target_device}"}

    def to_json(self, simulated: bool) -> dict:
        eq = self.decision("eq1")
        out = {"cluster": self.cluster, "cores": self.cores, "speculate": eq["speculate"], "gamma": eq["gamma"],
               "heterogeneous": eq["heterogeneous"], "speedup_eq1": eq["speedup"], "mapping": eq["mapping"]}
        if simulated:
            chosen = next((m for m in self.mappings if eq["mapping"] in
                           (f"draft {m.draft_device}, target {m.target_device}", f"target {m.target_device} alone")),
                          None)
            out["speedup_simulated"] = (1.0 if chosen is None else chosen.alone_simulated if eq["gamma"] == 0
                                        else chosen.speedup_simulated[eq["gamma"]])
            out["simulated_decision"] = self.decision("simulated")
        return out


def variant_placements(soc: SoC) -> list[tuple[str, int, list[Placement]]]:
    """(cluster, k, the PUs a model may go to: k cores of the cluster, then each GPU) for every variant."""
    gpus = [Placement(pu, (0,)) for pu in soc.pus if pu.kind == "gpu"]
    out = []
    for pu in soc.pus:
        if pu.kind == "cpu":
            for k in range(1, pu.units + 1):
                out.append((pu.name, k, [Placement(pu, tuple(range(k))), *gpus]))
    return out


def pass_seconds(planner: Planner, run: ModelRun, placement: Placement, seq_len: int, kv_cache: bool = False) -> float:
    """One forward pass alone on the SoC: seq_len positions without a KV cache (or one token after them with)."""
    shape = PassShape(1, seq_len - 1, kv_cache)
    return planner.plan(run.spec, run.precision, shape, placement).alone_s


def _model_run(run: ModelRun, placement: Placement) -> ModelRun:
    return ModelRun(run.spec, run.precision, DeviceRequest(placement.pu, len(placement.cores), placement.cores[0]),
                    placement.label)


def explore(spec: ExploreSpec, progress: Progress = _no_progress) -> list[Variant]:
    planner = Planner(spec.soc, spec.granularity)
    variants = []
    todo = variant_placements(spec.soc)
    for index, (cluster, k, places) in enumerate(todo):
        base_place = places[0]
        t_base = pass_seconds(planner, spec.target, base_place, spec.seq_len)
        baseline, alone = None, {}
        if spec.simulate:
            for place in places:   # the target alone on each PU of the variant; the first is the baseline
                sc = Scenario(spec.soc, _model_run(spec.target, place), spec.workload, False, spec.granularity)
                alone[place.label] = run_baseline(sc, planner)["total_time_s"]
            base_sc = Scenario(spec.soc, _model_run(spec.target, base_place), spec.workload, False, spec.granularity)
            baseline = run_baseline(base_sc, planner)
        mappings = []
        for d_place in places:
            for t_place in places:
                t_t = pass_seconds(planner, spec.target, t_place, spec.seq_len)
                c = pass_seconds(planner, spec.draft, d_place, spec.seq_len) / t_t
                r = t_t / t_base
                m = MappingResult(cluster, k, d_place.label, t_place.label, c, r,
                                  {g: eq1(spec.alpha, g, c) / r for g in range(1, spec.gamma_max + 1)})
                if baseline is not None:
                    m.alone_simulated = alone[base_place.label] / alone[t_place.label]
                    for gamma in range(1, spec.gamma_max + 1):
                        sc = Scenario(spec.soc, _model_run(spec.target, t_place), spec.workload, False,
                                      spec.granularity, Speculation(_model_run(spec.draft, d_place), gamma),
                                      Effects())
                        res = run_speculative(sc, baseline, planner)
                        m.speedup_simulated[gamma] = res["speedup"]
                mappings.append(m)
        variants.append(Variant(cluster, k, mappings))
        progress("variants", index + 1, len(todo))
    return variants


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
