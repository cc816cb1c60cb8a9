"""No new lint or type findings land: ruff and mypy counts may only fall below the recorded ones
(``[tool.moglow.findings]`` in pyproject.toml, settings beside them)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

from conftest import REPO_ROOT, require_module

SOURCES = ["moglow", "mcmoglow", "data_pipeline", "visualize", "baselines"]
RECORDED = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["moglow"]["findings"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_findings_do_not_grow():
    require_module("ruff")
    proc = _run("ruff", "check", "--output-format", "json", "--exit-zero", *SOURCES, "tests", "benchmarks",
                "experiments")
    findings = json.loads(proc.stdout)
    listing = "\n".join(f"{f['filename']}:{f['location']['row']}: {f['code']} {f['message']}"
                        for f in findings[:40])
    assert len(findings) <= RECORDED["ruff"], (
        f"ruff: {len(findings)} findings, {RECORDED['ruff']} recorded: fix the new ones (`ruff check --fix`)\n{listing}")


def test_mypy_findings_do_not_grow():
    require_module("mypy")
    proc = _run("mypy", "--no-error-summary", *SOURCES)
    errors = [line for line in proc.stdout.splitlines() if re.search(r": error:", line)]
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert len(errors) <= RECORDED["mypy"], (
        f"mypy: {len(errors)} errors, {RECORDED['mypy']} recorded: fix the new ones\n" + "\n".join(errors[:40]))
