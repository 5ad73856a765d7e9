"""Partitioned placements: equal to the unpartitioned pass on one PU, the sum of the parts and handoffs alone,
matmul splits costed share by share, NPU fallback and formats; bad partitions refused in one line."""

from __future__ import annotations

import pytest

from simulator.common.errors import InputError
from simulator.engine.engine import Engine
from simulator.hw.placement import parse_device, place
from simulator.hw.socfile import load_soc
from simulator.llm.graph import PassShape, template_ops
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model
from simulator.llm.partition import parse_partition
from simulator.llm.partitioned import PartitionedForm, _scaled
from simulator.run.builder import ScenarioSpec
from simulator.run.scenario import Effects
from simulator.run.simulate import simulate


def alone_s(soc, plan) -> float:
    """A pass alone on a fresh engine (its nodes through simpy, no replay)."""
    engine = Engine(soc, fast_paths=False)
    engine.run(engine.run_pass(plan, "p"))
    return engine.env.now


def form(soc, text, model="llama-3.2-1b", weights="fp16", granularity="op"):
    return PartitionedForm(load_model(model), Precision.resolve(weights), False, 1,
                           parse_partition(soc, text, "--target-device"), soc, granularity)


# ------------------------------------------------------------------------ one PU: the unpartitioned pass exactly

@pytest.mark.parametrize("granularity", ["op", "layer", "model"])
@pytest.mark.parametrize("kv_cache,mode", [(False, "sequential"), (True, "sequential"), (True, "overlap")])
def test_a_partition_on_one_pu_equals_the_unpartitioned_run(granularity, kv_cache, mode):
    """Rules that all name the target's own cores (and the drafter's GPU) run the pass as a DAG, node by node:
    every time equals the plain run's to 1e-9, baseline included."""
    base = dict(new_tokens=5, prompt_tokens=17, granularity=granularity, kv_cache=kv_cache, samples=2, mode=mode,
                target_device="cpu:2", alpha=0.7)
    plain = simulate(ScenarioSpec(**base).build())
    parted = simulate(ScenarioSpec(**{**base, "target_device": "cpu:2,L0-13=cpu:2,matmul=cpu:2",
                                      "draft_device": "gpu,head=gpu"}).build())
    assert parted.total_time_s == pytest.approx(plain.total_time_s, rel=1e-9)
    assert parted.baseline.total_time_s == pytest.approx(plain.baseline.total_time_s, rel=1e-9)
    assert parted.ttft_s == pytest.approx(plain.ttft_s, rel=1e-9)


# ----------------------------------------------------------------- two PUs, nothing beside: the parts by hand

def roofline_s(op, placement, soc) -> float:
    """One op alone, by hand: its PU's overhead, then the longer of its compute and its bytes at the bandwidth
    it may pull (its PU's cap for its cores, under the DRAM's usable bandwidth)."""
    compute = op.flops / placement.flop_rate(op.dtype, op.op_class, op.weight_format) if op.flops else 0.0
    stream = op.bytes / min(placement.bandwidth_cap_B_s, soc.dram.usable_B_s)
    return placement.pu.overhead_s + max(compute, stream)


@pytest.mark.parametrize("granularity", ["op", "layer"])
def test_a_two_pu_layer_split_alone_is_its_parts_plus_two_handoffs(granularity):
    """Llama 3.2 1B fp16, layers 0-7 on the Mali and the rest (embedding, layers 8-15, head) on 4 A55 cores, one
    decode pass: every op's roofline on its PU, summed, plus one handoff into the GPU and one out (100 us each,
    shared memory): nothing overlaps, so that is the pass."""
    soc = load_soc("imx95")
    model = load_model("llama-3.2-1b")
    shape = PassShape(1, 40, False)
    plan = form(soc, "cpu:4,L0-7=gpu", granularity=granularity).plan(shape)
    cpu4, gpu = (place([parse_device(soc, d)])[0] for d in ("cpu:4", "gpu"))
    ops = template_ops(model, Precision.resolve("fp16"), shape)
    expected = 0.0
    for name, kind in [("embedding", "embedding")] + [(f"L{i}", k) for i in range(16) for k in (
            "attn_norm", "q_proj", "k_proj", "v_proj", "rotary", "attn_scores", "softmax", "attn_values", "o_proj",
            "attn_residual", "mlp_norm", "gate", "up", "act_mul", "down", "mlp_residual")] + [
            (k, k) for k in ("final_norm", "lm_head", "sample")]:
        on = gpu if name.startswith("L") and int(name[1:]) <= 7 else cpu4
        expected += roofline_s(ops[kind], on, soc)
    expected += 2 * 100e-6
    assert plan.handoffs == 2
    assert alone_s(soc, plan) == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------------------ one matmul split across two PUs

def test_the_shares_of_a_split_matmul_are_its_fractions_each_reading_the_whole_input():
    soc = load_soc("imx95")
    shape = PassShape(1, 62, False)
    f = form(soc, "cpu:4,L0.q_proj=gpu*0.3+cpu:4")
    plan = f.plan(shape)
    nodes = {n.name: n for n in plan.nodes}
    tasks = {t.name: t for t in plan.tasks()}
    op = template_ops(load_model("llama-3.2-1b"), Precision.resolve("fp16"), shape)["q_proj"]
    g, c = nodes["L0.q_proj[mali-g310*0.3]"], nodes["L0.q_proj[a55:4*0.7]"]
    tg, tc = tasks[g.name], tasks[c.name]
    assert tg.flops == pytest.approx(0.3 * op.flops) and tc.flops == pytest.approx(0.7 * op.flops)
    assert tg.bytes == pytest.approx(0.3 * (op.weights + op.act_out) + op.act_in)
    assert tc.bytes == pytest.approx(0.7 * (op.weights + op.act_out) + op.act_in)
    # both shares start when the norm before them ends (the GPU's after its handoff); rotary waits for both
    assert nodes["L0.rotary"].inputs and g.inputs != c.inputs
    assert _scaled(op, 1.0) is op


def test_a_split_matmul_at_its_best_ratio_is_no_slower_than_the_faster_pu_alone():
    """Every matmul of a no-KV-cache pass at S_L = 63 (63 positions: compute-heavy) split between the Mali and 4
    A55 cores: at the best ratio on a grid the pass is faster than on either PU alone, and the GPU share and the
    CPU share of one op overlap (they run at once and share DRAM)."""
    soc = load_soc("imx95")
    shape = PassShape(1, 62, False)
    whole = {d: alone_s(soc, form(soc, d).plan(shape)) for d in ("cpu:4", "gpu")}
    split = {r: alone_s(soc, form(soc, f"cpu:4,matmul=gpu*{r}+cpu:4").plan(shape)) for r in (0.1, 0.2, 0.3, 0.4, 0.5)}
    best = min(split, key=split.get)
    assert split[best] <= min(whole.values())
    engine = Engine(soc, fast_paths=False)
    engine.run(engine.run_pass(form(soc, f"cpu:4,matmul=gpu*{best}+cpu:4").plan(shape), "p"))
    ops = {e.name: e for e in engine.log.ops}
    g, c = ops[f"L3.down[mali-g310*{best:g}]"], ops[f"L3.down[a55:4*{1 - best:g}]"]
    assert max(g.start_s, c.start_s) < min(g.end_s, c.end_s)


# ----------------------------------------------------------------------------------------- NPUs and fallback

def test_ops_the_npu_cannot_run_fall_back_with_a_handoff_each_way():
    """The i.MX 95's Neutron runs only matmuls: a layer's norms, rotary, attention, residuals and activation run on
    the fallback (the host's 6 A55 cores). Handoffs, by the DAG: attn_norm -> q/k/v (1), q, k, v -> the CPU (3),
    attn_values -> o_proj (1), o_proj -> residual (1), mlp_norm -> gate/up (1), gate, up -> act_mul (2),
    act_mul -> down (1), down -> residual (1): 11 a layer; the LM head in and out: 2."""
    soc = load_soc("imx95")
    f = form(soc, "npu", model="llama-3.2-3b", weights="int8")
    plan = f.plan(PassShape(1, 30, False))
    assert plan.handoffs == 11 * 28 + 2
    on = {n.name: n.placement.label for n in plan.nodes if not n.handoff}
    assert on["L5.q_proj"] == on["lm_head"] == "neutron"
    assert on["L5.softmax"] == on["L5.rotary"] == on["sample"] == "a55:6"
    fell = {kind: n for (pu, kind), n in f.fallbacks.items()}
    assert fell["softmax"] == 28 and fell["embedding"] == 1 and "q_proj" not in fell
    assert f.describe()["fallback"] == "a55:6"


def test_an_npu_refuses_a_format_it_cannot_run_or_promotes_it_as_its_file_says():
    imx, rk = load_soc("imx95"), load_soc("rk3588")
    with pytest.raises(InputError, match="neutron cannot run llama-3.2-1b's q_proj in fp16"):
        form(imx, "npu", weights="fp16")
    # the RK3588's NPU runs fp32 models in fp16 (its file's promote): weights stored as fp16
    shape = PassShape(1, 30, False)
    fp32 = form(rk, "npu", weights="fp32").weight_bytes(shape)
    fp16 = form(rk, "npu", weights="fp16").weight_bytes(shape)
    assert fp32 == pytest.approx(fp16)
    with pytest.raises(InputError, match="rknpu cannot run .* q4_0 weights"):
        form(rk, "npu", weights="q4_0")


def test_the_output_says_which_ops_fell_back(capsys):
    from simulator.cli.main import main
    assert main(["run", "--target-device", "npu", "--draft", "none", "--new-tokens", "2", "--granularity", "layer"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "255 ops a pass fall back from neutron" in out and "softmax x28" in out


# ------------------------------------------------------------------------------------------- bad partitions

@pytest.mark.parametrize("text,needle", [
    ("L0-7=gpu", "begin with a bare DEVICE"),
    ("cpu:4,gpu", "only the first rule is a bare DEVICE"),
    ("cpu:4,L9-3=gpu", "from low to high"),
    ("cpu:4,L0-99=gpu", "names layers llama-3.2-1b does not have (16 layers: L0-15)"),
    ("cpu:4,embed.matmul=gpu", "selects no op"),
    ("cpu:4,L0=gpu,L0=npu", "places no op: later rules place every op it selects"),
    ("cpu:4,L\u0663=gpu", "is not a layer range"),
    ("cpu:4,matmul=gpu*\u0660.\u0665+cpu:4", "decimal fraction"),
    ("cpu:4,matmul=gpu*1e-300+cpu:4", "decimal fraction in 0.001..0.999"),
    ("cpu:4,matmul=gpu*0.5.5+cpu:4", "decimal fraction"),
    ("cpu:4,foo=gpu", "'foo' is not a layer range"),
    ("cpu:4,matmul.softmax=gpu", "each at most once"),
    ("cpu:4,matmul=gpu*1.5+cpu:4", "decimal fraction"),
    ("cpu:4,matmul=gpu*0.5+cpu:4*0.6", "add up to 1"),
    ("cpu:4,matmul=gpu+cpu:4", "give the first share's ratio"),
    ("cpu:4,matmul=cpu:2*0.5+cpu:2@2", "a split is across two PUs"),
    ("cpu:4,matmul=gpu*0.5+cpu:4+npu", "two PUs at most"),
    ("cpu:4,matmul=tpu", "no processing unit 'tpu'"),
    ("cpu:4,fallback=npu", "cannot run every op"),
    ("cpu:4,=gpu", "write SELECT=DEVICE"),
    ("cpu:4,matmul=gpu*0.5", "a ratio splits an op"),
])
def test_bad_partitions_are_refused_naming_the_flag(text, needle):
    with pytest.raises(InputError, match=None) as err:
        form(load_soc("imx95"), text)
    assert err.value.source == "--target-device" and needle in err.value.problem, err.value.problem


def test_a_mapping_file_says_what_the_compact_form_says(tmp_path):
    soc = load_soc("imx95")
    path = tmp_path / "map.yaml"
    path.write_text("default: cpu:4\nrules:\n  - {select: L0-7, device: gpu}\n  - {select: matmul, device: 'gpu*0.5+cpu:4'}\n"
                    "fallback: cpu:2\n")
    a, b = form(soc, str(path)), form(soc, "cpu:4,L0-7=gpu,matmul=gpu*0.5+cpu:4,fallback=cpu:2")
    shape = PassShape(1, 20, False)
    assert a.plan(shape).tasks() == b.plan(shape).tasks()
    assert [(n.name, n.placement, n.inputs) for n in a.plan(shape).nodes] == [
        (n.name, n.placement, n.inputs) for n in b.plan(shape).nodes]
    path.write_text("default: cpu:4\nrules:\n  - {select: L0-7, devise: gpu}\n")
    with pytest.raises(InputError, match="devise"):
        form(soc, str(path))


def test_every_result_unchanged_when_no_partition_is_asked_for():
    """Adding NPUs to the bundled SoC files changes no whole-model result: the pinned scenarios' results are
    tests/test_golden.py's; here, the default run equals its own run on the SoC without its NPU."""
    import copy

    from simulator.common.config import read_mapping
    from simulator.common.bundled import resolve_file
    from simulator.hw.socfile import parse_soc
    path, _ = resolve_file("socs", "imx95", (".yaml",))
    data = copy.deepcopy(read_mapping(path))
    del data["npus"]
    spec = ScenarioSpec(samples=3, new_tokens=9, effects=Effects())
    with_npu = simulate(spec.build())
    without = simulate(spec.build(soc=parse_soc(data, "imx95-no-npu.yaml")))
    assert with_npu.total_time_s == without.total_time_s and with_npu.baseline.total_time_s == without.baseline.total_time_s


def test_a_partitioned_run_too_long_to_simulate_is_refused_with_its_estimate(capsys):
    """A partitioned pass is simulated node by node once per shape: 438 nodes (the 1B drafter's matmuls on the
    Neutron, the rest on the A55s) x 2,001 context lengths x 7 shapes a round (gamma 5) is beyond the default
    budget (10 node-shapes per token of --max-tokens), refused before any work, naming the flag."""
    from simulator.cli.main import main
    argv = ["run", "--draft-device", "npu", "--draft-dtype", "int8", "--new-tokens", "2000", "--samples", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: --draft-device: a pass of this partition is a DAG of 438")
    assert "~6,135,066 node-shapes to simulate" in err


def test_a_partitioned_run_keeping_too_many_passes_is_refused(capsys):
    """3,000 samples of 63 tokens with the matmuls on the Neutron: 762 nodes x 378,000 passes (each token's and the
    baseline's) = 288 M node-passes, whose busy spans alone would take gigabytes: refused, naming the flag."""
    from simulator.cli.main import main
    assert main(["run", "--target-device", "cpu:2,matmul=npu", "--draft", "none", "--samples", "3000",
                 "--new-tokens", "63"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "~288,036,000 node-passes to run" in err and err.startswith("error: --target-device")


def test_a_split_whose_share_falls_back_beside_the_other_runs_whole_there():
    """'npu*0.5+cpu:4': the Neutron runs only matmuls, so for every other op its share would fall back to the A55s
    beside the other share: that op runs whole on the cores asked for, not split over overlapping cores."""
    soc = load_soc("imx95")
    plan = form(soc, "npu*0.5+cpu:4,fallback=cpu:4", model="llama-3.2-3b", weights="int8").plan(PassShape(1, 10, False))
    on = {n.name: n.placement.label for n in plan.nodes if not n.handoff}
    assert on["L0.softmax"] == "a55:4" and "L0.softmax[a55:4*0.5]" not in on
    assert on["L0.q_proj[neutron*0.5]"] == "neutron" and on["L0.q_proj[a55:4*0.5]"] == "a55:4"


def test_mapping_file_errors_name_the_file(tmp_path):
    soc = load_soc("imx95")
    path = tmp_path / "m.yaml"
    for text, needle in [("default: cpu:4\nrules:\n  - {select: L0, device: gpu}\n  - {select: L0, device: npu}\n",
                          "places no op"),
                         ("default: npu\n", "neutron cannot run llama-3.2-1b's q_proj in fp16"),
                         ("rules: []\n", "default: missing"),
                         ("default: cpu:4\nrules:\n  - {select: fallback, device: cpu:2}\n", "its own key")]:
        path.write_text(text)
        with pytest.raises(InputError) as err:
            form(soc, str(path))
        assert err.value.source == str(path) and needle in str(err.value), str(err.value)
    with pytest.raises(InputError, match="no such file"):
        form(soc, str(tmp_path / "nothing.yaml"))


@pytest.mark.parametrize("name", ["cpu", "gpu", "npu", "ne,ut", "a=b", "x*y", "a:b"])
def test_a_processing_unit_may_not_take_a_name_device_strings_cannot_address(name):
    import copy

    from simulator.common.bundled import resolve_file
    from simulator.common.config import read_mapping
    from simulator.hw.socfile import parse_soc
    data = copy.deepcopy(read_mapping(resolve_file("socs", "imx95", (".yaml",))[0]))
    data["npus"][0]["name"] = name
    with pytest.raises(InputError, match="a processing unit's name is letters"):
        parse_soc(data, "x.yaml")


def test_runs_are_byte_identical_whatever_the_hash_seed(tmp_path):
    """The refusal of a format names the first op it meets, in run order, whatever Python's hash seed."""
    import os
    import subprocess
    import sys
    lines = set()
    for seed in ("1", "2", "3"):
        proc = subprocess.run([sys.executable, "-m", "simulator.cli", "run", "--granularity", "layer", "--target-device",
                               "npu", "--target-dtype", "fp16", "--draft", "none"], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120)
        lines.add(proc.stderr)
    assert len(lines) == 1 and "q_proj" in lines.pop()


def test_int16_activations_run_int8_weight_matmuls_at_the_npus_int16_rate():
    """w8a16 on the Neutron: an int8-weight matmul on int16 activations computes at its int16 rate (1 TOPS x 0.5,
    against 2 TOPS x 0.5 for w8a8); on a CPU, without int16 arithmetic, the activations run as fp32 and the matmul
    at its int8 rate."""
    from simulator.llm.partition import parse_partition
    soc = load_soc("imx95")
    model = load_model("llama-3.2-3b")
    shape = PassShape(1, 62, False)
    flops = template_ops(model, Precision.resolve("int8"), shape)["q_proj"].flops
    for act, rate in (("int8", 2e12 * 0.5), ("int16", 1e12 * 0.5)):
        form_ = PartitionedForm(model, Precision.resolve("int8", act), False, 1,
                                parse_partition(soc, "npu", "--target-device"), soc, "op")
        task = {t.name: t for t in form_.plan(shape).tasks()}["L0.q_proj"]
        assert task.compute_s == pytest.approx(flops / rate, rel=1e-12)
    assert soc.pu("a55").compute_dtype("int16") == "fp32"


def test_an_npu_computes_an_int8_weight_matmul_in_its_wider_activations():
    """On the RK3588's NPU, int8 weights compute at the int8 rate on int8 activations (6 TOPS), at the int16 rate on
    int16 (3 TOPS) and at the fp16 rate on fp16 or fp32 activations (1.5 TOPS: fp32 runs as fp16 there): wider
    activations are never faster. The Neutron has no float rate: int8 weights on fp16 activations are refused,
    naming both dtype flags."""
    soc = load_soc("rk3588")
    model = load_model("llama-3.2-3b")
    shape = PassShape(1, 62, False)
    flops = template_ops(model, Precision.resolve("int8"), shape)["q_proj"].flops
    for act, tops in (("int8", 6.0), ("int16", 3.0), ("fp16", 1.5), ("fp32", 1.5)):
        f = PartitionedForm(model, Precision.resolve("int8", act), False, 1, parse_partition(soc, "npu", "--target-device"),
                            soc, "op")
        task = {t.name: t for t in f.plan(shape).tasks()}["L0.q_proj"]
        assert task.compute_s == pytest.approx(flops / (tops * 1e12 * 0.5), rel=1e-12), act
    with pytest.raises(InputError, match=r"in fp16 arithmetic \(it computes in int8, int16.*--target-dtype or --target-act-dtype"):
        imx = load_soc("imx95")
        PartitionedForm(model, Precision.resolve("int8", "fp16"), False, 1, parse_partition(imx, "npu", "--target-device"),
                        imx, "op", "--target-device")
