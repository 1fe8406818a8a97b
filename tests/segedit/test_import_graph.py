"""The front ends sit on one core: none imports another, the core imports none of them, no module cycle."""
import ast
from pathlib import Path

import segedit

PACKAGE = Path(segedit.__file__).parent
FRONT_ENDS = {"segedit.cli", "segedit.app", "segedit.evaluate_cli"}
ENGINES = {"segedit.ray_engine"}  # --engine ray: chosen by the CLI, imports the core only


def imports() -> dict[str, set[str]]:
    """segedit module -> the segedit modules it imports (anywhere in it, functions included)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = ".".join(parts[:-1])
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            found |= {target for target in targets if target.startswith("segedit")}
        graph[name] = found
    return {name: {target for target in found if target in graph and target != name} for name, found in graph.items()}


def test_front_ends_never_import_each_other_and_the_core_imports_none():
    graph = imports()
    for name, targets in graph.items():
        if name in FRONT_ENDS:
            assert not targets & (FRONT_ENDS - {name}), (name, targets & FRONT_ENDS)
        elif name in ENGINES:
            assert not targets & FRONT_ENDS, (name, targets & FRONT_ENDS)
        else:
            assert not targets & (FRONT_ENDS | ENGINES), (name, targets & (FRONT_ENDS | ENGINES))


def test_no_import_cycle():
    graph = imports()
    # the package's __init__ only names its parts lazily; it is the root, not a cycle
    graph = {name: targets - {"segedit"} for name, targets in graph.items()}
    state: dict[str, int] = {}

    def visit(name, path):
        state[name] = 1
        for target in graph[name]:
            assert state.get(target) != 1, " -> ".join(path + [target])
            if target not in state:
                visit(target, path + [target])
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
