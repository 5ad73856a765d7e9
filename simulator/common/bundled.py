"""Where bundled SoC, model and trace files live, in a source checkout and in an installed package."""

from __future__ import annotations

from pathlib import Path

from simulator.common.errors import InputError

_PACKAGE = Path(__file__).resolve().parent.parent   # simulator/
_SOURCE_ROOT = _PACKAGE.parent


def bundled_dir(kind: str) -> Path:
    """The directory of bundled files of one kind: "socs", "graphs" or "traces".

    In a checkout (and an editable install) that is the top-level directory; an installed wheel carries a copy
    inside the package as simulator/bundled_<kind> (see pyproject.toml).
    """
    local = _SOURCE_ROOT / kind
    if local.is_dir() and (_SOURCE_ROOT / "pyproject.toml").is_file():
        return local
    return _PACKAGE / f"bundled_{kind}"


def bundled_names(kind: str, suffix: str) -> list[str]:
    return sorted(p.stem for p in bundled_dir(kind).glob(f"*{suffix}"))


def resolve_file(kind: str, name_or_path: str, suffixes: tuple[str, ...]) -> tuple[Path, str]:
    """Return (path, label): a bundled file by bare name, else a path on disk. The label is what outputs show."""
    if not name_or_path.strip():
        raise InputError(f"{kind} file", "the name is empty or blank")
    try:
        for suffix in suffixes:
            candidate = bundled_dir(kind) / f"{name_or_path}{suffix}"
            if "/" not in name_or_path and candidate.is_file():
                return candidate, f"{kind}/{name_or_path}{suffix}"
        path = Path(name_or_path)
        if path.is_file():
            return path, str(path)
        if path.is_dir():
            raise InputError(name_or_path, "is a directory, not a file")
        if path.exists():
            raise InputError(name_or_path, "is not a regular file")
    except (OSError, ValueError) as err:        # a name too long for the file system, a NUL byte in it
        raise InputError(name_or_path, f"cannot be a file name ({getattr(err, 'strerror', None) or err})") from None
    known = ", ".join(bundled_names(kind, suffixes[0]))
    if not known:
        raise InputError(name_or_path, "no such file")
    raise InputError(name_or_path, f"no such file, and not a bundled name (bundled {kind}: {known})")


INPUT_KINDS = {"soc": ("socs", (".yaml", ".yml")), "target": ("graphs", (".yaml", ".yml")),
               "draft": ("graphs", (".yaml", ".yml")), "trace": ("traces", (".jsonl",)),
               "target_device": ("mappings", (".yaml", ".yml")), "draft_device": ("mappings", (".yaml", ".yml"))}


def input_files(**names: str | None) -> tuple[str, ...]:
    """The files a command reads for its --soc, --target, --draft and --trace (bundled names resolved), so that no
    output may overwrite one; names that resolve to nothing are left to the command to refuse."""
    out = []
    for role, name in names.items():
        if not name or name == "none":
            continue
        kind, suffixes = INPUT_KINDS[role]
        try:
            out.append(str(resolve_file(kind, str(name), suffixes)[0]))
        except InputError:
            continue
    return tuple(out)
