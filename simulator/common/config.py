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

from simulator.common.errors import InputError, brief


class NotJSON(ValueError):
    """Text that is not strict JSON; the message says why, briefly."""


def refuse_constant(name: str):
    """json's parse_constant: NaN, Infinity and -Infinity are not JSON (Python's reader takes them)."""
    raise ValueError(f"{name} is not a number JSON has")


def strict_json(text: str):
    """json.loads, strict: NaN and +-Infinity refused, and nesting deeper than Python's stack refused (not a
    crash); each problem raises NotJSON with a short reason."""
    try:
        return json.loads(text, parse_constant=refuse_constant)
    except RecursionError:
        raise NotJSON("nested too deeply") from None
    except json.JSONDecodeError as err:
        raise NotJSON(f"{err.msg} at line {err.lineno} column {err.colno}") from None
    except ValueError as err:       # a non-finite constant, or an integer of thousands of digits
        raise NotJSON(str(err)[:80]) from None


MAX_CONFIG_BYTES = 16 * 2**20     # a SoC, model or sweep file is a few KB; a config.json a few hundred bytes


def read_text_within(path: Path, limit: int, what: str) -> str:
    """A text file's contents, refused without reading it when larger than `limit` bytes (a file that size is
    not `what`, and would take memory and time out of proportion)."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0                    # the read below says what is wrong
    if size > limit:
        raise InputError(str(path), f"is {size / 2**20:,.0f} MB: too large for {what} (at most {limit / 2**20:,.0f} MB)")
    return path.read_text(encoding="utf-8")


def read_mapping(path: Path) -> dict:
    """Parse a YAML (or JSON, a YAML subset) file whose top level must be a mapping."""
    try:
        text = read_text_within(path, MAX_CONFIG_BYTES, "a specsoc file")
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"cannot read file ({err.__class__.__name__})") from None
    try:
        data = strict_json(text) if path.suffix == ".json" else yaml.safe_load(text)
    except NotJSON as err:
        raise InputError(str(path), f"malformed JSON ({err})") from None
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
    try:
        size = expanded_size(data)
    except RecursionError:
        raise InputError(str(path), "nested too deeply to be a specsoc file") from None
    if size > MAX_VALUES:
        raise InputError(str(path), f"holds more than {MAX_VALUES:,} values once its YAML aliases are expanded "
                                    "(an alias bomb?); specsoc files hold a few hundred")
    return data


MAX_VALUES = 100_000    # values a config file may hold, its aliases expanded


def expanded_size(data, limit: int = MAX_VALUES) -> int:
    """How many values `data` holds with every shared (aliased) part counted each time it is used, counted up to
    just past `limit`: YAML aliases load as one object used many times, so a small file can stand for billions
    of values, which any walk over it (a check, an error message) would then take."""
    memo: dict[int, int] = {}

    def size(value) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        known = memo.get(id(value))
        if known is None:
            known = 1
            for child in (value.values() if isinstance(value, dict) else value):
                known += size(child)
                if known > limit:
                    break
            memo[id(value)] = known
        return known

    return size(data)


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
            raise self.fail(key, f"must be a number, got {brief(value)}")
        if isinstance(value, int) and abs(value) > 1e300 or not math.isfinite(value):
            raise self.fail(key, f"must be finite, got {brief(value)}")
        if integer and int(value) != value:
            raise self.fail(key, f"must be a whole number, got {brief(value)}")
        if positive and value <= 0:
            raise self.fail(key, f"must be > 0, got {brief(value)}")
        if min is not None and value < min:
            raise self.fail(key, f"must be >= {min}, got {brief(value)}")
        if max is not None and value > max:
            raise self.fail(key, f"must be <= {max}, got {brief(value)}")
        return int(value) if integer else float(value)

    def string(self, key: str, default: Any = ..., *, choices: tuple[str, ...] | None = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, got {brief(value)}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {brief(value)}")
        return value

    def boolean(self, key: str, default: Any = ...) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {brief(value)}")
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
        return strict_json(text)
    except NotJSON as err:
        raise InputError(path, f"not valid JSON ({err}); expected a `{kind}` file") from None


def is_number(value) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
