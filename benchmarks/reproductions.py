"""Issue 15's reproductions as whole processes: each one's exit status, wall, peak RSS and its one line.

    python benchmarks/reproductions.py [--json FILE]

Each must end with exit 2 and one `error:` line within 10 s and 500 MB;
the script exits 1 if one does not. tests/cli/test_reproductions.py checks the same in-process.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECSOC = [sys.executable, "-m", "simulator.cli.main"]
WALL_LIMIT_S, RSS_LIMIT_MB = 10.0, 500.0
MEASURE = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "print(p.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024); "
           "print(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else '')")
BOMB = "a0: &a0 [1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))


def files(tmp: Path) -> dict[str, str]:
    """The bad files of the reproductions, written in `tmp`."""
    trace = (ROOT / "traces" / "translation-fp16.jsonl").read_text().splitlines()
    header = json.loads(trace[0])
    model = (ROOT / "graphs" / "llama-3.2-1b.yaml").read_text()
    soc = (ROOT / "socs" / "imx95.yaml").read_text()
    out = {
        "deep.yaml": "[" * 2000 + "]" * 2000,
        "deep.json": "[" * 5000 + "]" * 5000,
        "tinf.jsonl": json.dumps(header).rstrip("}") + ', "temperature": -Infinity}\n' + "\n".join(trace[1:]) + "\n",
        "tgamma.jsonl": json.dumps({**header, "record": "agreement", "gamma": 1_000_000_000}) + "\n"
                        + "\n".join(trace[1:]) + "\n",
        "hbig.yaml": re.sub(r"hidden_size: *\d+", "hidden_size: 1.536e+303", model),
        "lbig.yaml": re.sub(r"num_layers: *\d+", "num_layers: 1000000", model),
        "lhuge.yaml": re.sub(r"num_layers: *\d+", "num_layers: 1.0e+300", model),
        "bomb.yaml": BOMB + re.sub(r"peak_bandwidth_gb_s: *[0-9.]+", "peak_bandwidth_gb_s: *a8", soc, count=1),
        "mbomb.yaml": BOMB + re.sub(r"hidden_size: *\d+", "hidden_size: *a8", model, count=1),
        "rounds.log": "accepted 1/1000000000 draft tokens, the last target token is: (5)\n",
        "summary.log": "n_draft = 5\nn_predict = 999999999\nn_drafted = 100\nn_accept = 50\n",
    }
    for name, text in out.items():
        (tmp / name).write_text(text)
    return {name: str(tmp / name) for name in out}


def cases(f: dict[str, str], tmp: Path) -> list[tuple[str, list[str], int]]:
    """(reproduction, specsoc arguments, the exit status it must end with)."""
    o = str(tmp / "o.json")
    return [
        ("1 cpu:\u00b2", ["run", "--target-device", "cpu:\u00b2"], 2),
        ("1 cpu:1@\u00b2", ["run", "--target-device", "cpu:1@\u00b2"], 2),
        ("2 nested YAML SoC", ["run", "--soc", f["deep.yaml"]], 2),
        ("2 nested JSON SoC", ["run", "--soc", f["deep.json"]], 2),
        ("2 nested JSON model", ["run", "--target", f["deep.json"]], 2),
        ("2 nested trace", ["trace", "stats", f["deep.json"]], 2),
        ("2 nested plot --from", ["plot", "timeline", "--from", f["deep.json"], "--out", str(tmp / "x.png")], 2),
        ("3 run --seed -1", ["run", "--trace", "vllm-writing", "--seed", "-1"], 2),
        ("3 trace stats --seed -1", ["trace", "stats", "vllm-writing", "--seed", "-1"], 2),
        ("4 --json /proc/x.json", ["run", "--json", "/proc/x.json"], 2),
        ("5 temperature -Infinity", ["run", "--trace", f["tinf.jsonl"], "--json", o], 2),
        ("6 hidden_size 1.5e303 (target)", ["run", "--target", f["hbig.yaml"]], 2),
        ("6 hidden_size 1.5e303 (draft)", ["run", "--draft", f["hbig.yaml"]], 2),
        ("6 num_layers 1e6", ["run", "--target", f["lbig.yaml"]], 2),
        ("6 num_layers 1e300", ["run", "--target", f["lhuge.yaml"]], 2),
        ("7 alias bomb (SoC)", ["run", "--soc", f["bomb.yaml"]], 2),
        ("7 alias bomb (model)", ["run", "--target", f["mbomb.yaml"]], 2),
        ("8 header gamma 1e9", ["trace", "stats", f["tgamma.jsonl"]], 2),
        ("8 accepted 1/1e9 drafts", ["trace", "import", "--format", "llama-cpp", f["rounds.log"], "--out", o], 2),
        ("8 n_predict 999999999", ["trace", "import", "--format", "llama-cpp", f["summary.log"], "--out", o], 2),
        ("8 stats --gamma 999999999", ["trace", "stats", "vllm-writing", "--gamma", "999999999"], 2),
        ("9 --json o --timeline o", ["run", "--json", o, "--timeline", o], 2),
        ("10 check --threshold nan", ["check", "--threshold", "nan"], 2),
        ("10 figure --c inf", ["figure", "speedup-vs-alpha", "--c", "inf"], 2),
        ("11 --new-tokens 1000000", ["run", "--new-tokens", "1000000"], 2),
        ("11 100,000 samples x 131,000 tokens", ["run", "--samples", "100000", "--new-tokens", "131000",
                                                 "--prompt-tokens", "72"], 2),
        ("11 timeline past its budget", ["run", "--new-tokens", "400", "--samples", "2", "--timeline",
                                         str(tmp / "t.json"), "--timeline-max-mb", "100"], 2),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    rows, bad = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        f = files(Path(tmp))
        for name, command, want in cases(f, Path(tmp)):
            start = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", MEASURE, *SPECSOC, *command], capture_output=True, text=True,
                               cwd=ROOT, timeout=120)
            wall = time.perf_counter() - start
            code, rss, line = (p.stdout.splitlines() + ["", "", ""])[:3]
            ok = int(code) == want and wall <= WALL_LIMIT_S and float(rss) <= RSS_LIMIT_MB and \
                (want == 0 or line.startswith("error:"))
            bad += not ok
            rows.append({"reproduction": name, "exit": int(code), "wall_s": round(wall, 2),
                         "peak_rss_mb": round(float(rss), 1), "line": line[:160], "ok": ok})
            print(f"{'ok ' if ok else 'BAD'} {name:38} exit {code} {wall:5.2f} s {float(rss):6.1f} MB  {line[:90]}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
