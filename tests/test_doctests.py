"""Every docstring example in the project runs: ``>>>`` lines are doctests, checked here."""
from __future__ import annotations

import doctest
import importlib

import pytest
from conftest import REPO_ROOT

PACKAGES = ["moglow", "mcmoglow", "data_pipeline", "visualize", "baselines"]


def _modules_with_examples() -> list[str]:
    return sorted(".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
                  for package in PACKAGES for path in (REPO_ROOT / package).rglob("*.py")
                  if ">>>" in path.read_text())


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
