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


def test_moglow_toy_gbnf_paper_protocol_flags(tmp_path):
    """``--steps-per-component`` trains every component that long; the options are recorded."""
    rc = main(["toy", "--dataset", "rings", "--flow-steps", "1", "--hidden", "8", "--gbnf", "2",
               "--steps-per-component", "6", "--gbnf-weights", "uncapped", "--no-refit", "--out", str(tmp_path),
               "--no-progress", "--test-size", "500", "--grid", "40"])
    assert rc == 0
    res = json.loads((tmp_path / "result.json").read_text())
    assert res["gbnf_options"] == {"steps_per_component": 6, "refit": False, "truncate": False}
    assert [s["steps"] for s in res["gbnf_stages"]] == [6, 6] and res["metrics"]["floor"] > 1.9
    assert main(["toy", "--steps-per-component", "6", "--out", str(tmp_path / "x"), "--no-progress"]) == 1


def test_results_script_gbnf_study(tmp_path):
    """``--study gbnf`` runs the four arms per size; ``report --study gbnf`` fills its markers."""
    script = _script()
    out = tmp_path / "out"
    jobs = script.gbnf_jobs([0], ["moons"], components=2, steps=4, hidden=[8])
    assert [j.steps for j in jobs] == [4, 4, 4, 8] and jobs[0].gbnf_options["truncate"] is False
    names = [jobs[0].name, jobs[3].name]  # GBNF uncapped and the single flow at equal total steps
    args = ["run", "--out", str(out), "--study", "gbnf", "--components", "2", "--steps-per-component", "4",
            "--seeds", "0", "--datasets", "moons", "--hidden", "8", "--only", *names, "--test-size", "500",
            "--grid", "40", "--no-plot"]
    assert script.main(args) == 0
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["name"] for r in rows] == names and all("metrics" in r for r in rows)
    assert rows[0]["gbnf_options"]["steps_per_component"] == 4 and rows[1]["train"]["steps"] == 8
    assert script.main(args) == 0 and len((out / "results.jsonl").read_text().splitlines()) == 2  # resumable
    doc = tmp_path / "doc.md"
    doc.write_text("a\n<!-- gbnf_table -->\nold\n<!-- /gbnf_table -->\nb\n")
    assert script.main(["report", "--out", str(out), "--study", "gbnf", "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "old" not in text and names[0] in text and "S=4: GBNF uncapped − single C·S" in text


def test_results_script_plain_gradient_study(tmp_path):
    """``--study plain_gradient``: the same shared INN with both log-det gradients; the report
    has the paired difference and PAAF's input at each of the K applications."""
    script = _script()
    out = tmp_path / "out"
    jobs = script.plain_gradient_jobs([0, 1], ["moons"], steps=4)
    assert [j.fields["logdet_gradient"] for j in jobs[:4]] == ["plain"] * 4  # plain runs first
    names = ["shared INN +PAAF, plain gradient", "shared INN +PAAF, smoothed gradient"]
    args = ["run", "--out", str(out), "--study", "plain_gradient", "--steps", "4", "--seeds", "0",
            "--datasets", "moons", "--only", *names, "--test-size", "500", "--grid", "40", "--no-plot"]
    assert script.main(args) == 0
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["model"]["logdet_gradient"] for r in rows] == ["plain", "smoothed"]
    assert script.main(args) == 0 and len((out / "results.jsonl").read_text().splitlines()) == 2  # resumable
    doc = tmp_path / "doc.md"
    doc.write_text("a\n<!-- plain_gradient_table -->\nold\n<!-- /plain_gradient_table -->\nb\n")
    assert script.main(["report", "--out", str(out), "--study", "plain_gradient", "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "old" not in text and "| shared INN +PAAF | " in text and "(plain better in " in text
    stats = [line for line in text.splitlines() if line.startswith("| shared INN +PAAF, plain gradient | moons |")]
    assert len(stats) == 1 and stats[0].count(" / ") == 3 * 8  # K = 8 applications, 4 numbers each
