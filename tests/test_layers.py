"""The packages are the architecture: each imports only from its own layer or those below, never upward, so the
import graph has no cycles; prediction and evaluation never import the training loop."""

import ast

import pytest

from tests.helpers import ROOT

# Lowest first. A module may import from its own layer and from any layer before it.
LAYERS = [
    ("pets.errors", "pets.atomic", "pets.progress", "pets.digest"),
    ("pets.config",),
    ("pets.workspace",),
    ("pets.runtime",),
    ("pets.data",),
    ("pets.model",),
    ("pets.inference",),
    ("pets.report",),
    ("pets.serve",),
    ("pets.train",),
    ("pets.__main__", "stages"),
]


def layer(module):
    for rank, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names):
            return rank
    raise AssertionError(f"{module} is in no layer of tests/test_layers.py")


def project_modules():
    for path in sorted([*ROOT.glob("pets/**/*.py"), *ROOT.glob("stages/*.py")]):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield name, path


def imports(path):
    """The project modules a file imports anywhere in it (`from pets.x import y` counts y when it is a module)."""
    modules = {name for name, _ in project_modules()}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(name for name in names if name in modules and name not in ("pets", "stages"))
    return found


GRAPH = {name: imports(path) for name, path in project_modules()}


@pytest.mark.parametrize("module", [name for name in GRAPH if GRAPH[name]])
def test_a_module_imports_only_from_its_layer_or_below(module):
    upward = sorted(other for other in GRAPH[module] if layer(other) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports from higher layers: {upward}"


def test_the_import_graph_has_no_cycles():
    done, path = set(), []

    def visit(module):
        assert module not in path, " -> ".join([*path[path.index(module) :], module])
        if module in done:
            return
        path.append(module)
        for other in GRAPH[module]:
            visit(other)
        path.pop()
        done.add(module)

    for module in GRAPH:
        visit(module)


def reached(module):
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += GRAPH[current]
    return seen


@pytest.mark.parametrize(
    "module", ["pets.inference.predict", "pets.inference.forward", "stages.evaluate", "pets.report.interpret"]
)
def test_prediction_and_evaluation_do_not_import_training(module):
    assert not [name for name in reached(module) if name.startswith("pets.train")]


def test_only_the_runtime_profile_asks_which_kind_of_device_it_runs_on():
    asking = [name for name, path in project_modules() if 'device.type == "cuda"' in path.read_text()]
    assert asking == ["pets.runtime.profile"]
