"""Strict reading of YAML/JSON config mappings: every key known, every number typed and in range.

Loaders in soc.py and model.py describe their schema through a `Section` and get back plain values;
the first problem raises an InputError naming the file, the dotted key path and what is wrong.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

import yaml

from simulator.common.errors import InputError


def read_mapping(path: Path) -> dict:
    """Parse a YAML (or JSON, a YAML subset) file whose top level must be a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"cannot read file ({err.__class__.__name__})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except RecursionError:
        raise InputError(str(path), "nested too deeply to be a specsoc file") from None
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else (f" at line {err.lineno}" if hasattr(err, "lineno") else "")
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise InputError(str(path), f"malformed {kind}{line}") from None
    except ValueError as err:                   # e.g. an integer of more digits than Python converts
        raise InputError(str(path), f"a value cannot be read ({str(err)[:80]})") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "top level must be a mapping of keys to values")
    return data


class Section:
    """A view on one mapping of a config file that checks keys and values as they are taken.

    Call `done()` after taking every key: any key left over is unknown and is reported.
    """

    def __init__(self, source: str, data: Any, path: str = ""):
        self.source = source
        self.path = path
        if not isinstance(data, dict):
            raise InputError(source, "must be a mapping", path or None)
        self._data = data
        self._taken: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(self.source, problem, self._key(key))

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str, default: Any = ..., ) -> Any:
        self._taken.add(key)
        if key not in self._data:
            if default is ...:
                near = difflib.get_close_matches(key, [str(k) for k in self._data if k not in self._taken], 1)
                raise self.fail(key, f"missing (found unknown key {near[0]!r}: a typo?)" if near else "missing")
            return default
        return self._data[key]

    def number(self, key: str, default: Any = ..., *, min: float | None = None, max: float | None = None,
               positive: bool = False, integer: bool = False) -> float:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {value!r}")
        if isinstance(value, int) and abs(value) > 1e300 or not math.isfinite(value):
            raise self.fail(key, f"must be finite, got {value!r}")
        if integer and int(value) != value:
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"must be > 0, got {value!r}")
        if min is not None and value < min:
            raise self.fail(key, f"must be >= {min}, got {value!r}")
        if max is not None and value > max:
            raise self.fail(key, f"must be <= {max}, got {value!r}")
        return int(value) if integer else float(value)

    def string(self, key: str, default: Any = ..., *, choices: tuple[str, ...] | None = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def boolean(self, key: str, default: Any = ...) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def section(self, key: str) -> "Section":
        return Section(self.source, self.raw(key), self._key(key))

    def sections(self, key: str, default: Any = ...) -> list["Section"]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of mappings")
        return [Section(self.source, item, f"{self._key(key)}[{i}]") for i, item in enumerate(value)]

    def number_map(self, key: str, allowed: tuple[str, ...], default: Any = ..., *, positive: bool = True,
                   max: float | None = None, required: tuple[str, ...] = ()) -> dict[str, float]:
        """A mapping name -> number whose names come from `allowed`."""
        if default is not ... and key not in self._data:
            self._taken.add(key)
            return dict(default)
        sub = self.section(key)
        out = {}
        for name in sub._data:
            if name not in allowed:
                raise sub.fail(name, f"unknown key (allowed: {', '.join(allowed)})")
            out[name] = sub.number(name, positive=positive, max=max)
        for name in required:
            if name not in out:
                raise sub.fail(name, "missing")
        return out

    def done(self) -> None:
        for key in self._data:
            if key not in self._taken:
                raise self.fail(str(key), "unknown key")


def read_json(path: str, kind: str):
    """A JSON document one of specsoc's commands wrote (`kind` names it, for the error when it is not)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot be read: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); "
                               f"expected a `{kind}` file") from None


def is_number(value) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
