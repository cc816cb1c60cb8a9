"""The project's promises about itself: CI runs the README's test command; the CLI lists
its subcommands; the layout the design card asks for is there."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO_ROOT


def _quick_start_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci, f"CI does not run the README's test command {commands[1]!r}"
    assert "pytest" in commands[1] and "moglow demo" in commands[0]


def test_layout():
    for name in ["setup.py", "moglow", "mcmoglow", "data_pipeline", "visualize", "tests", "configs", "baselines"]:
        assert (REPO_ROOT / name).exists(), name


def test_cli_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "moglow", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ["prepare", "generate-data", "train", "sample", "render", "review", "evaluate", "demo", "toy", "images"]:
        assert re.search(rf"^\s+{re.escape(cmd)}\b", out, re.M), f"{cmd} missing from moglow --help"
        sub = subprocess.run([sys.executable, "-m", "moglow", cmd, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and "usage: moglow " + cmd in sub.stdout


def test_every_skip_goes_through_the_ci_rule():
    """A missing prerequisite skips locally and fails with CI=true: tests call conftest's ``require*``
    helpers, never ``pytest.skip``, ``importorskip`` or ``skipif`` themselves (they would skip in CI)."""
    pattern = re.compile(r"pytest\.skip\(|importorskip\(|mark\.skipif\(")
    offenders = [f"{path.name}:{n}" for path in sorted((REPO_ROOT / "tests").glob("*.py")) if path.name != "conftest.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, f"skips that would hide a missing prerequisite in CI: {offenders}"
