"""`specsoc plot`: every kind writes a real, non-blank image; bad input is one line, exit 2, and no file.

Inputs come from real runs of the other commands, in-process: `specsoc run --timeline` and `specsoc explore --json`.
"""

from __future__ import annotations

import json
import sys

import pytest

matplotlib = pytest.importorskip("matplotlib")
import matplotlib.image  # noqa: E402

from simulator.cli.main import main  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(argv, capsys):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err, *needles):
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == 2, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {err!r}"
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000, f"{path.name}: only {len(data)} bytes"
    pixels = matplotlib.image.imread(str(path))
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert float(pixels[..., :3].std()) > 0.01, "the image is blank"


@pytest.fixture(scope="module")
def timeline_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("timeline") / "t.json"
    assert main(["run", "--granularity", "layer", "--samples", "1", "--timeline", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def explore_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("explore") / "explore.json"
    assert main(["explore", "--no-simulate", "--json", str(path)]) == 0
    return path


def test_speedup_vs_alpha_png_and_deterministic_svg(tmp_path, capsys):
    png = tmp_path / "alpha.png"
    code, out, err = run_cli(["plot", "speedup-vs-alpha", "--c", "0.41", "--paper", "--out", png], capsys)
    assert code == 0, err
    assert_png(png)
    assert str(png) in out
    svgs = [tmp_path / "a.svg", tmp_path / "b.svg"]
    for svg in svgs:
        code, _, err = run_cli(["plot", "speedup-vs-alpha", "--gamma-max", "4", "--out", svg], capsys)
        assert code == 0, err
    first = svgs[0].read_bytes()
    assert first.lstrip().startswith(b"<?xml") and b"<svg" in first and len(first) > 10_000
    assert first == svgs[1].read_bytes(), "the same inputs must give the same SVG bytes"


def test_c_vs_seq_len_png(tmp_path, capsys):
    png = tmp_path / "c.png"
    code, _, err = run_cli(["plot", "c-vs-seq-len", "--cores", "1,2", "--seq-lens", "16,63,256", "--out", png], capsys)
    assert code == 0, err
    assert_png(png)


def test_heatmap_from_explore_json(tmp_path, capsys, explore_json):
    png = tmp_path / "heat.png"
    code, _, err = run_cli(["plot", "heatmap", "--from", explore_json, "--out", png], capsys)
    assert code == 0, err
    assert_png(png)


def test_heatmap_cells_normalise_the_cpu_and_keep_the_variants(explore_json):
    from simulator.analysis.explore import read_explore
    from simulator.render.plots import heatmap_cells
    rows, cols, cells, which = heatmap_cells(read_explore(str(explore_json)))
    assert which == "Eq. 1"
    assert rows == [f"a55:{k}" for k in range(1, 7)]
    assert set(cols) == {"cpu -> cpu", "cpu -> mali-g310", "mali-g310 -> cpu", "mali-g310 -> mali-g310"}
    speedup, gamma, chosen = cells[("a55:1", "mali-g310 -> cpu")]
    assert chosen and gamma >= 1 and speedup > 1.3      # Table II's k = 1 choice: the GPU drafter


def test_timeline_png_from_a_real_run(tmp_path, capsys, timeline_json):
    png = tmp_path / "timeline.png"
    code, _, err = run_cli(["plot", "timeline", "--from", timeline_json, "--out", png], capsys)
    assert code == 0, err
    assert_png(png)


def test_timeline_data_agrees_with_the_run(timeline_json):
    import numpy as np

    from simulator.render.plots import busy_per_bin, step_mean_per_bin
    from simulator.render.timeline import read_timeline
    data = read_timeline(str(timeline_json))
    assert data.soc == "imx95" and data.peak_GB_s == pytest.approx(25.6)
    units = {p.name: p.units for p in data.pus}
    assert units == {"a55": 6, "mali-g310": 1, "neutron": 1}
    edges = np.linspace(0.0, data.total_s * 1e6, 401)
    for p in data.pus:
        busy = busy_per_bin(p.starts_us, p.ends_us, p.cores, edges) / (np.diff(edges) * p.units)
        assert busy.min() >= -1e-9 and busy.max() <= 1 + 1e-6
    # The bins conserve the bytes: mean bandwidth per bin x bin width = the counter's integral.
    total = step_mean_per_bin(data.counter_us, data.total_GB_s, edges)
    whole = step_mean_per_bin(data.counter_us, data.total_GB_s, edges[[0, -1]])
    assert total.mean() == pytest.approx(whole[0], rel=1e-9)
    assert sum(data.shares_GB_s[n] for n in units) == pytest.approx(data.total_GB_s, abs=1e-6)


def test_missing_matplotlib_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    png = tmp_path / "alpha.png"
    code, out, err = run_cli(["plot", "speedup-vs-alpha", "--out", png], capsys)
    line = assert_one_line_error(code, out, err)
    assert line == "error: matplotlib is not installed: pip install 'specsoc[plot]'"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", ["f.pdf", "f", "f.png.txt"])
def test_bad_out_extension(tmp_path, capsys, out):
    code, stdout, err = run_cli(["plot", "speedup-vs-alpha", "--out", tmp_path / out], capsys)
    assert_one_line_error(code, stdout, err, "--out", ".png or .svg")
    assert list(tmp_path.iterdir()) == []


def _bad_files(tmp_path, timeline_json, explore_json):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2, 3]")
    truncated = tmp_path / "truncated.json"
    doc = json.loads(timeline_json.read_text())
    doc["traceEvents"] = [e for e in doc["traceEvents"] if e.get("ph") != "C"]
    truncated.write_text(json.dumps(doc))
    return bad, listing, truncated


def test_a_timeline_is_read_through_its_schema_not_its_display_names(tmp_path, timeline_json):
    from simulator.render.timeline import read_timeline
    doc = json.loads(timeline_json.read_text())
    for e in doc["traceEvents"]:
        if e.get("ph") == "M":
            e["args"]["name"] = "renamed for display"
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(doc))
    a, b = read_timeline(str(timeline_json)), read_timeline(str(renamed))
    assert [(p.name, p.kind, p.units, p.starts_us, p.roles) for p in a.pus] == \
        [(p.name, p.kind, p.units, p.starts_us, p.roles) for p in b.pus]
    assert a.peak_GB_s == b.peak_GB_s and (a.total_GB_s == b.total_GB_s).all()
    del doc["otherData"]["specsoc_timeline"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    from simulator.common.errors import InputError
    with pytest.raises(InputError, match="specsoc_timeline"):
        read_timeline(str(old))


@pytest.mark.parametrize("kind", ["heatmap", "timeline"])
def test_bad_from_files(tmp_path, capsys, kind, timeline_json, explore_json):
    bad, listing, truncated = _bad_files(tmp_path, timeline_json, explore_json)
    wrong_kind = timeline_json if kind == "heatmap" else explore_json
    cases = [bad, listing, wrong_kind, tmp_path / "missing.json"] + ([truncated] if kind == "timeline" else [])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for source in cases:
        code, out, err = run_cli(["plot", kind, "--from", source, "--out", out_dir / "f.png"], capsys)
        assert_one_line_error(code, out, err, str(source))
    assert list(out_dir.iterdir()) == []
