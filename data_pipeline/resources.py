"""The built-in configuration files, found by name from any folder.

The repository keeps them at its top level (``configs/*.yaml``, ``configs/profiles/*.yaml``);
an installed wheel ships the same folder as the package ``moglow.configs`` (``setup.py`` maps it
with ``package_dir``). :func:`builtin_dir` finds whichever is there, so ``--config tiny_cpu``,
``profile: bandai_namco`` and the evaluation defaults work in a clone and after ``pip install``.

Example::

    >>> resolve_config("tiny_cpu").name
    'tiny_cpu.yaml'
    >>> resolve_config("bandai_namco", kind="profile").parent.name
    'profiles'
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from .typed_config import ConfigError

#: the package an installed wheel carries the ``configs/`` folder as
PACKAGE = "moglow.configs"

_KINDS = {"config": "", "profile": "profiles"}


def _checkout_dir() -> Path | None:
    """``configs/`` of a source checkout this package runs from (None when installed)."""
    root = Path(__file__).resolve().parents[1]
    if (root / "setup.py").is_file() and (root / "configs").is_dir():
        return root / "configs"
    return None


def builtin_dir() -> Path:
    """The folder of the built-in configs (a checkout's ``configs/``, else the installed package data)."""
    found = _checkout_dir()
    if found is not None:
        return found
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the built-in configs are missing: no {PACKAGE} package and no configs/ beside "
                          f"{Path(__file__).resolve().parents[1]} (reinstall moglow)")
    return Path(next(iter(spec.submodule_search_locations)))


def available(kind: str = "config") -> list[str]:
    """Names of the built-in configs (``kind="config"``) or skeleton profiles (``"profile"``)."""
    folder = builtin_dir() / _KINDS[kind]
    return sorted(p.stem for p in folder.glob("*.yaml"))


def resolve_config(name_or_path: str | Path, kind: str = "config") -> Path:
    """A YAML path for ``name_or_path``: an existing file, or a built-in name (``tiny_cpu``,
    ``tiny_cpu.yaml``, ``profiles/cmu``). A name that is neither is a :class:`ConfigError`
    listing the built-in names."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    folder = builtin_dir() / _KINDS[kind]
    stem = text.replace("\\", "/")
    for prefix in ("configs/", "profiles/" if kind == "profile" else "\0"):  # the repository's own spelling
        stem = stem[len(prefix):] if stem.startswith(prefix) else stem
    stem = stem[:-5] if stem.endswith(".yaml") else stem[:-4] if stem.endswith(".yml") else stem
    candidate = folder / f"{stem}.yaml"
    if "/" not in stem and candidate.is_file():
        return candidate
    what = "skeleton profile" if kind == "profile" else "config"
    shipped = f"shipped {kind}s: {', '.join(available(kind))}"
    if text.endswith((".yaml", ".yml")) or "/" in stem:
        raise ConfigError(f"{what} file not found: {path} ({shipped})")
    raise ConfigError(f"unknown {what} {text!r}; {shipped} (or give a path to a YAML file)")


__all__ = ["PACKAGE", "builtin_dir", "available", "resolve_config"]
