"""Figures from data: Eq. 1 against alpha, c against sequence length, the explore heatmap and a run's timeline.

matplotlib is an optional dependency (`pip install 'specsoc[plot]'`): it is imported here lazily, by
require_matplotlib(), so the rest of specsoc never needs it. Figures are drawn on matplotlib.figure.Figure
objects with an explicit Agg canvas (pyplot is never imported, so nothing depends on a display and the caller's
global backend is left alone), in matplotlib's default style whatever the user's matplotlibrc says, and saved
deterministically: the same inputs give the same bytes (PNG without a Software tag, SVG without a date, with a
fixed hash salt and glyphs drawn as paths). Files appear whole or not at all.

Input files are read and checked by the modules that write them (analysis/explore.py, render/timeline.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from simulator.analysis.analytic import eq1, first_best
from simulator.analysis.explore import decision_label
from simulator.analysis.paper import TABLE_II, VALIDATED_ALPHA, VALIDATED_GAMMA, VALIDATED_SPEEDUP
from simulator.common.config import is_number
from simulator.common.errors import InputError
from simulator.common.output import write_bytes
from simulator.render.timeline import Timeline

FORMATS = ("png", "svg")
DPI = 150
INSTALL_HINT = "pip install 'specsoc[plot]'"


# ------------------------------------------------------------------------------------------------ plumbing

def require_matplotlib():
    """Import matplotlib, or fail with one line saying how to install it."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise InputError("matplotlib is not installed", INSTALL_HINT) from None
    return matplotlib


def output_format(path: str, flag: str = "--out") -> str:
    """'png' or 'svg', from the file's extension."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise InputError(flag, f"{path!r}: the format comes from the extension, which must be .png or .svg"
                                  f"{f', not .{ext}' if ext else ''}")
    return ext


def _style():
    """matplotlib's default style plus what makes the output deterministic, for drawing and saving."""
    from contextlib import ExitStack

    import matplotlib
    import matplotlib.style
    stack = ExitStack()
    stack.enter_context(matplotlib.style.context("default"))
    stack.enter_context(matplotlib.rc_context({"svg.hashsalt": "specsoc", "svg.fonttype": "path",
                                               "font.size": 10, "axes.titlesize": 11,
                                               "figure.constrained_layout.use": True}))
    return stack


def _figure(width: float, height: float, rows: int = 1, **kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, **kwargs)
    return fig, axes


def save(fig, path: str) -> None:
    """Render to memory, then write atomically (temporary file in the same directory, renamed)."""
    fmt = output_format(path)
    buf = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    fig.savefig(buf, format=fmt, dpi=DPI, metadata=metadata)
    write_bytes(path, buf.getvalue())


def render(draw, path: str, *args, **kwargs) -> None:
    """draw(*args, **kwargs) -> Figure, in the plotting style, saved to path."""
    with _style():
        fig = draw(*args, **kwargs)
        save(fig, path)


# ------------------------------------------------------------------------------------- speedup vs alpha

def speedup_vs_alpha(c: float, gamma_max: int, paper: bool):
    """Fig. 7: Eq. 1 against alpha, one line per gamma, the break-even line, optionally the paper's points."""
    import matplotlib
    fig, ax = _figure(8.0, 5.2)
    alphas = np.linspace(0.0, 1.0, 401)
    cmap = matplotlib.colormaps["viridis"]
    for g in range(1, gamma_max + 1):
        colour = cmap(0.9 * (g - 1) / max(gamma_max - 1, 1))
        ax.plot(alphas, [eq1(a, g, c) for a in alphas], color=colour, lw=1.6, label=f"γ = {g}")
    ax.axhline(1.0, color="0.3", ls="--", lw=1.2, label="break-even (1.0x)")
    if paper:
        ax.plot([VALIDATED_ALPHA], [VALIDATED_SPEEDUP], "o", ms=8, color="crimson", mec="black", zorder=5,
                label=f"paper, board: {VALIDATED_SPEEDUP:.2f}x at α {VALIDATED_ALPHA}, γ {VALIDATED_GAMMA}")
        _, gamma, _, speedup = TABLE_II[1]
        ax.plot([0.90], [speedup], "s", ms=8, color="darkorange", mec="black", zorder=5,
                label=f"paper, Table II k=1: {speedup:.2f}x at α 0.90, γ {gamma}")
        ax.annotate("measured on the board",
                    (VALIDATED_ALPHA, VALIDATED_SPEEDUP), xytext=(0.925, VALIDATED_SPEEDUP + 0.27), ha="right",
                    fontsize=9, arrowprops={"arrowstyle": "->", "color": "0.2", "shrinkB": 5})
        ax.annotate("Table II, k = 1", (0.90, speedup),
                    xytext=(0.875, speedup + 0.1), ha="right", fontsize=9,
                    arrowprops={"arrowstyle": "->", "color": "0.2", "shrinkB": 5})
    top = max(eq1(1.0, g, c) for g in range(1, gamma_max + 1))
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, max(top, 2.0 if paper else 1.2) * 1.05)
    ax.set_xlabel("acceptance rate α (probability a draft is accepted, 0..1)")
    ax.set_ylabel("expected speedup (× over the target alone)")
    ax.set_title(f"Eq. 1 (Leviathan et al.): expected speedup against α, γ = 1..{gamma_max}, c = {c:g}"
                 + ("\nand the paper's points (i.MX 95: 3B int8 target on one A55 core, 1B fp16 drafter on the GPU)"
                    if paper else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, ncol=2 if gamma_max > 4 else 1)
    return fig


# ----------------------------------------------------------------------------------- c vs sequence length

def c_vs_seq_len(rows: list[dict], seq_lens: list[int], title: str):
    """Fig. 6: c against S_L, one line per (cores, mapping) row of explore.c_vs_seq_len."""
    fig, ax = _figure(10.0, 5.2)
    markers = "os^Dv<>p*h"
    ks = sorted({r["cores"] for r in rows})
    styles = ["-", "--", ":", "-."]
    for i, r in enumerate(rows):
        label = f"{r['draft_device']} -> {r['target_device']}" + (f" (k={r['cores']})" if len(ks) > 1 else "")
        ax.plot(seq_lens, [r["c"][n] for n in seq_lens], marker=markers[i % len(markers)], lw=1.5, ms=5,
                ls=styles[ks.index(r["cores"]) % len(styles)], color=f"C{i % 10}", label=label)
    ax.axhline(1.0, color="0.3", ls="--", lw=1.0, label="c = 1: the drafter is as slow as the target")
    ax.set_xscale("log", base=2)
    ax.set_xticks(seq_lens, [str(n) for n in seq_lens])
    ax.minorticks_off()
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("sequence length S_L (tokens, log scale)")
    ax.set_ylabel("c = t(draft pass) / t(target pass) (ratio)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(title="drafter -> target", fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


# ------------------------------------------------------------------------------------------- heatmap

def _side(label: str, m: dict) -> str:
    """A placement label with the variant's CPU cores normalised to 'cpu'."""
    if label == m["cluster"] or label.startswith(f"{m['cluster']}:"):
        return "cpu"
    return label


def heatmap_cells(doc: dict) -> tuple[list[str], list[str], dict, str]:
    """(rows, columns, {(row, col): (speedup, gamma, chosen)}, which) where which is 'simulated' or 'Eq. 1', from a
    document of analysis.explore.read_explore.

    The value is the best speedup over gamma >= 1 (below 1.0 when speculating never pays for that mapping),
    simulated when the file has simulations, else Eq. 1; chosen marks the variant's decision.
    """
    simulated = all("speedup_simulated_by_gamma" in m or "speedup_simulated" in m for m in doc["mappings"])
    rows, cols, cells = [], [], {}
    chosen = {}
    for v in doc["variants"]:
        decision = v.get("simulated_decision") if simulated else v
        if isinstance(decision, dict) and decision.get("speculate") and isinstance(decision.get("mapping"), str):
            chosen[(v["cluster"], v["cores"])] = decision["mapping"]
    for m in doc["mappings"]:
        row = f"{m['cluster']}:{m['cores']}"
        col = f"{_side(m['draft_device'], m)} -> {_side(m['target_device'], m)}"
        rows += [row] if row not in rows else []
        cols += [col] if col not in cols else []
        table = m.get("speedup_simulated_by_gamma" if simulated else "speedup_eq1_by_gamma")
        if table:
            by_gamma = sorted((int(g), s) for g, s in table.items())
            gamma, speedup = first_best(by_gamma[1:], by_gamma[0])
        elif simulated:
            gamma, speedup = m.get("best_gamma_simulated", 0), m["speedup_simulated"]
        else:
            gamma, speedup = m["best_gamma"], m["speedup_eq1"]
        is_chosen = chosen.get((m["cluster"], m["cores"])) == decision_label(m["draft_device"], m["target_device"])
        cells[(row, col)] = (float(speedup), int(gamma), is_chosen)
    return rows, cols, cells, "simulated" if simulated else "Eq. 1"


def heatmap(doc: dict):
    import matplotlib
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle
    rows, cols, cells, which = heatmap_cells(doc)
    c_of = {(f"{m['cluster']}:{m['cores']}", f"{_side(m['draft_device'], m)} -> {_side(m['target_device'], m)}"): m["c"]
            for m in doc["mappings"]}
    grid = np.full((len(rows), len(cols)), np.nan)
    for (r, c), (s, _, _) in cells.items():
        grid[rows.index(r), cols.index(c)] = s
    values = grid[~np.isnan(grid)]
    low, high = min(float(values.min()), 0.99), max(float(values.max()), 1.01)
    spread = max(1.0 - low, high - 1.0)
    norm = TwoSlopeNorm(vcenter=1.0, vmin=1.0 - spread, vmax=1.0 + spread)
    cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="0.85")
    fig, ax = _figure(1.9 * len(cols) + 3.2, 0.55 * len(rows) + 2.6)
    image = ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto")
    for (r, c), (s, gamma, is_chosen) in cells.items():
        i, j = rows.index(r), cols.index(c)
        dark = abs(norm(s) - 0.5) > 0.3
        ax.text(j, i, f"{s:.2f}x  γ{gamma}" + ("" if s > 1.0 else "  (no)") + f"\nc = {c_of[(r, c)]:.2f}",
                ha="center", va="center",
                fontsize=9, color="white" if dark else "black", fontweight="bold" if is_chosen else "normal")
        if is_chosen:
            ax.add_patch(Rectangle((j - 0.48, i - 0.46), 0.96, 0.92, fill=False, lw=2.0, ec="black"))
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("mapping: drafter -> target (cpu = the variant's k cores)")
    ax.set_ylabel("design variant (CPU cluster:k cores)")
    ax.tick_params(length=0)
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label(f"speedup, {which} (× over the target alone on the k cores)")
    alpha = doc.get("alpha")
    head = [str(doc.get("soc", "?")) + " design space"]
    if is_number(alpha):
        head.append(f"α {alpha:.2f}")
    if is_number(doc.get("seq_len")):
        head.append(f"S_L {doc['seq_len']}")
    if which == "simulated" and is_number(doc.get("samples")):
        head.append(f"simulated, {doc['samples']} sample{'' if doc['samples'] == 1 else 's'}")
    ax.set_title(" · ".join(head) + f"\nbest speedup over γ ≥ 1 per mapping ({which}); boxed: the variant's choice; "
                 "(no): speculating never pays", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------- timeline

def busy_per_bin(starts_us, ends_us, weights, edges_us) -> np.ndarray:
    """Integral of sum(weight x [start <= t < end]) over each bin, exactly (in weight x microseconds)."""
    s = np.asarray(starts_us, dtype=float)
    e = np.asarray(ends_us, dtype=float)
    w = np.asarray(weights, dtype=float)

    def area(points, t):   # sum over events of w * max(0, t - point), for every t
        o = np.argsort(points, kind="stable")
        p, ww = points[o], w[o]
        cw, cwp = np.concatenate([[0.0], np.cumsum(ww)]), np.concatenate([[0.0], np.cumsum(ww * p)])
        k = np.searchsorted(p, t, side="right")
        return t * cw[k] - cwp[k]

    cumulative = area(s, edges_us) - area(e, edges_us)
    return np.diff(cumulative)


def step_mean_per_bin(times_us, values, edges_us) -> np.ndarray:
    """Time average over each bin of the step function values[i] on [times[i], times[i+1]) (0 before times[0])."""
    t = np.asarray(times_us, dtype=float)
    v = np.asarray(values, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(v[:-1] * np.diff(t))])     # integral up to each step time

    def integral(x):
        k = np.searchsorted(t, x, side="right") - 1
        inside = k >= 0
        out = np.zeros_like(x, dtype=float)
        out[inside] = cumulative[k[inside]] + v[k[inside]] * (x[inside] - t[k[inside]])
        return out

    edges = np.asarray(edges_us, dtype=float)
    return np.diff(integral(edges)) / np.diff(edges)


def step_max_per_bin(times_us, values, edges_us) -> np.ndarray:
    """The highest value the step function takes, for a positive time, within each bin."""
    t = np.asarray(times_us, dtype=float)
    v = np.asarray(values, dtype=float)
    lengths = np.diff(np.append(t, np.inf))
    out = np.zeros(len(edges_us) - 1)
    for i, (lo, hi) in enumerate(zip(edges_us[:-1], edges_us[1:])):
        first = max(int(np.searchsorted(t, lo, side="right")) - 1, 0)
        last = int(np.searchsorted(t, hi, side="left"))
        seg_v, seg_len = v[first:last], lengths[first:last]
        seg_v = seg_v[seg_len > 0] if (seg_len > 0).any() else seg_v
        out[i] = seg_v.max() if len(seg_v) else 0.0
    return out


def timeline(data: Timeline, bins: int = 400):
    from matplotlib.lines import Line2D
    total_us = data.total_s * 1e6
    edges = np.linspace(0.0, total_us, bins + 1)
    width = edges[1] - edges[0]
    fig, (top, bottom) = _figure(10.0, 6.6, rows=2, sharex=True, height_ratios=[1, 1.25])
    colours = {p.name: f"C{i % 10}" for i, p in enumerate(data.pus)}
    edges_s = edges / 1e6
    for p in data.pus:
        util = busy_per_bin(p.starts_us, p.ends_us, p.cores, edges) / (width * p.units) * 100.0
        mean = float(util.mean())
        top.stairs(util, edges_s, color=colours[p.name], lw=1.2, fill=False,
                   label=f"{p.label()}: mean {mean:.0f}%")
        top.stairs(util, edges_s, color=colours[p.name], alpha=0.18, fill=True)
    if 0 < len(data.round_starts_us) <= 200:
        for ts in data.round_starts_us:
            top.axvline(ts / 1e6, color="0.5", lw=0.5, alpha=0.5, zorder=0)
            bottom.axvline(ts / 1e6, color="0.5", lw=0.5, alpha=0.5, zorder=0)
    top.set_ylim(0, 124)
    top.set_yticks(range(0, 101, 20))
    top.set_ylabel("utilisation\n(% of the PU's cores busy)")
    handles, labels = top.get_legend_handles_labels()
    if 0 < len(data.round_starts_us) <= 200:
        handles.append(Line2D([], [], color="0.5", lw=0.8))
        labels.append(f"round starts ({len(data.round_starts_us)} rounds)")
    top.legend(handles, labels, loc="upper center", fontsize=8, framealpha=0.9, ncol=len(handles))
    top.grid(True, alpha=0.3)
    top.set_title(f"{data.soc}: processing-unit utilisation ({bins} bins of {_duration(width / 1e6)}) and DRAM bandwidth, "
                  f"{data.total_s:.3g} s simulated" + (f", {data.ops:,} ops" if data.ops else ""), fontsize=10)

    base = np.zeros(bins)
    for p in data.pus:
        share = data.shares_GB_s.get(p.name)
        if share is None or not share.any():
            continue
        mean = step_mean_per_bin(data.counter_us, share, edges)
        bottom.stairs(base + mean, edges_s, baseline=base, fill=True, color=colours[p.name], alpha=0.6, lw=0,
                      label=f"{p.name} share (mean per bin)")
        base = base + mean
    bottom.stairs(step_max_per_bin(data.counter_us, data.total_GB_s, edges), edges_s, color="black", lw=0.8,
                  label=f"total, highest within each bin (run: max {data.total_GB_s.max():.2f}, "
                        f"mean {_time_mean(data):.2f} GB/s)")
    bottom.axhline(data.peak_GB_s, color="crimson", ls="--", lw=1.2, label=f"DRAM peak {data.peak_GB_s:g} GB/s")
    if data.usable_GB_s is not None:
        bottom.axhline(data.usable_GB_s, color="crimson", ls=":", lw=1.2,
                       label=f"DRAM usable {data.usable_GB_s:g} GB/s (peak x achievable)")
    bottom.set_ylim(0, data.peak_GB_s * 1.12)
    bottom.set_xlim(0, data.total_s)
    bottom.set_ylabel("DRAM bandwidth in use\n(GB/s, per PU stacked)")
    bottom.set_xlabel("simulated time (s)")
    bottom.legend(loc="upper right", fontsize=8, framealpha=0.9, ncol=2)
    bottom.grid(True, alpha=0.3)
    return fig


def _duration(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _time_mean(data: Timeline) -> float:
    return float(step_mean_per_bin(data.counter_us, data.total_GB_s, np.array([0.0, data.total_s * 1e6]))[0])


# ------------------------------------------------------------------------------------- validation

def _validation(points: list[tuple[str, float, float]]):
    """Predicted against measured tok/s, log-log, with the y = x line and a +-10% band."""
    fig, ax = _figure(7.0, 6.0)
    values = [v for _l, m, p in points for v in (m, p)]
    lo, hi = min(values) / 1.5, max(values) * 1.5
    xs = np.geomspace(lo, hi, 50)
    ax.fill_between(xs, xs * 0.9, xs * 1.1, color="0.85", label="within 10%")
    ax.plot(xs, xs, color="0.3", lw=1.0, label="predicted = measured")
    for label, measured, predicted in points:
        ax.plot([measured], [predicted], "o", ms=6)
        ax.annotate(label, (measured, predicted), fontsize=6, xytext=(4, 4), textcoords="offset points")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="measured tokens/s",
           ylabel="predicted tokens/s", title="specsoc validate: predicted against measured")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def validation_plot(path: str, points: list[tuple[str, float, float]]) -> None:
    render(_validation, path, points)


# ------------------------------------------------------------------------------------- sweeps

def sweep_figure(table: dict, x: str, y: str, color: str | None, heatmap: bool, subtitle: str):
    """Lines of y against x, one per colour value; or a heatmap of colour (rows) x x (columns)."""
    fig, ax = _figure(8.0, 5.2)
    if heatmap:
        rows = list(table)
        cols = sorted({c for row in table.values() for c in row}, key=lambda v: (isinstance(v, str), v if not isinstance(v, str) else 0, str(v)))
        grid = np.array([[table[r].get(c, np.nan) for c in cols] for r in rows], dtype=float)
        image = ax.imshow(grid, aspect="auto", cmap="viridis", origin="lower")
        ax.set_xticks(range(len(cols)), [str(c) for c in cols], rotation=45)
        ax.set_yticks(range(len(rows)), [str(r) for r in rows])
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="white")
        fig.colorbar(image, ax=ax, label=y)
        ax.set(xlabel=x, ylabel=color)
    else:
        for key, row in table.items():
            ax.plot([_num(v) for v in row], list(row.values()), "o-", ms=4, label=f"{color} = {key}" if color else y)
        ax.set(xlabel=x, ylabel=y)
        if color:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ax.set_title(f"{y} against {x}\n{subtitle}", fontsize=9)
    return fig


def _num(value):
    return value if isinstance(value, (int, float)) else str(value)
