"""`specsoc list`: the bundled SoCs, models and traces as rich tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.hw.soc import SoC
from simulator.llm.model import ModelSpec
from simulator.traces.trace import Trace


def render_bundled(console: Console, socs: dict[str, SoC], models: dict[str, ModelSpec],
                   traces: dict[str, Trace]) -> None:
    """One table each, by the name the flags take."""
    table = Table(title="Bundled SoCs (--soc)", title_justify="left")
    for col in ("name", "processing units", "DRAM", "measured"):
        table.add_column(col)
    for name, soc in socs.items():
        units = ", ".join(_unit(pu) for pu in soc.pus)
        table.add_row(name, units, f"{soc.dram.kind} {soc.dram.peak_bandwidth_B_s / 1e9:g} GB/s peak", _measured(soc))
    console.print(table)
    table = Table(title="Bundled models (--target, --draft)", title_justify="left")
    for col in ("name", "parameters", "layers", "hidden", "heads / KV heads", "vocab"):
        table.add_column(col)
    for name, m in models.items():
        table.add_row(name, f"{m.parameters() / 1e9:.2f} B", str(m.num_layers), str(m.hidden_size),
                      f"{m.num_heads} / {m.num_kv_heads}", f"{m.vocab_size:,}")
    console.print(table)
    table = Table(title="Bundled traces (--trace)", title_justify="left")
    for col in ("name", "record", "samples", "imitates"):
        table.add_column(col)
    for name, t in traces.items():
        table.add_row(name, t.record + (f" (gamma {t.gamma})" if t.gamma else ""), str(len(t.samples)),
                      str(t.header.get("imitates", t.header.get("source", ""))))
    console.print(table)


def _unit(pu) -> str:
    """'a55 (6 cores, 1.8 GHz)', 'mali-g310 (1 shader core(s), 1 GHz)', or 'neutron (NPU: 2 TOPS int8)'."""
    if pu.kind == "npu":
        peaks = ", ".join(f"{pu.clock_hz * pu.units * fpc / 1e12:.3g} TOPS {d}" for d, fpc in pu.flop_per_cycle.items())
        return f"{pu.name} (NPU: {peaks})"
    return f"{pu.name} ({pu.units} {'shader core(s)' if pu.kind == 'gpu' else 'cores'}, {pu.clock_hz / 1e9:g} GHz)"


def _measured(soc: SoC) -> str:
    """What the SoC's calibration measured: bandwidths and matmul rates by PU, or the fitted multipliers."""
    parts = []
    for pu in soc.pus:
        got = [f"{p.value / 1e9:.3g} GB/s on {p.units}" for p in pu.bandwidth_measured]
        got += [f"{fmt} {p.value / 1e9:.3g} GFLOP/s on {p.units}" for fmt, pts in pu.matmul_measured.items()
                for p in pts if not p.source.startswith("assumption:")]
        if got:
            parts.append(f"{pu.name}: " + ", ".join(got))
    if parts:
        return "; ".join(parts)
    return "multipliers fitted to the paper's c" if soc.calibration else "none (spec values)"
