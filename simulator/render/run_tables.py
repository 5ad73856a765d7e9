"""A run's results as rich tables: latency and throughput, speculation against its baseline, PUs and DRAM."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.analysis.paper import validated_reference
from simulator.llm.costs import precision_on
from simulator.llm.partition import Partition
from simulator.run.interval import Interval
from simulator.run.results import DecodingResults, SpeculativeResults
from simulator.run.scenario import ModelRun, Scenario

GB = 1e9


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:,.1f} ms"


def s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:,.3f} s"


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f} tokens/s"


def interval(ci95: Interval, samples: int) -> str:
    """A speedup's 95% interval over samples as a table cell: '1.64-1.72', or 'n/a (1 sample)' (none exists)."""
    if ci95 is None:
        return f"n/a ({samples} sample{'s' if samples != 1 else ''})"
    return f"{ci95[0]:.2f}-{ci95[1]:.2f}"


def interval_phrase(ci95: Interval, samples: int) -> str:
    """'95% CI 1.64-1.72, 64 samples', or '95% CI n/a: 1 sample'."""
    if ci95 is None:
        return f"95% CI n/a: {samples} sample{'s' if samples != 1 else ''}"
    return f"95% CI {interval(ci95, samples)}, {samples} samples"


def speedup_with_interval(speedup: float, ci95: Interval, samples: int) -> str:
    """'1.68x (95% CI 1.64-1.72, 64 samples)', or '1.51x (95% CI n/a: 1 sample)'."""
    return f"{speedup:.2f}x ({interval_phrase(ci95, samples)})"


def model_line(run: ModelRun, placement_label: str) -> str:
    return f"{run.spec.name} {run.precision.weights} on {placement_label}"


def scenario_line(scenario: Scenario) -> str:
    """One line: SoC, the models and where they run, how they draft, KV cache."""
    target_at, draft_at = scenario.placements()
    head = f"[bold]{scenario.soc.name}[/] · target {model_line(scenario.target, target_at.label)}"
    spec = scenario.speculation
    if spec is not None:
        head += f" · draft {model_line(spec.draft, draft_at.label)} · gamma {spec.gamma}, {spec.mode}"
    else:
        head += " · autoregressive (--draft none)"
    return head + f" · {'KV cache on' if scenario.kv_cache else 'no KV cache'}"


def hardware_line(scenario: Scenario) -> str:
    """For each model, where its streaming bandwidth and matmul rate come from: measured, borrowed from another
    cluster's measurement (an assumption), or the spec-sheet fallback."""
    target_at, draft_at = scenario.placements()
    runs = [(scenario.target, target_at)]
    if scenario.speculation is not None:
        runs.append((scenario.speculation.draft, draft_at))
    parts = []
    for run, at in runs:
        places = at.placements() if isinstance(at, Partition) else (at,)
        seen = {}
        for place in places:            # a partition's placements: each PU once, in the format it really runs
            for share in place.shares:
                seen.setdefault(share.pu.name, (share.pu, precision_on(run.precision, share).weights))
        for pu, weights in seen.values():
            bandwidth = "measured" if pu.bandwidth_measured else "spec"
            points = pu.matmul_measured.get(weights, ())
            rate = ("spec" if not points else
                    "borrowed (assumption)" if points[0].source.startswith("assumption:") else "measured")
            parts.append(f"{run.spec.name} on {pu.name}: bandwidth {bandwidth}, {weights} matmul {rate}")
    return "; ".join(parts)


def partition_lines(scenario: Scenario) -> list[str]:
    """For each partitioned model: its rules, its fallback, and the ops that fell back to it (with a handoff each
    way where the PU changes)."""
    runs = [("target", scenario.target)] + ([("draft", scenario.speculation.draft)] if scenario.speculation else [])
    lines = []
    for role, run in runs:
        p = run.partition
        if p is None:
            continue
        line = f"{role} partitioned: {', '.join(p['rules'])}; ops a PU cannot run go to {p['fallback']}"
        if p["fallbacks"]:
            ops = ", ".join(f"{f['op']} x{f['ops_per_pass']}" for f in p["fallbacks"])
            pus = ", ".join(dict.fromkeys(f["from"] for f in p["fallbacks"]))
            line += (f"; [bold]{sum(f['ops_per_pass'] for f in p['fallbacks'])} ops a pass fall back from {pus}[/] "
                     f"({ops}), each PU crossing a handoff")
        lines.append(line)
    return lines


def _workload_line(scenario: Scenario) -> str:
    samples = scenario.workload.samples
    n = len(samples)
    lengths = (f"prompts {sum(x.prompt_tokens for x in samples) / n:.0f} tokens · "
               f"outputs {sum(x.output_tokens for x in samples) / n:.0f} tokens" + (" on average" if n > 1 else ""))
    if scenario.speculation is None:
        return f"{n} sample{'s' if n > 1 else ''} · {lengths}"
    trace = scenario.workload.trace
    if trace.iid_alpha is not None:
        kind = f"synthetic i.i.d. alpha {trace.iid_alpha}"
    else:
        kind = f"trace {trace.label or trace.header.get('source') or trace.record}"
    return f"{n} sample{'s' if n > 1 else ''} ({kind}, seed {scenario.workload.seed}) · {lengths}"


def render_run(console: Console, scenario: Scenario, results: DecodingResults) -> None:
    console.print(f"{scenario_line(scenario)} · {scenario.granularity} granularity")
    calibration = scenario.soc.calibration
    console.print(f"[dim]calibration: {calibration or 'none (spec-derived values only)'}[/]")
    console.print(f"[dim]hardware: {hardware_line(scenario)}[/]")
    console.print(f"[dim]{_workload_line(scenario)}[/]")
    for line in partition_lines(scenario):
        console.print(line)
    if isinstance(results, SpeculativeResults):
        _render_speculative(console, scenario, results)
    else:
        _render_latency(console, scenario, results)
    _render_units(console, results)


def _render_latency(console: Console, scenario: Scenario, results: DecodingResults) -> None:
    tpot = results.time_per_output_token_s
    lat = Table(title="Latency and throughput (simulated)", title_justify="left")
    lat.add_column("metric")
    lat.add_column("value", justify="right")
    lat.add_row("time to first token", s(results.ttft_s))
    lat.add_row("time per output token: mean / p50 / p90", f"{ms(tpot.mean)} / {ms(tpot.p50)} / {ms(tpot.p90)}")
    lat.add_row("decode throughput", rate(results.decode_tokens_per_s))
    lat.add_row("roofline floor (weight bytes / peak DRAM)",
                f"{ms(results.roofline_floor_s_per_token)}/token = "
                f"{results.roofline_ceiling_tokens_per_s:,.2f} tokens/s "
                f"({results.weight_bytes_per_token_B / GB:,.2f} GB / "
                f"{scenario.soc.dram.peak_bandwidth_B_s / GB:,.1f} GB/s)")
    lat.add_row("total simulated time", s(results.total_time_s))
    console.print(lat)


def _render_speculative(console: Console, scenario: Scenario, results: SpeculativeResults) -> None:
    base = results.baseline
    table = Table(title="Speculative decoding against its baseline (simulated)", title_justify="left")
    table.add_column("metric")
    table.add_column("speculative", justify="right")
    table.add_column(f"baseline: target alone on {scenario.placements()[0].label}", justify="right")
    table.add_row("total time, all samples", s(results.total_time_s), s(base.total_time_s))
    table.add_row("tokens/s", rate(results.tokens_per_s), rate(base.tokens_per_s))
    table.add_row("time to first token (mean)", s(results.ttft_s), s(base.ttft_s))
    table.add_row("time per output token (mean)", ms(results.time_per_output_token_s.mean),
                  ms(base.time_per_output_token_s.mean))
    console.print(table)
    console.print(f"[bold]speedup {speedup_with_interval(results.speedup, results.speedup_ci95, results.samples)}[/] "
                  f"against the target alone, not speculating, on the same PU and cores, same samples and output "
                  f"lengths")
    reference = validated_reference(scenario)
    if reference:
        console.print(f"  {reference}")

    acc = Table(title="Acceptance", title_justify="left")
    acc.add_column("metric")
    acc.add_column("value", justify="right")
    acc.add_row("rounds", f"{results.rounds:,}")
    acc.add_row("mean drafts accepted per round", f"{results.mean_accepted_per_round:.3f}")
    acc.add_row("tokens per round (accepted + 1)", f"{results.tokens_per_round:.3f}")
    proposed = results.drafts_proposed
    acc.add_row("drafts accepted / proposed", f"{results.drafts_accepted:,} / {proposed:,}"
                + (f" ({results.drafts_accepted / proposed:.1%})" if proposed else ""))
    if results.drawn_agreement_positions:
        acc.add_row("agreements drawn (unknown in the trace)", f"{results.drawn_agreement_positions:,}")
    console.print(acc)

    split = Table(title="Where the time went, per processing unit", title_justify="left")
    for col in ("unit", "draft", "verify", "handoff", "idle"):
        split.add_column(col, justify="right" if col != "unit" else "left")
    for name, parts in results.time_split_s.items():
        split.add_row(name, s(parts.draft_s), s(parts.verify_s), s(parts.handoff_s), s(parts.idle_s))
    console.print(split)
    console.print(f"[dim]drafter time thrown away (overlap pre-drafts): {results.wasted_draft_s:.3f} s[/]")


def _render_units(console: Console, results: DecodingResults) -> None:
    pus = Table(title="Processing units and DRAM", title_justify="left")
    pus.add_column("unit")
    pus.add_column("busy", justify="right")
    pus.add_column("utilisation", justify="right")
    for name, busy in results.busy_s.items():
        pus.add_row(name, s(busy), f"{results.utilisation[name]:.1%}")
    bw = results.dram_bandwidth_B_s
    pus.add_row("DRAM", f"{results.dram_bytes_B / GB:,.2f} GB moved",
                f"mean {bw.mean / GB:,.2f} GB/s, peak {bw.peak / GB:,.2f} GB/s")
    console.print(pus)
    console.print(f"[dim]{results.ops_simulated:,} ops simulated; time lost to DRAM contention "
                  f"{results.dram_contention_s:.3f} s[/]")
