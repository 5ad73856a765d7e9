"""Output files: checked before any work, written atomically (whole or not at all), JSON sorted and strict."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from simulator.common.errors import InputError


def check_output_path(path: str) -> None:
    """Fail before any simulation if an output file could not be written there."""
    target = Path(path)
    if target.is_dir():
        raise InputError(path, "is a directory; give a file name")
    if not target.parent.is_dir():
        raise InputError(path, f"directory {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise InputError(path, f"directory {target.parent} is not writable")


def write_json(path: str, document: dict) -> None:
    """Write sorted, indented JSON; the file appears whole or not at all."""
    write_text(path, json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_text(path: str, text: str) -> None:
    """Write a text file atomically: through a temporary file in the same directory, then renamed."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str, data: bytes) -> None:
    """Write a file atomically: through a temporary file in the same directory, then renamed."""
    check_output_path(path)
    target = Path(path)
    directory = target.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; an output file gets the usual permissions
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
