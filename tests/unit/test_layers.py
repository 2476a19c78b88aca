"""The layers of ``src/dockyard``: no import runs upward, and no module imports itself
through others.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: an
upward import hidden in a function is still an upward dependency. The layers,
lowest first; packages of one layer may not import each other:

- ``errors``, ``events``: the vocabulary every layer uses; ``parallel``: work
  side by side
- ``spec``: what the files say
- ``plan``, ``state``, ``secrets``: pure planning; the state store; encrypted files
- ``engines``: what runs, on one engine
- ``build``, ``discovery``, ``logs``, ``supervise``: images; the ingress; log streams;
  the supervisor
- ``deploy``: the releases, built from all of the above
- ``cli``: the command line
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
LAYERS: list[set[str]] = [
    {"dockyard", "errors", "events", "parallel"},
    {"spec"},
    {"plan", "state", "secrets"},
    {"engines"},
    {"build", "discovery", "logs", "supervise"},
    {"deploy"},
    {"cli"},
    {"__main__"},
]
RANK = {part: n for n, layer in enumerate(LAYERS) for part in layer}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str, modules: set[str]) -> Iterator[str]:
    """The ``dockyard`` modules ``path`` imports: ``from x import y`` counts as
    ``x.y`` when that is a module, else as ``x``."""
    for base, name in imported(path, module):
        if base.split(".")[0] != "dockyard":
            continue
        if name is None:
            yield base
        else:
            sub = f"{base}.{name}"
            yield sub if sub in modules else base


def imported(path: Path, module: str) -> Iterator[tuple[str, str | None]]:
    """Every import of ``path``: ``(x, None)`` for ``import x``, ``(x, y)`` for
    ``from x import y`` (a relative ``x`` resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((a.name, None) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield from ((base, alias.name) for alias in node.names)


def graph() -> dict[str, set[str]]:
    found = {module_name(p): p for p in sorted((SRC / "dockyard").rglob("*.py"))}
    names = set(found)
    return {m: {d for d in imports(p, m, names) if d != m and d in found} for m, p in found.items()}


def part(module: str) -> str:
    """The package of the layer list a module belongs to (``dockyard.plan.diff`` → plan)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def test_every_package_has_a_layer() -> None:
    assert {part(m) for m in graph()} <= set(RANK)


def test_no_import_runs_upward_or_sideways() -> None:
    wrong = sorted(
        f"{module} imports {dep} ({part(module)} may not use {part(dep)})"
        for module, deps in graph().items()
        for dep in deps
        if part(module) != part(dep) and RANK[part(dep)] >= RANK[part(module)]
    )
    assert wrong == []


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(graph()) == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(edges.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_check_finds_an_upward_import_and_a_cycle() -> None:
    edges = {"dockyard.spec.a": {"dockyard.deploy.b"}, "dockyard.deploy.b": {"dockyard.spec.a"}}
    assert cycles(edges) == [["dockyard.deploy.b", "dockyard.spec.a"]]
    assert RANK[part("dockyard.deploy.b")] > RANK[part("dockyard.spec.a")]


ONE_HOST = {"dockyard.engines.replicas.Replicas", "dockyard.engines.base.Engine"}
"""The names of what one host does: Dockyard's own rollouts drive it."""
ROLLS_REPLICAS = {"dockyard.deploy.rollout", "dockyard.deploy.batches"}


def test_only_dockyards_own_rollouts_name_what_one_host_does() -> None:
    """The commands, the pipeline and the orchestrator take a ``Platform``: an engine
    that rolls services itself (a cluster) fits them as it is."""
    found = sorted(
        f"{module} imports {name}"
        for path in sorted((SRC / "dockyard").rglob("*.py"))
        if not (module := module_name(path)).startswith("dockyard.engines")
        and module not in ROLLS_REPLICAS
        for base, name in imported(path, module)
        if f"{base}.{name}" in ONE_HOST
    )
    assert found == []
