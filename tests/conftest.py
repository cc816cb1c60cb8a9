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


def require_path(path: Path, what: str) -> Path:
    """Return ``path`` if it exists; otherwise skip (locally) or fail (in CI)."""
    if path.exists():
        return path
    message = f"{what} not found at {path}"
    if IN_CI:
        pytest.fail(message + " (CI=true: real-data tests must run)")
    pytest.skip(message)


@pytest.fixture
def bandai_namco_dir() -> Path:
    """``../shared/mocap/bandai-namco``."""
    return require_path(BANDAI_NAMCO, "Bandai Namco mocap")


@pytest.fixture
def cmu_dir() -> Path:
    """Debian's assimp-testmodels CMU takes (``apt-get install assimp-testmodels``)."""
    return require_path(CMU_BVH / "01_03.bvh", "CMU BVH takes from assimp-testmodels").parent
