"""Fuzzing the CLI with bad input (tests/fuzz_support.py): every mutated file of every kind specsoc reads, and
evil flag values, end in exit 0 or one clear `error:` line, never a traceback, a hang or a file left behind.
Seeded (derandomized) and small here; `python benchmarks/fuzz.py` runs thousands of the same cases."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_support import Picker, flag_case, mutate, run_case, targets

EXAMPLES = int(os.environ.get("SPECSOC_FUZZ_EXAMPLES", "12"))
TARGETS = {t.name: t for t in targets()}
SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def picker(data) -> Picker:
    return Picker(lambda seq: data.draw(st.sampled_from(list(seq))), lambda lo, hi: data.draw(st.integers(lo, hi)))


def judge(outcome) -> None:
    assert outcome.kind in ("ok", "refused"), f"{outcome.kind}: {outcome.line}"


@pytest.mark.parametrize("name", list(TARGETS))
@SETTINGS
@given(data=st.data())
def test_a_mutated_file_is_read_or_refused_in_one_line(name, data):
    target = TARGETS[name]
    text = target.text
    if isinstance(text, bytes):         # a binary file: flip, cut or drop bytes
        pick = picker(data)
        i = pick.integer(0, len(text) - 1)
        mutated = pick.choice([text[:i], text[:i] + bytes([pick.integer(0, 255)]) + text[i + 1:],
                               text[:i] + b"\xff" * 8 + text[i + 8:], text[:i] + text[i + 4:]])
    else:
        mutated = mutate(text, picker(data), target.yaml)
    judge(run_case(target.argv, mutated, target.suffix))


@SETTINGS
@given(data=st.data())
def test_evil_flag_values_are_refused_in_one_line(data):
    judge(run_case(flag_case(picker(data)), None))
