"""``moglow toy`` and the resumable results script, on tiny runs."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from moglow.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_moglow_toy_writes_plot_and_json(tmp_path, capsys):
    rc = main(["toy", "--dataset", "8gaussians", "--model", "shared", "--activation", "paaf", "--flow-steps", "2",
               "--train-steps", "20", "--out", str(tmp_path), "--no-progress", "--test-size", "2000", "--grid", "80"])
    assert rc == 0
    res = json.loads((tmp_path / "result.json").read_text())
    assert res["dataset"] == "8gaussians" and res["model"]["activation"] == "paaf"
    m = res["metrics"]
    assert abs(m["gap"] - (m["nll"] - m["floor"])) < 0.05  # paired gap ≈ NLL − floor
    assert (tmp_path / "density.png").stat().st_size > 10_000
    assert (tmp_path / "model.pt").exists() and (tmp_path / "density.npz").exists()
    assert "gap to floor" in capsys.readouterr().out


def _script():
    spec = importlib.util.spec_from_file_location("toy_results", ROOT / "benchmarks" / "toy_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_results_script_is_resumable_and_reports(tmp_path):
    script = _script()
    out = tmp_path / "out"
    args = ["run", "--out", str(out), "--steps", "5", "--seeds", "0", "--datasets", "moons",
            "--only", "Glow K=2", "shared INN +aug2", "--test-size", "1000", "--grid", "60"]
    assert script.main(args) == 0
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all("metrics" in json.loads(x) for x in lines)
    assert script.main(args) == 0  # finished runs are skipped
    assert (out / "results.jsonl").read_text().splitlines() == lines
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- table -->\nold\n<!-- /table -->\nend\n")
    fig = tmp_path / "grid.png"
    assert script.main(["report", "--out", str(out), "--doc", str(doc), "--figure", str(fig)]) == 0
    text = doc.read_text()
    assert "old" not in text and text.startswith("intro") and text.rstrip().endswith("end")
    assert "| Glow K=2 |" in text and "(bound" in text and "2 of" in text
    assert fig.stat().st_size > 5_000
