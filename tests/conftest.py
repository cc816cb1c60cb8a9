"""Shared test fixtures: where the real data lives, and the CI rule for missing data.

Real-data tests read ``../shared/mocap`` (beside the repository). Locally a missing folder
skips them; in CI (``CI=true``) it is a failure, never a silent skip.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MOCAP_ROOT = REPO_ROOT.parent / "shared" / "mocap"
BANDAI_NAMCO = MOCAP_ROOT / "bandai-namco"
CMU_BVH = Path("/usr/share/assimp/models/BVH")

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(ok: bool, what: str) -> None:
    """The one rule for a missing prerequisite: skip locally, fail when ``CI=true``."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{what} (CI=true: every prerequisite must be there)")
    pytest.skip(what)


def require_module(*names: str, extra: str = "dev") -> None:
    """Require importable modules (checked without importing them); ``extra``: the setup.py extra
    that installs them."""
    import importlib.util

    missing = [n for n in names if importlib.util.find_spec(n) is None]
    require(not missing, f"not installed: {', '.join(missing)} (pip install -e '.[{extra}]')")


def require_path(path: Path, what: str) -> Path:
    """Return ``path`` if it exists; otherwise skip (locally) or fail (in CI)."""
    require(path.exists(), f"{what} not found at {path}")
    return path


@pytest.fixture
def bandai_namco_dir() -> Path:
    """``../shared/mocap/bandai-namco``."""
    return require_path(BANDAI_NAMCO, "Bandai Namco mocap")


@pytest.fixture
def cmu_dir() -> Path:
    """Debian's assimp-testmodels CMU takes (``apt-get install assimp-testmodels``)."""
    return require_path(CMU_BVH / "01_03.bvh", "CMU BVH takes from assimp-testmodels").parent
