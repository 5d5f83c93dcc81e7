"""dvc.yaml's stages depend on exactly the project modules they run, so a change to any of them re-runs the stage."""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name):
    """The project file of a dotted module name (pets.model.build -> pets/model/build.py), else None."""
    path = ROOT / (name.replace(".", "/") + ".py")
    return path.relative_to(ROOT).as_posix() if path.is_file() and name.split(".")[0] in ("pets", "stages") else None


def imported_files(path):
    """Project files a module imports anywhere in it (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]  # `from pets import x`
        else:
            continue
        found.update(filter(None, map(module_file, names)))
    return found


def closure(path):
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += imported_files(current)
    return seen


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_lists_every_module_it_imports_and_no_other(stage):
    command = STAGES[stage]["cmd"]
    assert command.startswith("python -m stages."), command
    entry = module_file(command.split()[-1])
    listed = {dep for dep in STAGES[stage]["deps"] if dep.endswith(".py")}
    assert listed == closure(entry), (
        f"dvc.yaml stage {stage}: missing {sorted(closure(entry) - listed)}, "
        f"not imported {sorted(listed - closure(entry))}"
    )


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_depends_on_the_recipe_in_use_not_on_every_dataset(stage):
    """`make pictures DIR=...` edits datasets.pictures: that must not re-run the stages of a photos run."""
    names = [next(iter(p)) if isinstance(p, dict) else p for p in STAGES[stage].get("params", [])]
    assert "datasets" not in names, f"{stage} lists every dataset's recipe: list datasets.${{data}}"
