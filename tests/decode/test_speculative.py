"""Speculative decoding: pass shapes by hand, the closed form where its assumptions hold, overlap physics."""

from __future__ import annotations

import pytest

from simulator.hw.placement import parse_device
from simulator.hw.socfile import load_soc
from simulator.llm.planner import Planner
from simulator.llm.graph import PassShape
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model
from simulator.run.scenario import Effects, ModelRun, Scenario, Speculation, Workload
from simulator.run.simulate import simulate
from simulator.traces.synth import Iid, Lengths, generate
from simulator.traces.trace import Trace, TraceSample
from tests.support import TINY, hand_soc

EQ1_WORLD = Effects(dram_contention=False, overheads=False, verify_grows=False, sequence_growth=False)


def eq1(alpha: float, gamma: int, c: float) -> float:
    """Leviathan et al.'s Eq. 1, as in reference/paper.md."""
    return (1 - alpha ** (gamma + 1)) / ((1 - alpha) * (gamma * c + 1))


def run(soc, target, draft, trace, *, t_dev, d_dev, gamma, mode="sequential", kv=True, gran="model",
        effects=Effects(), t_dtype="int8", d_dtype="fp16"):
    t = ModelRun(target, Precision.resolve(t_dtype), parse_device(soc, t_dev), t_dev)
    d = ModelRun(draft, Precision.resolve(d_dtype), parse_device(soc, d_dev, "--draft-device"), d_dev)
    sc = Scenario(soc, t, Workload(trace, trace.samples, 0), kv, gran, Speculation(d, gamma, mode), effects)
    return sc, simulate(sc)


def iid(alpha, samples, prompt, output, seed=1):
    return generate(Iid(alpha=alpha), samples, Lengths(prompt, 0, output, 0), seed)


def test_pass_shapes_and_accepted_lengths_by_hand(monkeypatch):
    # prompt 5, output 7, agreement 1011011, gamma 2, KV cache, sequential. Worked out by hand:
    #  round 0: drafter feeds the prompt (5 new, 0 past), then draft 0 (1, 5); the target verifies the prompt and
    #           2 drafts (7 new, 0 past, 3 logits); positions 0,1 = 1,0: n = 1, 2 tokens emitted.
    #  round 1: drafter rolled back to 6 fed: feeds the correction (1, 6), then a draft (1, 7); verify (3, 6, 3);
    #           positions 2,3 = 1,1: n = 2 (gamma), 3 tokens.
    #  round 2: one token left after this round's drafts: g = 1; the drafter feeds its unfed last draft and the
    #           bonus token (2, 8); verify (2, 9, 2); position 5 = 1: n = 1, 2 tokens; 7 emitted in all.
    shapes = []
    real_plan = Planner.plan

    def spy(self, model, precision, shape, placement):
        shapes.append(("draft" if placement.pu.name == "g" else "target", shape))
        return real_plan(self, model, precision, shape, placement)

    monkeypatch.setattr(Planner, "plan", spy)
    soc = hand_soc()
    trace = Trace({"specsoc_trace": 1, "record": "agreement"}, (TraceSample(5, 7, agreement=(1, 0, 1, 1, 0, 1, 1)),))
    _, res = run(soc, TINY, TINY, trace, t_dev="c:1", d_dev="g", gamma=2, t_dtype="fp16")
    spec = [s for s in shapes[len(shapes) - 8:]]  # the baseline ran first: its 7 passes precede these
    assert spec == [
        ("draft", PassShape(5, 0, True)), ("draft", PassShape(1, 5, True)), ("target", PassShape(7, 0, True, 3)),
        ("draft", PassShape(1, 6, True)), ("draft", PassShape(1, 7, True)), ("target", PassShape(3, 6, True, 3)),
        ("draft", PassShape(2, 8, True)), ("target", PassShape(2, 9, True, 2)),
    ]
    assert (res.rounds, res.drafts_proposed, res.drafts_accepted) == (3, 5, 4)
    assert res.tokens_generated == 7 and res.baseline.tokens_generated == 7


@pytest.mark.parametrize("alpha,gamma", [(0.6, 3), (0.9, 5)])
def test_sequential_speedup_equals_eq1_when_its_assumptions_hold(alpha, gamma):
    """No contention, no overheads, the verify pass costed as one plain target pass, every pass at S_L."""
    soc = load_soc("imx95")
    target, draft = load_model("qwen2.5-1.5b"), load_model("qwen2.5-0.5b")
    # ~20,000 rounds: tokens per round has sd ~1.7 at alpha 0.9, so its standard error is ~0.25%, 1% is 4 sigma
    trace = iid(alpha, 16, 63, 6000)
    sc, res = run(soc, target, draft, trace, t_dev="cpu:4", d_dev="gpu", gamma=gamma, effects=EQ1_WORLD)
    planner = Planner(soc.without_overheads(), "model")
    t_place, d_place = sc.placements()
    reference = PassShape(1, 62, True)  # the one-token pass after a 63-token prompt: what c is profiled on
    c = (planner.plan(draft, sc.speculation.draft.precision, reference, d_place).alone_s
         / planner.plan(target, sc.target.precision, reference, t_place).alone_s)
    assert res.rounds >= 19000
    assert res.speedup == pytest.approx(eq1(alpha, gamma, c), rel=0.01)
    # and exactly, with the realised rounds: N target passes against sum over rounds of (g c + 1)
    rounds_cost = res.drafts_proposed * c + res.rounds
    assert res.speedup == pytest.approx(res.tokens_generated / rounds_cost, rel=1e-9)


@pytest.mark.parametrize("alpha", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("gamma", [1, 3, 5])
def test_mean_tokens_per_round_matches_the_iid_closed_form(alpha, gamma):
    soc = hand_soc()
    expected = (1 - alpha ** (gamma + 1)) / (1 - alpha)
    trace = iid(alpha, 2, 4, int(2100 * expected), seed=7)
    _, res = run(soc, TINY, TINY, trace, t_dev="c:1", d_dev="g", gamma=gamma, t_dtype="fp16", effects=EQ1_WORLD)
    assert res.rounds >= 2000
    assert res.tokens_per_round == pytest.approx(expected, rel=0.02)


def _overlap_pair(t_dev, d_dev, alpha, gamma, kv=True):
    soc = load_soc("imx95")
    target, draft = load_model("qwen2.5-1.5b"), load_model("qwen2.5-0.5b")
    trace = iid(alpha, 2, 32, 48, seed=3)
    kw = dict(t_dev=t_dev, d_dev=d_dev, gamma=gamma, kv=kv, gran="layer")
    return (run(soc, target, draft, trace, mode="sequential", **kw)[1],
            run(soc, target, draft, trace, mode="overlap", **kw)[1])


def test_overlap_on_separate_pus_is_faster_and_contends_for_dram():
    # The target's verify on four A55 cores (compute-bound at 5 int8 tokens: ~10.6 GB/s) and the drafter on the
    # Mali (memory-bound: its 12 GB/s cap) ask for more than DRAM's usable 17.92 GB/s. (On two cores the verify
    # asks only ~5.5 GB/s and the two fit: no contention, which is right.)
    seq, ovl = _overlap_pair("cpu:4", "gpu", alpha=0.9, gamma=4)
    assert ovl.total_time_s < seq.total_time_s
    assert ovl.speedup > seq.speedup
    assert ovl.dram_contention_s > 0
    assert seq.dram_contention_s == 0   # sequential: never two passes at once
    assert (ovl.rounds, ovl.drafts_accepted) == (seq.rounds, seq.drafts_accepted)


@pytest.mark.parametrize("t_dev,d_dev", [("cpu:2", "cpu:2"), ("cpu:1", "cpu:2"), ("gpu", "gpu")])
@pytest.mark.parametrize("alpha,gamma", [(0.5, 2), (0.9, 5)])
def test_overlap_on_shared_cores_or_gpu_is_never_faster(t_dev, d_dev, alpha, gamma):
    seq, ovl = _overlap_pair(t_dev, d_dev, alpha, gamma, kv=(t_dev != "gpu"))
    assert ovl.total_time_s >= seq.total_time_s * (1 - 1e-9)


@pytest.mark.parametrize("calibration", [False, True], ids=["calibrated", "spec-only"])
def test_default_scenario_predicts_a_speedup_between_1_3_and_2_0(calibration):
    """`specsoc run` with no arguments: the paper's validated mapping (measured there: 1.68x at alpha 0.94),
    calibrated on the paper's one-core c values (the default) or from spec-derived parameters only.
    With nothing in parallel, model granularity gives the op-level total (tests/decode/test_autoregressive.py)."""
    from simulator.run.builder import ScenarioSpec
    result = simulate(ScenarioSpec(granularity="model", calibrated=not calibration).build())
    assert 1.3 <= result.speedup <= 2.0, result.speedup


def _spec_run(soc, trace, *, t_dev, d_dev, gamma, mode, gran="model", effects=Effects()):
    """Run only the speculative loop; return (engine, SpecLog)."""
    import numpy as np

    from simulator.decode.runtime import Job, Runtime
    from simulator.decode.speculative import Speculative
    from simulator.engine.engine import Engine
    from simulator.traces.replay import Replay
    sc, _ = run(soc, TINY, TINY, trace, t_dev=t_dev, d_dev=d_dev, gamma=gamma, mode=mode, gran=gran,
                effects=effects, t_dtype="fp16")
    t_place, d_place = sc.placements()
    rt = Runtime(Engine(soc, effects.dram_contention), Planner(soc, gran), sc.host_placement(), sc.shaping())
    draft, target = sc.speculation.draft, sc.target
    loop = Speculative(rt, Job(draft.spec, draft.precision, d_place, "draft"),
                       Job(target.spec, target.precision, t_place, "target"), gamma, mode == "overlap")

    def body():
        for i, s in enumerate(trace.samples):
            replay = Replay.of(s, trace.gamma, 0.5, np.random.default_rng(i))
            yield from loop.decode(i, s.prompt_tokens, s.output_tokens, replay)
    rt.engine.run(body())
    return rt.engine, loop.log


@pytest.mark.parametrize("gamma", [2, 6])
@pytest.mark.parametrize("mode", ["sequential", "overlap"])
def test_decoding_loop_accepts_what_the_trace_replay_says(gamma, mode):
    # 1101111100111 (tests/traces/test_trace.py works these out by hand: 2,2,2,0,2 at gamma 2 and 2,5,0,2 at gamma 6)
    bits = tuple(int(b) for b in "1101111100111")
    trace = Trace({"specsoc_trace": 1, "record": "agreement"}, (TraceSample(4, len(bits), agreement=bits),))
    from simulator.traces.replay import Replay
    expected = Replay.of(trace.samples[0], None, 0.5, None).rounds(gamma)
    assert expected == {2: [2, 2, 2, 0, 2], 6: [2, 5, 0, 2]}[gamma]
    _, log = _spec_run(hand_soc(), trace, t_dev="c:1", d_dev="g", gamma=gamma, mode=mode)
    assert [r.accepted for r in log.rounds] == expected


def test_overlap_is_never_slower_when_every_draft_is_accepted():
    # alpha = 1 on separate PUs without contention: every pre-draft is kept, so overlap can only gain.
    soc = hand_soc(gpu={"clock_ghz": 0.2})
    bits = (1,) * 8
    trace = Trace({"specsoc_trace": 1, "record": "agreement"}, (TraceSample(5, 8, agreement=bits),) * 3)
    totals = {}
    for mode in ("sequential", "overlap"):
        engine, log = _spec_run(soc, trace, t_dev="c:2", d_dev="g", gamma=2, mode=mode,
                                effects=Effects(dram_contention=False))
        totals[mode] = engine.env.now
        assert not log.discarded_passes
    assert totals["overlap"] < totals["sequential"]


def test_a_rejected_predraft_never_starts_after_the_verdict():
    # Both on one core: a pre-draft queued behind the verify must give up once the verify rejects.
    soc = hand_soc()
    bits = tuple(int(b) for b in "1101100111011010011101")
    trace = Trace({"specsoc_trace": 1, "record": "agreement"}, (TraceSample(5, len(bits), agreement=bits),))
    engine, log = _spec_run(soc, trace, t_dev="c:1", d_dev="c:1", gamma=3, mode="overlap")
    assert log.discarded_passes
    verify_end = {e.pass_label.split(".")[2]: e.end_s for e in engine.log.ops if e.pass_label.endswith(".verify")}
    for e in engine.log.ops:
        if e.pass_label in log.discarded_passes:
            assert e.start_s < verify_end[e.pass_label.split(".")[2]], e.pass_label
