"""Output files: checked before any work, written atomically (whole or not at all), JSON sorted and strict, CSV
flattened from the same documents."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from simulator.common.errors import InputError


def check_output_path(path: str) -> None:
    """Fail before any simulation if an output file could not be written there."""
    target = Path(path)
    if target.is_dir():
        raise InputError(path, "is a directory; give a file name")
    if target.exists() and not target.is_file():     # written by renaming a new file onto it: never a device
        raise InputError(path, "is not a regular file (a device, a FIFO?); give a file name")
    if not target.parent.is_dir():
        raise InputError(path, f"directory {target.parent} does not exist")
    try:        # a file made and removed there: the only sure test (root passes access(), /proc refuses files)
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(path, f"cannot write in directory {target.parent} ({err.strerror or err.__class__.__name__})") from None


def check_outputs(outputs: dict[str, str | None], inputs: tuple[str, ...] = ()) -> None:
    """Check every output a command was asked for (flag -> path, None when not asked): each writable, no two
    the same file, none of them one of the command's input files (it would be overwritten)."""
    seen: dict[Path, str] = {}
    given = {_resolved(p, p): p for p in inputs}
    for flag, path in outputs.items():
        if path is None:
            continue
        if not path.strip():
            raise InputError(flag, "is an empty path: give a file name")
        check_output_path(path)
        key = _resolved(path, flag)
        if key in seen:
            raise InputError(flag, f"{path!r} is also given to {seen[key]}: each output needs its own file")
        if key in given:
            raise InputError(flag, f"{path!r} is one of the input files; writing it would destroy it")
        seen[key] = flag


def _resolved(path: str, flag: str) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError) as err:      # a symlink loop, say
        raise InputError(flag, f"{path!r}: cannot resolve the path (a symlink loop?) ({err.__class__.__name__})") from None


def write_json(path: str, document: dict) -> None:
    """Write sorted, indented JSON; the file appears whole or not at all."""
    write_text(path, json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_text(path: str, text: str) -> None:
    """Write a text file atomically: through a temporary file in the same directory, then renamed."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str, data: bytes) -> None:
    """Write a file atomically: through a temporary file in the same directory, then renamed."""
    _write_atomically(path, lambda f: f.write(data))


def write_stream(path: str, chunks) -> None:
    """Write text chunks to a file as they come, atomically (the file appears whole when the last is written)."""
    def write(f) -> None:
        for chunk in chunks:
            f.write(chunk.encode("utf-8"))
    _write_atomically(path, write)


_staged: list[list[tuple[str, Path]]] = []   # inside together(): (temporary file, target) written, not yet renamed


@contextmanager
def together():
    """The outputs written inside appear together when it ends (each renamed into place once all are written),
    or none of them if it ends in an error or an interrupt."""
    _staged.append([])
    try:
        yield
    except BaseException:
        for tmp, _target in _staged.pop():
            os.unlink(tmp)
        raise
    staged = _staged.pop()
    try:
        for tmp, target in staged:
            os.replace(tmp, target)
    except OSError as err:
        for tmp, _target in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise InputError(str(target), f"cannot be written ({err.strerror or err.__class__.__name__})") from None


def _write_atomically(path: str, write) -> None:
    check_output_path(path)
    target = Path(path)
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise InputError(path, f"cannot be written ({err.strerror or err.__class__.__name__})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; an output file gets the usual permissions
        if not _staged:
            os.replace(tmp, target)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):    # a full disk, say: one line naming the file, nothing left behind
            raise InputError(path, f"cannot be written ({err.strerror or err.__class__.__name__})") from None
        raise
    if _staged:
        _staged[-1].append((tmp, target))


def csv_text(rows: list[dict]) -> str:
    """Rows of (possibly nested) results as CSV, columns in first-seen order: a nested mapping's keys joined by
    '.', a 95% interval (a key ending in ci95: [lo, hi] or None) as two columns KEY_lo and KEY_hi; other lists
    (per-sample times) are left to the JSON."""
    flat = [_flatten(row) for row in rows]
    columns = list(dict.fromkeys(k for row in flat for k in row))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in flat:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return buf.getvalue()


def _flatten(row: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif str(key).endswith("ci95"):
            out[name + "_lo"], out[name + "_hi"] = value if isinstance(value, (list, tuple)) else (None, None)
        elif not isinstance(value, (list, tuple)):
            out[name] = value
    return out
