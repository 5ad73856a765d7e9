"""The README's Python example runs and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_python_api_example_prints_its_stated_output():
    section = README.read_text(encoding="utf-8").split("## Using specsoc from Python", 1)[1].split("\n## ", 1)[0]
    code, output = re.findall(r"```(?:python)?\n(.*?)```", section, re.S)[:2]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    assert printed.getvalue() == output
