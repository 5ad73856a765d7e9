"""Command-line pieces shared by the commands: the parser class, the flags of a scenario, and the ScenarioSpec
they give (run/builder.py builds and checks it)."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import fields, replace

from rich.console import Console

from simulator.cli.registry import seed
from simulator.common.errors import InputError
from simulator.hw.dtypes import COMPUTE_DTYPES, WEIGHT_FORMATS
from simulator.hw.soc import SoC
from simulator.llm.graph import GRANULARITIES
from simulator.run.builder import DEFAULT_ALPHA, DEFAULT_SAMPLES, DEFAULT_WEIGHTS, ScenarioSpec
from simulator.traces.trace import MAX_TOKENS
from simulator.run.scenario import MODES, ModelRun


DEFAULTS = ScenarioSpec()   # a flag's default is the builder's


def model_flags(cmd: argparse.ArgumentParser, role: str, device: bool = True) -> None:
    dtype = DEFAULT_WEIGHTS[role]
    cmd.add_argument(f"--{role}-dtype", choices=WEIGHT_FORMATS, metavar="FORMAT",
                     help=f"weight format, e.g. int8, fp16, q4_k_m, iq4_xs, gptq_4b_g128 (a wrong one lists them "
                          f"all; default: the model file's own, else {dtype})")
    cmd.add_argument(f"--{role}-act-dtype", choices=COMPUTE_DTYPES, help="activation format (default: follows weights)")
    cmd.add_argument(f"--{role}-kv-dtype", choices=COMPUTE_DTYPES, help="KV-cache format (default: activations')")
    if device:
        default = getattr(DEFAULTS, f"{role}_device")
        cmd.add_argument(f"--{role}-device", default=default,
                         help=f"cpu:K[@FIRST], cpu, a cluster name[:K] such as a76:4, gpu or npu; or a partition over "
                              f"several, e.g. 'cpu:4,L0-13=gpu,matmul=npu*0.5+cpu:4,fallback=cpu:4', or a mapping "
                              f"file.yaml (README: Beyond whole-model mapping) (default: {default})")


def pair_flags(cmd: argparse.ArgumentParser, run: bool = False) -> None:
    """The two models and their formats; with `run`, their devices too, and --draft none (plain decoding).
    Commands without `run` place the models themselves (see placed_pair)."""
    cmd.add_argument("--target", default=DEFAULTS.target,
                     help=f"target model: bundled name, graphs YAML, HF config.json or GGUF file (default: {DEFAULTS.target})")
    model_flags(cmd, "target", run)
    cmd.add_argument("--draft", default=DEFAULTS.draft, help=f"drafter model, the same forms (default: {DEFAULTS.draft})"
                     + ("; 'none' = plain autoregressive decoding" if run else ""))
    model_flags(cmd, "draft", run)


def soc_flags(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--soc", default=DEFAULTS.soc, help=f"bundled SoC name or YAML path (default: {DEFAULTS.soc})")
    cmd.add_argument("--uncalibrated", action="store_true",
                     help="ignore the SoC file's calibration section: spec-derived values and assumptions only")


def acceptance_flags(cmd: argparse.ArgumentParser, alpha_default: float = DEFAULT_ALPHA, plain: bool = True,
                     samples_default: int | None = None) -> None:
    """--trace or --alpha, --samples and --seed; `samples_default`: synthetic samples when --samples is not
    given (None: the builder's DEFAULT_SAMPLES, 1 without a drafter)."""
    acceptance = cmd.add_mutually_exclusive_group()
    acceptance.add_argument("--trace", metavar="NAME|FILE", help="acceptance trace (bundled name or JSONL file)")
    acceptance.add_argument("--alpha", type=float,
                            help=f"i.i.d. acceptance rate for synthetic samples (default: {alpha_default})")
    cmd.add_argument("--samples", type=int,
                     help="samples to decode: the first N of the trace (default: all), or N synthetic ones "
                          f"(default: {samples_default or DEFAULT_SAMPLES}" + ("; 1 with --draft none)" if plain else ")"))
    cmd.add_argument("--seed", type=seed, default=DEFAULTS.seed,
                     help=f"seed for synthetic samples and unknown agreements (default: {DEFAULTS.seed})")
    cmd.set_defaults(alpha_default=alpha_default, samples_default=samples_default)


def placed_pair(args: argparse.Namespace, **overrides) -> ScenarioSpec:
    """The ScenarioSpec of a command that places the drafter and the target itself (explore, figure, plot): both
    nominally on the first CPU cluster, which every SoC has; it needs a drafter."""
    if args.draft == "none":
        raise InputError("--draft", f"`specsoc {args.command}` places a drafter and a target: give a drafter, not 'none'")
    return scenario_spec(args, target_device="cpu", draft_device="cpu", **overrides)


def c_against_seq_len(args: argparse.Namespace) -> tuple[SoC, ModelRun, ModelRun, list[int], list[dict]]:
    """Fig. 6's rows from --cores and --seq-lens (figure and plot): (soc, target, draft, seq_lens, rows)."""
    from simulator.analysis.explore import c_vs_seq_len
    spec = placed_pair(args)
    soc = spec.load_soc()
    seq_lens = sorted(set(check_ints(args.seq_lens, "--seq-lens")))
    cores = check_ints(args.cores, "--cores")
    cluster = soc.first("cpu")
    if max(cores) > cluster.units:
        raise InputError("--cores", f"cluster {cluster.name} of {soc.name} has {cluster.units} cores, got {args.cores!r}")
    target, draft = spec.model_run(soc, "target"), spec.model_run(soc, "draft")
    return soc, target, draft, seq_lens, c_vs_seq_len(soc, target, draft, seq_lens, cores)


def check_ints(text: str, flag: str, high: int = MAX_TOKENS) -> list[int]:
    """A comma-separated list of whole numbers 1..high in ASCII digits (core counts, sequence lengths, gammas)."""
    parts = text.split(",")
    if not all(p.strip().isascii() and p.strip().isdigit() for p in parts) or len(parts) > 1000:
        raise InputError(flag, f"must be comma-separated whole numbers, got {text[:60]!r}")
    values = [int(p) for p in parts]
    if not 1 <= min(values) <= max(values) <= high:
        raise InputError(flag, f"must all be in 1..{high:,}, got {text[:60]!r}")
    return values


def run_flags(cmd: argparse.ArgumentParser, granularity: str = "op") -> None:
    """Every flag that defines a scenario (`specsoc run`, `specsoc check`)."""
    soc_flags(cmd)
    pair_flags(cmd, run=True)
    cmd.add_argument("--gamma", type=int, default=DEFAULTS.gamma, help=f"drafts per round (default: {DEFAULTS.gamma})")
    cmd.add_argument("--mode", choices=MODES, default=DEFAULTS.mode,
                     help="sequential: draft then verify (the paper); overlap: draft the next block during verify")
    acceptance_flags(cmd)
    cmd.add_argument("--prompt-tokens", type=int, default=DEFAULTS.prompt_tokens,
                     help=f"synthetic prompt length (default: {DEFAULTS.prompt_tokens}, the paper's S_L)")
    cmd.add_argument("--new-tokens", type=int, default=DEFAULTS.new_tokens,
                     help=f"synthetic output length (default: {DEFAULTS.new_tokens}; the paper's outputs are about as "
                          "long as inputs)")
    cmd.add_argument("--kv-cache", action=argparse.BooleanOptionalAction, default=DEFAULTS.kv_cache,
                     help="keep KV caches (default: off, the paper's setting: every pass recomputes the sequence)")
    cmd.add_argument("--granularity", choices=GRANULARITIES, default=granularity,
                     help=f"simulate each op, each layer, or a whole pass as one task (default: {granularity})")


def scenario_spec(args: argparse.Namespace, **overrides) -> ScenarioSpec:
    """The ScenarioSpec of this command's flags (the fields it has no flag for keep their defaults)."""
    values = {f.name: getattr(args, f.name) for f in fields(ScenarioSpec) if hasattr(args, f.name)}
    values["calibrated"] = not args.uncalibrated
    if hasattr(args, "alpha_default") and not args.trace:
        if args.alpha is None:
            values["alpha"] = args.alpha_default
        if args.samples is None and args.samples_default is not None:
            values["samples"] = args.samples_default
    return replace(ScenarioSpec(**values), **overrides)


@contextmanager
def progress_bar(console: Console, unit: str):
    """A transient rich progress bar, shown from the first report on; yields the (phase, done, total) callback
    the simulators call. A command that fails before any work prints nothing; without a terminal there is no
    bar (and rich's progress module is not even imported: start-up)."""
    if not console.is_terminal:
        yield lambda phase, done, total: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} " + unit),
               _rate(unit), TimeElapsedColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=console, transient=True)
    phases = {}

    def progress(phase: str, done: int, total: int) -> None:
        if not phases:
            bar.start()
        if phase not in phases:
            phases[phase] = bar.add_task(f"simulating {phase}", total=total)
        bar.update(phases[phase], completed=done)

    try:
        yield progress
    finally:
        if phases:
            bar.stop()


def _rate(unit: str):
    """A progress column: units done per second, once rich has measured it."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:.1f} {unit}/s" if task.speed else "")

    return Rate()
