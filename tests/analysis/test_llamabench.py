"""llama-bench output: one set of runs written as llama-bench writes each form reads as the same records; every
bad file is one InputError line naming it; no bytes whatever raise anything else.

The fixtures under tests/fixtures/llamabench/ hold nine tests (two models, 2 and 4 threads, pp512 and tg128 each,
and tg128 at depth 512), formatted as llama-bench's json, jsonl, csv, sql and markdown printers format them
(reference/formats.md); forum_post.md is the markdown pasted into a post, split over two tables among text.
"""

from __future__ import annotations

import codecs
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.analysis import llamabench
from simulator.analysis.llamabench import BenchRecord, read_llama_bench
from simulator.common.errors import InputError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "llamabench"
FULL_FORMS = ("run.json", "run.jsonl", "run.csv", "run.sql")
MARKDOWN_FORMS = ("run.md", "forum_post.md")
GiB, MiB = 2.0**30, 2.0**20

# The runs, as the fixtures hold them: (model_type, threads, n_prompt, n_gen, n_depth, avg_ts, stddev_ts)
RUNS = [
    ("llama 3B Q4_K - Medium", 2, 512, 0, 0, 10.22, 0.022361),
    ("llama 3B Q4_K - Medium", 2, 0, 128, 0, 3.416, 0.011402),
    ("llama 3B Q4_K - Medium", 4, 512, 0, 0, 19.892, 0.059330),
    ("llama 3B Q4_K - Medium", 4, 0, 128, 0, 5.624, 0.023022),
    ("qwen2 0.5B Q8_0", 2, 512, 0, 0, 61.56, 0.270185),
    ("qwen2 0.5B Q8_0", 2, 0, 128, 0, 14.806, 0.030496),
    ("qwen2 0.5B Q8_0", 4, 512, 0, 0, 118.54, 0.461519),
    ("qwen2 0.5B Q8_0", 4, 0, 128, 0, 22.366, 0.065803),
    ("llama 3B Q4_K - Medium", 4, 0, 128, 512, 5.212, 0.019235),
]
SIZES = {"llama 3B Q4_K - Medium": (2019377696, 3212749888), "qwen2 0.5B Q8_0": (531067136, 494032768)}


def write(tmp_path: Path, text: str | bytes, name: str = "bench.out") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refused(path, *needles: str) -> str:
    """Reading `path` fails with one line that names the file and holds every needle."""
    with pytest.raises(InputError) as caught:
        read_llama_bench(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    for needle in needles:
        assert needle in message, message
    return message


# ------------------------------------------------------------------------------------- the same runs, every form

@pytest.mark.parametrize("name", FULL_FORMS)
def test_each_full_form_holds_the_runs(name):
    records = read_llama_bench(FIXTURES / name)
    assert [(r.model_type, r.threads, r.n_prompt, r.n_gen, r.n_depth) for r in records] == [run[:5] for run in RUNS]
    for record, (model, *_, avg, sd) in zip(records, RUNS):
        assert record.tokens_per_s == pytest.approx(avg, abs=5e-7)
        assert record.stddev_tokens_per_s == pytest.approx(sd, abs=5e-7)
        assert (record.model_size_B, record.n_params) == SIZES[model]
        assert (record.backend, record.n_gpu_layers, record.build) == ("CPU", 99, "d2fe216f (4804)")
        assert (record.cpu_info, record.gpu_info) == ("Cortex-A55", "")
    assert [r.kind for r in records] == ["pp", "tg"] * 4 + ["tg"]
    assert {r.weight_format for r in records} == {"q4_k_m", "q8_0"}


def test_json_jsonl_csv_and_sql_give_identical_records():
    json_records = read_llama_bench(FIXTURES / "run.json")
    for name in FULL_FORMS[1:]:
        assert [replace(r, source="") for r in read_llama_bench(FIXTURES / name)] == \
               [replace(r, source="") for r in json_records], name


def test_each_record_says_where_it_came_from():
    path = FIXTURES / "run.json"
    assert [r.source for r in read_llama_bench(path)][8] == f"{path}:record 9"
    assert read_llama_bench(FIXTURES / "run.jsonl")[8].source == f"{FIXTURES / 'run.jsonl'}:9"
    assert read_llama_bench(FIXTURES / "run.csv")[0].source == f"{FIXTURES / 'run.csv'}:2"       # after the header
    assert read_llama_bench(FIXTURES / "run.sql")[0].source == f"{FIXTURES / 'run.sql'}:37"      # after CREATE TABLE
    assert read_llama_bench(FIXTURES / "run.md")[0].source == f"{FIXTURES / 'run.md'}:3"
    post = read_llama_bench(FIXTURES / "forum_post.md")
    assert [r.source.rsplit(":", 1)[1] for r in post] == ["9", "10", "11", "12", "13", "14", "15", "16", "25"]


@pytest.mark.parametrize("name", MARKDOWN_FORMS)
def test_markdown_gives_the_common_fields_to_its_rounding(name):
    full = read_llama_bench(FIXTURES / "run.json")
    table = read_llama_bench(FIXTURES / name)
    assert len(table) == len(full)
    for md, ref in zip(table, full):
        for field in ("model_type", "backend", "threads", "n_prompt", "n_gen", "n_depth", "build"):
            assert getattr(md, field) == getattr(ref, field), (md.source, field)
        size_unit = GiB if ref.model_size_B >= GiB else MiB
        assert md.model_size_B == pytest.approx(ref.model_size_B, abs=0.005 * size_unit)
        assert md.n_params == pytest.approx(ref.n_params, abs=0.005 * (1e9 if ref.n_params >= 1e9 else 1e6))
        assert md.tokens_per_s == pytest.approx(ref.tokens_per_s, abs=0.005)
        assert md.stddev_tokens_per_s == pytest.approx(ref.stddev_tokens_per_s, abs=0.005)
        assert (md.kind, md.weight_format) == (ref.kind, ref.weight_format)
        assert (md.n_gpu_layers, md.cpu_info, md.gpu_info) == (None, "", "")    # not in the table


# ------------------------------------------------------------------------------------------ what a test is

@pytest.mark.parametrize("model_type, expected", [
    ("llama 3B Q4_K - Medium", "q4_k_m"), ("llama 8B Q4_K - Small", "q4_k_s"), ("qwen2 7B Q5_K - Medium", "q5_k_m"),
    ("llama 8B Q3_K - Large", "q3_k_l"), ("gemma2 2B IQ4_XS - 4.25 bpw", "iq4_xs"), ("llama 1B Q8_0", "q8_0"),
    ("llama 7B mostly Q4_0", "q4_0"), ("llama 7B Q4_0", "q4_0"), ("llama 7B Q4_1", "q4_1"),
    ("llama 7B Q5_0", "q5_0"), ("llama 7B mostly Q5_1", "q5_1"), ("phi3 3B Q6_K", "q6_k"),
    ("llama 1B F16", "fp16"), ("llama 7B mostly F16", "fp16"), ("qwen3 0.6B BF16", "bf16"),
    ("llama 1B all F32", "fp32"), ("llama 1B F32", "fp32"), ("llama 7B Q2_K - Medium", "q2_k"),
    ("llama 7B IQ3_S mix - 3.66 bpw", "iq3_m"), ("llama ?B Q4_0 (guessed)", "q4_0"),
    ("llama 7B", None), ("llama 7B MXFP4 MoE", None), ("", None), ("Q4_K_M", None),
])
def test_weight_format_from_the_model_type(model_type, expected):
    record = read_llama_bench(FIXTURES / "run.json")[0]
    assert replace(record, model_type=model_type).weight_format == expected


def test_kind_follows_the_tokens():
    record = read_llama_bench(FIXTURES / "run.json")[0]
    assert record.kind == "pp" and replace(record, n_prompt=0, n_gen=16).kind == "tg"
    assert isinstance(record, BenchRecord)


# ------------------------------------------------------------------------------------- markdown as it is pasted

def test_the_markdown_example_of_formats_md(tmp_path):
    table = """\
    | model                          |       size |     params | backend    | threads | test  |           t/s |
    | ------------------------------ | ---------: | ---------: | ---------- | ------: | ----: | ------------: |
    | llama 7B mostly Q4_0           |   3.56 GiB |     6.74 B | CPU        |       4 | pp 64 |  23.18 ± 0.06 |
    | qwen2 7B Q4_K - Medium         |   4.36 GiB |     7.62 B | CUDA       |      99 | tg128 | 120.60 ± 0.59 |
"""
    first, second = read_llama_bench(write(tmp_path, table))
    assert (first.n_prompt, first.n_gen, first.threads, first.backend) == (64, 0, 4, "CPU")
    assert (first.tokens_per_s, first.stddev_tokens_per_s) == (23.18, 0.06)
    assert first.model_size_B == 3.56 * GiB and first.n_params == pytest.approx(6.74e9)
    assert (second.kind, second.n_gen, second.threads, second.backend, second.weight_format) == \
           ("tg", 128, 99, "CUDA", "q4_k_m")
    assert first.build == second.build == ""                 # no build line after the table


def test_markdown_variants(tmp_path):
    """An older build's columns (ngl, n_batch), "tg 128", "+/-", no spread, MiB and M, no closing pipes."""
    text = """Here is what I get on the Orange Pi:

| model | size | params | backend | ngl | n_batch | threads | test | t/s |
|---|--:|--:|---|--:|--:|--:|--:|--:|
| llama 1B Q8_0 | 1.22 GiB | 1.24 B | Vulkan | 99 | 512 | 4 | pp 512 | 42.50 +/- 1.25 |
| llama 1B Q8_0 | 1.22 GiB | 1.24 B | Vulkan | 99 | 512 | 4 | tg 128 | 9.81 |
| qwen2 0.5B Q4_0 | 336.33 MiB | 494.03 M | Vulkan | 0 | 512 | 8 | tg128 @ d1024 | 30.12 ± 0.20
build: 0a1b2c3d (3456)
"""
    a, b, c = read_llama_bench(write(tmp_path, text, "post.txt"))
    assert (a.n_prompt, a.tokens_per_s, a.stddev_tokens_per_s, a.n_gpu_layers, a.backend) == \
           (512, 42.5, 1.25, 99, "Vulkan")
    assert (b.n_gen, b.tokens_per_s, b.stddev_tokens_per_s) == (128, 9.81, 0.0)
    assert (c.n_gen, c.n_depth, c.threads, c.n_gpu_layers) == (128, 1024, 8, 0)
    assert c.model_size_B == pytest.approx(336.33 * MiB) and c.n_params == pytest.approx(494.03e6)
    assert a.build == c.build == "0a1b2c3d (3456)" and c.weight_format == "q4_0"


def test_old_json_without_newer_fields_and_with_fields_of_newer_builds(tmp_path):
    """An old build: no n_depth, cpu_mask or backends (per-backend flags instead); a newer one's extra fields."""
    old = {"build_commit": "8e672efe", "build_number": 1390, "cuda": False, "opencl": False, "metal": True,
           "gpu_blas": True, "blas": True, "cpu_info": "Apple M2", "gpu_info": "Apple M2", "model_filename": "m.gguf",
           "model_type": "llama 7B mostly Q4_0", "model_size": 3825065984, "model_n_params": 6738415616,
           "n_batch": 512, "n_threads": 4, "f16_kv": True, "n_gpu_layers": 99, "main_gpu": 0, "mul_mat_q": True,
           "tensor_split": "0.00", "n_prompt": 512, "n_gen": 0, "test_time": "2023-11-02T12:00:00Z",
           "avg_ns": 1000, "stddev_ns": 10, "avg_ts": 512.01, "stddev_ts": 1.5}
    new = {**old, "backends": "Metal,BLAS", "n_depth": 0, "tensor_buft_overrides": "none", "no_op_offload": 0,
           "devices": "MTL0", "n_cpu_moe": 0}
    del new["metal"], new["gpu_blas"], new["blas"], new["cuda"], new["opencl"]
    bare = {k: old[k] for k in ("model_type", "model_size", "model_n_params", "n_threads", "n_prompt", "n_gen",
                                "avg_ts")}
    a, b, c = read_llama_bench(write(tmp_path, json.dumps([old, new, bare])))
    assert (a.backend, a.n_depth, a.build, a.weight_format) == ("Metal", 0, "8e672efe (1390)", "q4_0")
    assert b.backend == "Metal,BLAS"
    assert (c.backend, c.build, c.stddev_tokens_per_s, c.n_gpu_layers, c.cpu_info) == ("", "", 0.0, None, "")


def test_form_is_told_from_content_not_the_name(tmp_path):
    reference = read_llama_bench(FIXTURES / "run.json")
    for name in FULL_FORMS:
        moved = write(tmp_path, (FIXTURES / name).read_text(encoding="utf-8"), f"{name}.txt")
        assert [replace(r, source="") for r in read_llama_bench(moved)] == [replace(r, source="") for r in reference]


def test_a_post_opening_like_json_is_still_read_for_its_table(tmp_path):
    post = "[quote=someone]what do you get?[/quote]\n{ran it twice}\n" + md_with() + "[/code]\n"
    (record,) = read_llama_bench(write(tmp_path, post))
    assert (record.n_gen, record.threads, record.tokens_per_s) == (128, 4, 5.62)


def test_utf16_from_powershell_and_a_utf8_bom(tmp_path):
    text = (FIXTURES / "run.md").read_text(encoding="utf-8")
    reference = [replace(r, source="") for r in read_llama_bench(FIXTURES / "run.md")]
    for raw in (codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le"),
                codecs.BOM_UTF8 + text.encode("utf-8")):
        assert [replace(r, source="") for r in read_llama_bench(write(tmp_path, raw))] == reference


def test_sql_quotes_doubled_and_null(tmp_path):
    sql = (FIXTURES / "run.sql").read_text(encoding="utf-8").splitlines()
    line = sql[36].replace("'Cortex-A55'", "'Cortex-A55 ''big'''").replace("'0x0'", "NULL")
    cpu = read_llama_bench(write(tmp_path, "\n".join(sql[:36] + [line]) + "\n"))[0].cpu_info
    assert cpu == "Cortex-A55 'big'"


# --------------------------------------------------------------------------------------------------- refusals

def json_record(**changes) -> dict:
    record = json.loads((FIXTURES / "run.json").read_text(encoding="utf-8"))[0]
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


def csv_with(**changes) -> str:
    header, row = (FIXTURES / "run.csv").read_text(encoding="utf-8").splitlines()[:2]
    values = dict(zip(header.split(","), row.split('","')))
    values.update({k: str(v) for k, v in changes.items()})
    return header + "\n" + ",".join(f'"{v.strip(chr(34))}"' for v in values.values()) + "\n"


def md_with(**cells) -> str:
    columns = {"model": "llama 3B Q4_K - Medium", "size": "1.88 GiB", "params": "3.21 B", "backend": "CPU",
               "threads": "4", "test": "tg128", "t/s": "5.62 ± 0.02", **cells}
    columns = {k: v for k, v in columns.items() if v is not None}
    return "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                      "| " + " | ".join(columns.values()) + " |"]) + "\n"


@pytest.mark.parametrize("text, needles", [
    (json.dumps([json_record(n_prompt=512, n_gen=128)]), ("record 1: n_prompt, n_gen:", "pp512+tg128", "-pg")),
    (md_with(test="pp512+tg128"), ("line 3: test:", "pp512+tg128 is a combined", "-pg")),
    (json.dumps([json_record(n_prompt=0, n_gen=0)]), ("both 0: not a test",)),
    (md_with(test="pp0"), ("line 3: test", "both 0")),
    (json.dumps([json_record(), json_record(avg_ts=float("nan"))]), ("record 2: avg_ts: must be finite, got nan",)),
    (csv_with(avg_ts="inf"), ("line 2: avg_ts: must be finite",)),
    (csv_with(avg_ts="0.000000"), ("line 2: avg_ts: must be > 0",)),
    (json.dumps(json_record(avg_ts=-3.5)) + "\n", ("line 1: avg_ts: must be > 0",)),
    (md_with(**{"t/s": "-5.62 ± 0.02"}), ("line 3: t/s: must be > 0 tokens/s",)),
    (md_with(**{"t/s": "nan ± 0.02"}), ("line 3: t/s: must be finite",)),
    (md_with(**{"t/s": "fast"}), ("line 3: t/s: must be a number",)),
    (json.dumps([json_record(stddev_ts=-1)]), ("stddev_ts: must be >= 0",)),
    (json.dumps([json_record(n_gen=-128)]), ("record 1: n_gen: must be >= 0, got -128",)),
    (csv_with(n_depth="-512"), ("line 2: n_depth: must be >= 0",)),
    (json.dumps([json_record(n_threads=4.5)]), ("record 1: n_threads: must be a whole number, got 4.5",)),
    (json.dumps([json_record(n_threads=True)]), ("n_threads: must be a whole number, got True",)),
    (json.dumps([json_record(n_threads=0)]), ("n_threads: must be >= 1, got 0",)),
    (csv_with(n_threads="four"), ("line 2: n_threads: must be a whole number, got 'four'",)),
    (csv_with(n_threads="٤"), ("n_threads: must be a whole number",)),                    # not an ASCII digit
    (csv_with(n_threads="1" * 30), ("n_threads: out of range",)),
    (md_with(threads="4.5"), ("line 3: threads: must be a whole number, got '4.5'",)),
    (md_with(threads="0"), ("line 3: threads: must be >= 1",)),
    (md_with(threads=None, backend="CUDA", ngl="99"), ("line 1: the table has no 'threads' column", "rerun with -t")),
    (md_with(size=None), ("line 1: the table has no 'size' column",)),
    (md_with(size="3.56 GB"), ("line 3: size: cannot read '3.56 GB'", "GiB or MiB")),
    (md_with(params="7 billion"), ("line 3: params: cannot read",)),
    (md_with(test="decode"), ("line 3: test: cannot read 'decode'",)),
    (md_with(model=""), ("line 3: model: empty",)),
    (md_with() + "| llama 3B | 1.88 GiB | tg128 |\n", ("line 4: 3 cells but the table's header has 7",)),
    (json.dumps([{k: v for k, v in json_record().items() if k != "n_threads"}]), ("record 1: n_threads: missing",)),
    (json.dumps([{"model": "x"}]), ("record 1: model_type: missing",)),
    (json.dumps([json_record(model_type=7)]), ("model_type: must be text, got 7",)),
    (json.dumps([json_record(model_size=0)]), ("model_size: must be > 0",)),
    (json.dumps([json_record(), [1, 2]]), ("record 2: must be a JSON object of llama-bench fields, got list",)),
    (json.dumps({"results": []}), ("line 1: model_type: missing",)),
    (json.dumps([json_record()], indent=2)[:-20], ("not valid JSON", "ends early", "closing ']'")),
    ("[" * 100_000 + "]" * 100_000, ("nested too deeply",)),
    ('[{"n_threads": ' + "9" * 5000 + "}]", ("not readable JSON",)),
    ("[]\n", ("no llama-bench tests in this json file",)),
    (json.dumps(json_record()) + "\n{not json}\n", ("line 2: not valid JSON", "one JSON object per line")),
    (csv_with().splitlines()[0] + "\n", ("no llama-bench tests in this csv file",)),
    (csv_with() + '"only","three","fields"\n', ("line 3: 3 fields but the header has 33",)),
    ("CREATE TABLE IF NOT EXISTS test (\n  a TEXT\n);\nDROP TABLE test;\n", ("line 4: not a statement llama-bench",)),
    ("INSERT INTO test (a, b) VALUES ('1');\n", ("line 1: 1 values for 2 columns",)),
    ("INSERT INTO test (cpu_info) VALUES ('Bob's CPU');\n", ("line 1: cannot read the VALUES list",)),
    ("just some notes, no numbers\n", ("not llama-bench output", "-o json", "-o md")),
    ("| a | b |\n|---|---|\n| 1 | 2 |\n", ("not llama-bench output",)),
    (" \n\t\n", ("empty file",)),
    (b"[\xc3\x28]", ("not UTF-8 text (undecodable byte at offset 1)",)),
    (b"\x00\x01\x02binary", ("NUL characters",)),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, text, needles):
    refused(write(tmp_path, text), *needles)


def test_missing_unreadable_and_oversized_files(tmp_path, monkeypatch):
    refused(tmp_path / "absent.json", "no such file")
    refused(tmp_path, "is a directory")
    big = write(tmp_path, (FIXTURES / "run.json").read_text(encoding="utf-8"))
    monkeypatch.setattr(llamabench, "MAX_BYTES", 1000)
    refused(big, "larger than", "not its output")


def test_a_bad_row_in_a_post_names_its_line(tmp_path):
    text = (FIXTURES / "forum_post.md").read_text(encoding="utf-8").replace("tg128 @ d512", "tg128 @ 512")
    refused(write(tmp_path, text), "line 25: test: cannot read 'tg128 @ 512'")


# ------------------------------------------------------------------------------------------------------- fuzz

def check_records(records) -> None:
    for r in records:
        assert isinstance(r, BenchRecord)
        assert math.isfinite(r.tokens_per_s) and r.tokens_per_s > 0
        assert math.isfinite(r.stddev_tokens_per_s) and r.stddev_tokens_per_s >= 0
        assert r.threads >= 1 and r.n_depth >= 0 and (r.n_prompt > 0) != (r.n_gen > 0)
        assert r.model_size_B > 0 and r.n_params > 0 and r.kind in ("pp", "tg")
        assert r.weight_format is None or isinstance(r.weight_format, str)


def read_or_refuse(directory: Path, data: bytes) -> None:
    path = directory / "fuzz.out"
    path.write_bytes(data)
    try:
        records = read_llama_bench(path)
    except InputError as err:
        assert "\n" not in str(err) and str(err).startswith(f"{path}: ")
    else:
        check_records(records)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = [(FIXTURES / name).read_bytes() for name in (*FULL_FORMS, *MARKDOWN_FORMS)]


@FUZZ
@given(data=st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes(tmp_path_factory, data):
    read_or_refuse(tmp_path_factory.mktemp("bytes"), data)


@FUZZ
@given(text=st.lists(st.sampled_from(list("[]{}\",:|-±+/@ .0123456789eEnaiptgd\n\r\t'()B") +
                                     ["pp", "tg", "t/s", "test", "threads", "model", "size", "params", "GiB",
                                      "MiB", "avg_ts", "n_prompt", "INSERT INTO", "NaN"]), max_size=200).map("".join))
def test_fuzz_text_of_the_formats_alphabet(tmp_path_factory, text):
    read_or_refuse(tmp_path_factory.mktemp("text"), text.encode("utf-8"))


@FUZZ
@given(seed=st.sampled_from(SEEDS),
       edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 8), st.sampled_from(
           ["", "-", "0", "9", ".", "e", "x", "\"", "'", ",", "|", "\n", "{", "[", "]", "±", "nan", "+tg9", " @ d"])),
           max_size=6))
def test_fuzz_mutated_fixtures(tmp_path_factory, seed, edits):
    data = seed
    for where, cut, insert in edits:
        at = int(where * len(data))
        data = data[:at] + insert.encode("utf-8") + data[at + cut:]
    read_or_refuse(tmp_path_factory.mktemp("mutated"), data)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=3), max_leaves=8)


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["model_type", "model_size", "model_n_params", "n_threads",
                                               "n_prompt", "n_gen", "n_depth", "avg_ts", "stddev_ts",
                                               "n_gpu_layers", "build_number", "backends", "cuda", "cpu_info"]),
                              JSON_VALUES),
       as_lines=st.booleans())
def test_fuzz_json_field_values(tmp_path_factory, fields, as_lines):
    record = {**json_record(), **fields}
    text = json.dumps(record) + "\n" if as_lines else json.dumps([record])
    read_or_refuse(tmp_path_factory.mktemp("json"), text.encode("utf-8"))
