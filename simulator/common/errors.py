"""The one error type for bad user input: it renders as a single line naming the file, the key and the problem."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from a file or the command line. The CLI prints str(err) and exits with status 2."""

    def __init__(self, source: str, problem: str, key: str | None = None):
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(" ".join(f"{where}: {problem}".split()))  # one line, whatever the input held

    def __reduce__(self):
        """Rebuilt from its parts when it crosses processes (a worker of a pool raised it)."""
        return InputError, (self.source, self.problem, self.key)
