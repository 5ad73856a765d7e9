"""ScenarioSpec: the defaults are `specsoc run`'s, and bad values from Python are one-line InputErrors naming
the flag they stand for, as on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.common.errors import InputError
from simulator.run.builder import ScenarioSpec

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def test_the_defaults_are_specsoc_runs():
    assert ScenarioSpec().build().describe() == json.loads((GOLDEN / "default.json").read_text())["scenario"]


@pytest.mark.parametrize("fields,flag,needle", [
    ({"samples": 1.5}, "--samples", "whole number"),
    ({"alpha": "0.5"}, "--alpha", "finite number"),
    ({"alpha": float("nan")}, "--alpha", "finite number"),
    ({"kv_cache": "no"}, "--kv-cache", "true or false"),
    ({"gamma": 2.5}, "--gamma", "whole number"),
    ({"gamma": 0}, "--gamma", "in 1..64"),
    ({"calibrated": 1}, "--uncalibrated", "true or false"),
    ({"target_act_dtype": "q4_0"}, "--target-act-dtype", "q4_0"),
    ({"draft_kv_dtype": "fp8"}, "--draft-kv-dtype", "fp8"),
    ({"trace": "vllm-writing", "alpha": 0.5}, "--alpha", "not both"),
    ({"trace": ""}, "--trace", "empty"),
    ({"seed": -1}, "--seed", "in 0..4,294,967,295"),
    ({"prompt_tokens": 0}, "--prompt-tokens", "in 1..131,072"),
    ({"effects": None}, "--effects", "an Effects"),
])
def test_a_bad_value_names_its_flag(fields, flag, needle):
    with pytest.raises(InputError) as err:
        ScenarioSpec(**fields).build()
    assert str(err.value).startswith(f"{flag}: ") and needle in str(err.value), str(err.value)


def test_explore_and_check_need_a_drafter():
    from simulator.analysis.check import check
    from simulator.analysis.explore import ExploreSpec
    plain = ScenarioSpec(draft=None).build()
    for call in (lambda: ExploreSpec(plain, 0.9), lambda: check(plain)):
        with pytest.raises(InputError, match="^--draft: .*drafter"):
            call()
