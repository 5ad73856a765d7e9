"""The one error type for bad user input: it renders as a single line naming the file, the key and the problem."""

from __future__ import annotations

import reprlib

MESSAGE_LIMIT = 1000    # characters of a message shown: a value that came in huge is not echoed whole

_brief = reprlib.Repr()
_brief.maxstring = _brief.maxother = 60
_brief.maxlist = _brief.maxtuple = _brief.maxdict = _brief.maxset = 6
_brief.maxlevel = 3


def brief(value) -> str:
    """A value as an error message shows it: its repr, cut short (bounded time and length, whatever its size)."""
    return _brief.repr(value)


class InputError(Exception):
    """Bad input from a file or the command line. The CLI prints str(err) and exits with status 2."""

    def __init__(self, source: str, problem: str, key: str | None = None):
        self.source = source
        self.key = key
        self.problem = problem
        shown = source if len(source) <= 160 else source[:120] + "..."        # a file name of thousands of chars
        where = f"{shown}: {key}" if key else shown
        line = " ".join(f"{where}: {problem}".split())                 # one line, whatever the input held
        super().__init__(line if len(line) <= MESSAGE_LIMIT else line[:MESSAGE_LIMIT - 3] + "...")

    def __reduce__(self):
        """Rebuilt from its parts when it crosses processes (a worker of a pool raised it)."""
        return InputError, (self.source, self.problem, self.key)
