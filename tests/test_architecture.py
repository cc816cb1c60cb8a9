"""The house's arrows point one way (``../shared/design.md``, "Who may name whom").

The import graph of the project's own modules (every ``import``, at module level or inside a
function) has no cycle, and no module imports a layer above its own or a package that plugs
into it: plug-ins (McMoGlow's transform family, the baselines' subcommands) arrive through
entry points (``setup.py``), never by name.
"""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT

PACKAGES = ["moglow", "mcmoglow", "data_pipeline", "visualize", "baselines"]

#: module prefix -> project packages it must never import (a prefix that matches longer wins)
FORBIDDEN = {
    "data_pipeline": ["moglow", "mcmoglow", "visualize", "baselines"],
    "moglow.flows": ["moglow", "mcmoglow", "data_pipeline", "visualize", "baselines"],
    "visualize": ["moglow", "mcmoglow", "baselines"],
    "moglow": ["mcmoglow", "baselines"],
    "mcmoglow": ["baselines", "data_pipeline", "visualize"],
    "baselines": ["mcmoglow"],
}


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imported_names(name: str, path: Path) -> set[str]:
    """Dotted names that ``path`` imports (absolute; relative imports resolved)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            out.update(f"{base}.{a.name}" for a in node.names)
            out.add(base)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in mods:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    return {m: {o for d in _imported_names(m, p) if (o := owner(d)) and o != m} for m, p in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _rule(module: str) -> list[str]:
    prefixes = [p for p in FORBIDDEN if module == p or module.startswith(p + ".")]
    return FORBIDDEN[max(prefixes, key=len)] if prefixes else []


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_no_module_imports_a_layer_above_it_or_a_plugin():
    bad = []
    for module, targets in _graph().items():
        for target in targets:
            top = target.split(".")[0]
            if top in _rule(module) and not (module.startswith("moglow.flows") and target.startswith("moglow.flows")):
                bad.append(f"{module} -> {target}")
    assert not bad, "imports against the one-way flow:\n" + "\n".join(sorted(bad))


def test_the_checker_sees_cycles_and_wrong_arrows():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _rule("moglow.flows.base") == FORBIDDEN["moglow.flows"] and _rule("moglow.train") == FORBIDDEN["moglow"]
    graph = _graph()
    assert "moglow.flows.base" in graph["moglow.flows.coupling"]  # function-level and relative imports are seen
    assert "mcmoglow.transform" in graph["mcmoglow"]
