"""Rendering results: rich tables for people, a JSON document for programs (written atomically)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from simulator.common.errors import InputError

GB = 1e9


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


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:,.1f} ms"


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:,.3f} s"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f} tokens/s"


def _model_line(role: dict) -> str:
    return f"{role['model']['name']} {role['weights_dtype']} on {role['placement']}"


def _workload_line(scenario: dict) -> str:
    w = scenario["workload"]
    trace = w["trace"]
    n = w["samples"]
    lengths = (f"prompts {w['prompt_tokens_total'] / n:.0f} tokens · outputs {w['output_tokens_total'] / n:.0f} tokens"
               + (" on average" if n > 1 else ""))
    if not isinstance(scenario["draft"], dict):
        return f"{n} sample{'s' if n > 1 else ''} · {lengths}"
    if trace.get("synthetic") and trace.get("generator", {}).get("name") == "iid" and "alpha" in trace["generator"]:
        kind = f"synthetic i.i.d. alpha {trace['generator']['alpha']}"
    else:
        kind = f"trace {trace.get('file') or trace.get('source') or trace['record']}"
    return f"{n} sample{'s' if n > 1 else ''} ({kind}, seed {w['seed']}) · {lengths}"


def render_run(console: Console, scenario: dict, results: dict) -> None:
    kv = "KV cache on" if scenario["kv_cache"] else "no KV cache"
    spec = isinstance(scenario["draft"], dict)
    head = f"[bold]{scenario['soc']['name']}[/] · target {_model_line(scenario['target'])}"
    if spec:
        head += f" · draft {_model_line(scenario['draft'])} · gamma {scenario['gamma']}, {scenario['mode']}"
    else:
        head += " · autoregressive (--draft none)"
    console.print(f"{head} · {kv} · {scenario['granularity']} granularity")
    calibration = scenario["soc"]["calibration"]
    console.print(f"[dim]calibration: {'none (spec-derived values only)' if calibration.startswith('none') else calibration}[/]")
    console.print(f"[dim]{_workload_line(scenario)}[/]")
    if spec:
        _render_speculative(console, scenario, results)
    else:
        _render_latency(console, scenario, results)
    _render_units(console, results)


def _render_latency(console: Console, scenario: dict, results: dict) -> None:
    tpot = results["time_per_output_token_s"]
    lat = Table(title="Latency and throughput (simulated)", title_justify="left")
    lat.add_column("metric")
    lat.add_column("value", justify="right")
    lat.add_row("time to first token", _s(results["ttft_s"]))
    lat.add_row("time per output token: mean / p50 / p90",
                f"{_ms(tpot['mean'])} / {_ms(tpot['p50'])} / {_ms(tpot['p90'])}")
    lat.add_row("decode throughput", _rate(results["decode_tokens_per_s"]))
    lat.add_row("roofline floor (weight bytes / peak DRAM)",
                f"{_ms(results['roofline_floor_s_per_token'])}/token = "
                f"{results['roofline_ceiling_tokens_per_s']:,.2f} tokens/s "
                f"({results['weight_bytes_per_token_B'] / GB:,.2f} GB / "
                f"{scenario['soc']['dram']['peak_bandwidth_B_s'] / GB:,.1f} GB/s)")
    lat.add_row("total simulated time", _s(results["total_time_s"]))
    console.print(lat)


def _render_speculative(console: Console, scenario: dict, results: dict) -> None:
    from simulator.analysis.paper import validated_reference
    base = results["baseline"]
    table = Table(title="Speculative decoding against its baseline (simulated)", title_justify="left")
    table.add_column("metric")
    table.add_column("speculative", justify="right")
    table.add_column(f"baseline: target alone on {scenario['target']['placement']}", justify="right")
    table.add_row("total time, all samples", _s(results["total_time_s"]), _s(base["total_time_s"]))
    table.add_row("tokens/s", _rate(results["tokens_per_s"]), _rate(base["tokens_per_s"]))
    table.add_row("time to first token (mean)", _s(results["ttft_s"]), _s(base["ttft_s"]))
    table.add_row("time per output token (mean)", _ms(results["time_per_output_token_s"]["mean"]),
                  _ms(base["time_per_output_token_s"]["mean"]))
    console.print(table)
    console.print(f"[bold]speedup {results['speedup']:.2f}x[/] against the target alone, not speculating, on the same "
                  f"PU and cores, same samples and output lengths")
    reference = validated_reference(scenario)
    if reference:
        console.print(f"  {reference}")

    acc = Table(title="Acceptance", title_justify="left")
    acc.add_column("metric")
    acc.add_column("value", justify="right")
    acc.add_row("rounds", f"{results['rounds']:,}")
    acc.add_row("mean drafts accepted per round", f"{results['mean_accepted_per_round']:.3f}")
    acc.add_row("tokens per round (accepted + 1)", f"{results['tokens_per_round']:.3f}")
    proposed = results["drafts_proposed"]
    acc.add_row("drafts accepted / proposed",
                f"{results['drafts_accepted']:,} / {proposed:,}" + (f" ({results['drafts_accepted'] / proposed:.1%})" if proposed else ""))
    if results["drawn_agreement_positions"]:
        acc.add_row("agreements drawn (unknown in the trace)", f"{results['drawn_agreement_positions']:,}")
    console.print(acc)

    split = Table(title="Where the time went, per processing unit", title_justify="left")
    for col in ("unit", "draft", "verify", "handoff", "idle"):
        split.add_column(col, justify="right" if col != "unit" else "left")
    for name, parts in results["time_split_s"].items():
        split.add_row(name, _s(parts["draft_s"]), _s(parts["verify_s"]), _s(parts["handoff_s"]), _s(parts["idle_s"]))
    console.print(split)
    console.print(f"[dim]drafter time thrown away (overlap pre-drafts): {results['wasted_draft_s']:.3f} s[/]")


def _render_units(console: Console, results: dict) -> None:
    pus = Table(title="Processing units and DRAM", title_justify="left")
    pus.add_column("unit")
    pus.add_column("busy", justify="right")
    pus.add_column("utilisation", justify="right")
    for name, busy in results["busy_s"].items():
        pus.add_row(name, _s(busy), f"{results['utilisation'][name]:.1%}")
    bw = results["dram_bandwidth_B_s"]
    pus.add_row("DRAM", f"{results['dram_bytes_B'] / GB:,.2f} GB moved",
                f"mean {bw['mean'] / GB:,.2f} GB/s, peak {bw['peak'] / GB:,.2f} GB/s")
    console.print(pus)
    console.print(f"[dim]{results['ops_simulated']:,} ops simulated; time lost to DRAM contention "
                  f"{results['dram_contention_s']:.3f} s[/]")
