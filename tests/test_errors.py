"""The project's errors have one root, and the commands turn only those into one-line errors.

Every error class the project defines subclasses :class:`data_pipeline.errors.MoglowError`
(keeping its builtin base); a command prints ``moglow CMD: error: ...`` for a ``MoglowError`` or
an ``OSError`` about a user's file, and lets anything else (a bug) surface with its traceback.
"""
from __future__ import annotations

import ast
import importlib

import pytest
from conftest import REPO_ROOT

from data_pipeline.bvh import BVHError
from data_pipeline.errors import InputError, MissingKeyError, MoglowError, SetupError
from moglow.cli import main

PACKAGES = ["moglow", "mcmoglow", "data_pipeline", "visualize", "baselines"]
BUILTIN_BASES = {"Exception", "ValueError", "KeyError", "RuntimeError", "TypeError", "OSError", "IOError",
                 "FileExistsError", "FileNotFoundError", "LookupError", "IndexError", "ArithmeticError"}


def _error_classes() -> list[tuple[str, str]]:
    """(module, class) of every class whose name ends in Error/Diverged/Exception or that derives
    from a builtin exception or another such class, found by reading the source (no import)."""
    found: list[tuple[str, str]] = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.parse(path.read_text()).body:
                if not isinstance(node, ast.ClassDef):
                    continue
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if (bases & BUILTIN_BASES or any(b.endswith(("Error", "Exception")) for b in bases)
                        or node.name.endswith(("Error", "Diverged"))):
                    found.append((module, node.name))
    return found


def test_the_walk_finds_the_known_error_types():
    names = {name for _, name in _error_classes()}
    assert {"BVHError", "ConfigError", "CheckpointError", "PathError", "UsageError", "TrainingDiverged",
            "ImageCheckpointError", "ProtocolError", "MoglowError", "InputError"} <= names


@pytest.mark.parametrize(("module", "name"), _error_classes())
def test_every_project_error_subclasses_moglow_error(module, name):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, BaseException)
    assert issubclass(cls, MoglowError), f"{module}.{name} does not subclass data_pipeline.errors.MoglowError"


def test_project_errors_keep_their_builtin_bases():
    from data_pipeline.output_files import OutputExistsError
    from data_pipeline.typed_config import ConfigError
    from moglow.checkpoint import CheckpointError
    from moglow.train import TrainingDiverged

    assert issubclass(BVHError, ValueError) and issubclass(ConfigError, ValueError)
    assert issubclass(CheckpointError, RuntimeError) and issubclass(TrainingDiverged, RuntimeError)
    assert issubclass(OutputExistsError, FileExistsError) and issubclass(InputError, ValueError)
    assert issubclass(MissingKeyError, KeyError) and issubclass(SetupError, RuntimeError)
    assert str(MissingKeyError("no joint named 'Hips'")) == "no joint named 'Hips'"  # not quoted like a KeyError


# a command, and the library function it calls (looked up at run time) that the test breaks
COMMANDS = [
    (["render", "take.bvh", "--out", "out.mp4", "--no-progress"], "visualize.inputs", "load_clip"),
    (["prepare", "--config", "tiny_cpu", "--data", "takes", "--out", "prepared", "--no-progress"],
     "data_pipeline.prepare", "prepare_dataset"),
    (["profile", "draft", "take.bvh", "--out", "p.yaml"], "data_pipeline.bvh", "read_bvh"),
]


def _break(monkeypatch, module: str, name: str, error: BaseException) -> None:
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(importlib.import_module(module), name, broken)


@pytest.mark.parametrize(("argv", "module", "name"), COMMANDS)
@pytest.mark.parametrize("bug", [RuntimeError("a bug in the library"), KeyError("a_missing_internal_key"),
                                 ValueError("an internal shape mismatch")])
def test_a_bug_surfaces_with_its_traceback(monkeypatch, tmp_path, argv, module, name, bug):
    """A plain RuntimeError/KeyError/ValueError is a bug: the command does not swallow it."""
    monkeypatch.chdir(tmp_path)
    _break(monkeypatch, module, name, bug)
    with pytest.raises(type(bug)) as caught:
        main(argv)
    assert caught.value is bug
    assert any(entry.name == "broken" for entry in caught.traceback)  # the traceback reaches the failing code


@pytest.mark.parametrize(("argv", "module", "name"), COMMANDS)
@pytest.mark.parametrize("error", [BVHError("take.bvh", 3, "expected ROOT"), InputError("a bad value"),
                                   FileNotFoundError(2, "No such file or directory", "take.bvh")])
def test_a_user_error_is_one_line(monkeypatch, tmp_path, capsys, argv, module, name, error):
    """The project's errors and the OS's errors about a file are one line on stderr, exit status 1."""
    monkeypatch.chdir(tmp_path)
    _break(monkeypatch, module, name, error)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"moglow {argv[0]}: error: {error}"
    assert "Traceback" not in err
