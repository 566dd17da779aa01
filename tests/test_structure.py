"""The shape of the code: thin entry points, small modules, no import cycle, nothing imports a script."""

import ast
import os

import pytest

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "keras_bert_mlm")


def python_files(folder):
    return sorted(os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith(".py"))


def module_name(path):
    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def imports(path):
    """The modules `path` imports, at any depth of its code, as absolute names."""
    name, tree = module_name(path), ast.parse(open(path).read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from . import data` imports a module
    return found


def package_graph():
    modules = {module_name(p): p for p in python_files(PACKAGE)}
    return {m: sorted(i for i in imports(p) if i in modules and i != m) for m, p in modules.items()}


def test_the_package_imports_no_script_and_edits_no_path():
    for path in python_files(PACKAGE) + python_files(os.path.join(ROOT, "experiments")):
        assert not {"train", "test"} & imports(path), path
        assert "sys.path" not in open(path).read(), path


def test_the_package_has_no_import_cycle():
    graph, state = package_graph(), {}

    def visit(module, trail):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join(trail + [module])
        state[module] = "open"
        for imported in graph[module]:
            visit(imported, trail + [module])
        state[module] = "done"

    for module in graph:
        visit(module, [])


@pytest.mark.parametrize("path, limit", [("train.py", 100), ("test.py", 100)]
                         + [(os.path.relpath(p, ROOT), 250) for p in python_files(PACKAGE)])
def test_entry_points_are_thin_and_modules_small(path, limit):
    with open(os.path.join(ROOT, path)) as f:
        assert len(f.read().splitlines()) <= limit
