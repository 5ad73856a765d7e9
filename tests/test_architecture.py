"""The package structure holds: imports run one way, the engine knows nothing of LLMs, every module says what it
is for, and tests/ mirrors the packages. The checker is run on a broken tree too, so it is seen to fail."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: a package may import its own modules and those of packages before it, never one after it.
LAYERS = ("common", "hw", "engine", "llm", "traces", "decode", "run", "analysis", "render", "cli")
# What the engine must never see, whatever the order says: it runs plans of tasks, not models, tokens or traces.
ENGINE_NEVER = ("llm", "decode", "traces")


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path) -> dict[str, set[str]]:
    """Every module of root/simulator with the simulator modules it imports (at the top or inside functions)."""
    out = {}
    for path in sorted((root / "simulator").rglob("*.py")):
        name = module_name(root, path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names    # `from pkg import module`
                             if _is_module(root, f"{base}.{a.name}"))
        out[name] = {m for m in found if m == "simulator" or m.startswith("simulator.")}
    return out


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(root: Path) -> list[str]:
    """Each broken rule, one line each: an unknown package, an import upward, the engine seeing LLMs, a cycle."""
    graph = imports_of(root)
    found = []
    for module, targets in graph.items():
        mine = layer_of(module)
        if mine is not None and mine not in LAYERS:
            found.append(f"{module}: package {mine!r} is in no layer")
            continue
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs is None or theirs == mine:
                continue
            if theirs not in LAYERS:
                found.append(f"{module} imports {target}: package {theirs!r} is in no layer")
            elif mine is None:
                found.append(f"{module} imports {target}: the top-level package imports no role package")
            elif LAYERS.index(theirs) > LAYERS.index(mine):
                found.append(f"{module} imports {target}: {mine} may not import {theirs}, above it")
            if mine == "engine" and theirs in ENGINE_NEVER:
                found.append(f"{module} imports {target}: the engine knows nothing of {theirs}")
    modules = nx.DiGraph((m, t) for m, targets in graph.items() for t in targets if t in graph and t != m)
    for component in nx.strongly_connected_components(modules):
        if len(component) > 1:
            found.append(f"import cycle: {' -> '.join(sorted(component))}")
    return found


def test_imports_run_one_way_and_the_engine_knows_nothing_of_llms():
    assert violations(ROOT) == []


def test_the_checker_finds_each_kind_of_broken_rule(tmp_path):
    def write(path: str, text: str = "") -> None:
        f = tmp_path / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f'"""{path}"""\n{text}')

    write("simulator/__init__.py")
    for layer in ("engine", "llm", "hw", "decode", "extras"):
        write(f"simulator/{layer}/__init__.py")
    write("simulator/engine/engine.py", "from simulator.llm.costs import Planner\n")           # up, and into LLMs
    write("simulator/engine/dram.py", "def f():\n    from ..decode import loop\n")            # relative, in a function
    write("simulator/llm/costs.py", "from simulator.hw import soc\n")
    write("simulator/hw/soc.py", "import simulator.hw.placement\n")                          # a cycle within hw
    write("simulator/hw/placement.py", "from simulator.hw.soc import SoC\n")
    write("simulator/decode/loop.py")
    write("simulator/extras/x.py")
    write("simulator/decode/uses_extras.py", "from simulator.extras import x\n")
    found = violations(tmp_path)
    assert any("simulator.engine.engine imports simulator.llm.costs: engine may not import llm" in v for v in found)
    assert any("simulator.engine.engine imports simulator.llm.costs: the engine knows nothing of llm" in v for v in found)
    assert any("simulator.engine.dram imports simulator.decode" in v for v in found)
    assert any("import cycle: simulator.hw.placement -> simulator.hw.soc" in v for v in found)
    assert any(v.startswith("simulator.extras.x: package 'extras' is in no layer") for v in found)
    assert any(v.startswith("simulator.decode.uses_extras imports simulator.extras") for v in found)
    assert not any(v.startswith("simulator.llm.costs") for v in found)      # llm may import hw, below it


def test_every_module_says_what_it_is_for_and_every_package_in_one_line():
    for path in sorted((ROOT / "simulator").rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{path.relative_to(ROOT)} has no docstring"
        if path.name == "__init__.py" and path.parent.name in LAYERS:
            assert "\n" not in doc.strip(), f"{path.relative_to(ROOT)}: the package's purpose in one line"


def test_the_packages_are_the_layers_and_tests_mirror_them():
    packages = {p.parent.name for p in (ROOT / "simulator").glob("*/__init__.py")}
    assert packages == set(LAYERS)
    for layer in LAYERS:
        assert list((ROOT / "tests" / layer).glob("test_*.py")), f"tests/{layer}/ has no tests"
