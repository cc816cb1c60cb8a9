"""The project's promises about itself: CI runs the README's test command; the CLI lists
its subcommands; the layout the design card asks for is there; no file is long without a reason."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

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


#: A .py file longer than this many lines needs a one-line reason in its module docstring,
#: on a line that starts with :data:`LONG_MARKER` (e.g. ``Long because: one parser, one state machine.``).
MAX_LINES = 400
LONG_MARKER = "Long because:"
#: Folders whose files are not the project's own code (vendored, installed or built).
NOT_OURS = {".git", ".venv", "venv", "node_modules", "vendor", "vendored", "build", "dist", "__pycache__", ".eggs",
            ".mypy_cache", ".pytest_cache", ".ruff_cache", "shared"}


def _python_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*.py"))
            if not any(part in NOT_OURS or part.endswith(".egg-info") for part in p.relative_to(root).parts[:-1])]


def _long_without_reason(path: Path) -> int | None:
    """The line count of ``path`` when it is over :data:`MAX_LINES` and its module docstring has
    no line ``Long because: <reason>``; None when it is short enough or says why it is long."""
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    if lines <= MAX_LINES:
        return None
    doc = ast.get_docstring(ast.parse(text)) or ""
    reasons = [line.strip()[len(LONG_MARKER):].strip() for line in doc.splitlines()
               if line.strip().startswith(LONG_MARKER)]
    return None if any(reasons) else lines


def _offenders(root: Path) -> dict[str, int]:
    found = {p.relative_to(root).as_posix(): _long_without_reason(p) for p in _python_files(root)}
    return {name: n for name, n in found.items() if n is not None}


def test_no_file_is_long_without_a_reason():
    """Split a long file by job (each file's name says what is inside), or give the one-line reason."""
    offenders = _offenders(REPO_ROOT)
    assert not offenders, (f"files over {MAX_LINES} lines with no '{LONG_MARKER} ...' line in their module "
                           f"docstring: " + ", ".join(f"{name} ({n} lines)" for name, n in sorted(offenders.items())))


def test_long_file_rule_sees_a_long_file_and_its_reason(tmp_path):
    """The check itself: a long file is found, in a subfolder too; a marker with no reason does not
    count, a one-line reason does; vendored folders and short files are left alone."""
    body = "\n".join(f"x{i} = {i}" for i in range(MAX_LINES)) + "\n"
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "long.py").write_text('"""A long module."""\n' + body)
    (tmp_path / "empty_reason.py").write_text(f'"""A long module.\n\n{LONG_MARKER}\n"""\n' + body)
    (tmp_path / "reasoned.py").write_text(f'"""A long module.\n\n{LONG_MARKER} one table.\n"""\n' + body)
    (tmp_path / "short.py").write_text('"""Short."""\nx = 1\n')
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "long.py").write_text(body + body)
    assert _offenders(tmp_path) == {"pkg/long.py": MAX_LINES + 1, "empty_reason.py": MAX_LINES + 4}
