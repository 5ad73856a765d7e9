"""Rendering results: rich tables for people, a JSON document for programs (written atomically)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .errors import InputError

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
    check_output_path(path)
    target = Path(path)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
    directory = target.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:,.1f} ms"


def render_run(console: Console, scenario: dict, results: dict) -> None:
    target = scenario["target"]
    kv = "KV cache on" if scenario["kv_cache"] else "no KV cache"
    console.print(f"[bold]{scenario['soc']['name']}[/] · {target['model']['name']} {target['weights_dtype']} on "
                  f"{target['placement']} · prompt {scenario['prompt_tokens']} tokens · {scenario['new_tokens']} new tokens"
                  f" · {kv} · {scenario['granularity']} granularity · autoregressive (--draft none)")

    tpot = results["time_per_output_token_s"]
    lat = Table(title="Latency and throughput (simulated)", title_justify="left")
    lat.add_column("metric")
    lat.add_column("value", justify="right")
    lat.add_row("time to first token", f"{results['ttft_s']:,.3f} s")
    lat.add_row("time per output token: mean / p50 / p90",
                f"{_ms(tpot['mean'])} / {_ms(tpot['p50'])} / {_ms(tpot['p90'])}")
    tps = results["decode_tokens_per_s"]
    lat.add_row("decode throughput", "n/a" if tps is None else f"{tps:,.2f} tokens/s")
    lat.add_row("roofline floor (weight bytes / peak DRAM)",
                f"{_ms(results['roofline_floor_s_per_token'])}/token = "
                f"{results['roofline_ceiling_tokens_per_s']:,.2f} tokens/s "
                f"({results['weight_bytes_per_token_B'] / GB:,.2f} GB / "
                f"{scenario['soc']['dram']['peak_bandwidth_B_s'] / GB:,.1f} GB/s)")
    lat.add_row("total simulated time", f"{results['total_time_s']:,.3f} s")
    console.print(lat)

    pus = Table(title="Processing units and DRAM", title_justify="left")
    pus.add_column("unit")
    pus.add_column("busy", justify="right")
    pus.add_column("utilisation", justify="right")
    for name, busy in results["busy_s"].items():
        pus.add_row(name, f"{busy:,.3f} s", f"{results['utilisation'][name]:.1%}")
    bw = results["dram_bandwidth_B_s"]
    pus.add_row("DRAM", f"{results['dram_bytes_B'] / GB:,.2f} GB moved",
                f"mean {bw['mean'] / GB:,.2f} GB/s, peak {bw['peak'] / GB:,.2f} GB/s")
    console.print(pus)
    console.print(f"[dim]{results['ops_simulated']:,} ops simulated; time lost to DRAM contention "
                  f"{results['dram_contention_s']:.3f} s[/]")
