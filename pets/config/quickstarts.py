"""The README's quick starts (quickstarts.yaml): each one is params.yaml as committed with its few values, written
into the workspace before `dvc exp run`, so that it gives its own result whatever an earlier experiment left there.

`dvc exp run -S` leaves its values in params.yaml; a quick start that set only its own would inherit the rest from
whatever ran before (batch 8 from the photos, the digits' label rule, ...)."""

import copy
import shutil
import subprocess
from pathlib import Path

import yaml
from ruamel.yaml import YAML

from pets.config.params import Loader
from pets.errors import PetsError

QUICKSTARTS = Path("quickstarts.yaml")
PARAMS = Path("params.yaml")
KEPT_EDITS = Path("params.mine.yaml")  # params.yaml as it was, when it held edits no commit or experiment holds


def load_quickstarts(path: Path = QUICKSTARTS) -> dict[str, dict]:
    """Each quick start's values by name: dotted params keys (train.epochs) and their values."""
    return yaml.load(path.read_text(), Loader=Loader)


def quickstart_params(*, committed: dict, workspace: dict, values: dict) -> dict:
    """The params of a quick start: the committed params.yaml with its `values`. The workspace's `datasets` stay
    (recipes a user added or pointed at a local copy: where data comes from, checked by size and sha256), but the
    built-in ones are reset too: their options (crops per photograph, ...) are part of the result."""
    target = copy.deepcopy(committed)
    target["datasets"] = {
        **copy.deepcopy(workspace.get("datasets") or {}),
        **{name: recipe for name, recipe in target["datasets"].items() if "builtin" in recipe},
    }
    for key, value in values.items():
        *parents, last = key.split(".")
        section = target
        for part in parents:
            section = section.setdefault(part, {})
        section[last] = value
    return target


def differences(before: dict, after: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, old value, new value) of each value of `after` that `before` does not have."""
    found = []
    for key, new in after.items():
        old = before.get(key) if isinstance(before, dict) else None
        dotted = f"{prefix}{key}"
        if isinstance(new, dict) and isinstance(old, dict):
            found += differences(old, new, f"{dotted}.")
        elif old != new:
            found.append((dotted, old, new))
    return found


def own_edits(*, committed: dict, workspace: dict, quickstarts: dict[str, dict]) -> list[str]:
    """The keys where the workspace holds a value neither the commit nor any quick start gives: a user's own."""
    given = {(key, repr(value)) for values in quickstarts.values() for key, value in values.items()}
    return [key for key, _, value in differences(committed, workspace) if (key, repr(value)) not in given]


def write_values(path: Path, changes: list[tuple[str, object, object]]) -> None:
    """Set each changed value in params.yaml in place, keeping its comments and layout (as `dvc exp run -S` does)."""
    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 120
    tree = editor.load(path.read_text())
    for key, _, value in changes:
        *parents, last = key.split(".")
        section = tree
        for part in parents:
            section = section.setdefault(part, {})
        section[last] = _flow(value)
    with path.open("w") as out:
        editor.dump(tree, out)


def _flow(value):
    """Lists as `[a, b]` on one line, as params.yaml writes them."""
    if isinstance(value, list):
        from ruamel.yaml.comments import CommentedSeq

        seq = CommentedSeq(value)
        seq.fa.set_flow_style()
        return seq
    return value


def _git(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], input=stdin, capture_output=True, text=True)


def committed_params(path: Path = PARAMS) -> dict:
    shown = _git("show", f"HEAD:{path}")
    if shown.returncode != 0:
        raise PetsError(f"{path} has no committed version (git show HEAD:{path} failed): commit it first")
    return yaml.load(shown.stdout, Loader=Loader)


def saved(path: Path = PARAMS) -> bool:
    """Whether the commit or an experiment (`dvc exp show`) holds params.yaml exactly as the workspace has it."""
    blob = _git("hash-object", str(path)).stdout.strip()
    refs = ["HEAD", *_git("for-each-ref", "--format=%(objectname)", "refs/exps/").stdout.split()]
    held = _git("cat-file", "--batch-check", stdin="".join(f"{ref}:{path}\n" for ref in refs)).stdout
    return any(line.split()[0] == blob for line in held.splitlines() if line.strip())


def parse_setting(setting: str) -> tuple[str, object]:
    """(dotted key, value) of a `key=value` as `dvc exp run -S` takes it: the value read as YAML."""
    key, equals, value = setting.partition("=")
    if not equals or not key:
        raise PetsError(f"{setting!r}: a setting is key=value, e.g. datasets.pictures.folder=~/pictures")
    return key, yaml.load(value, Loader=Loader) if value else ""


def prepare(
    name: str, *, settings: dict | None = None, path: Path = PARAMS, quickstarts_path: Path = QUICKSTARTS
) -> list[str]:
    """Write quick start `name`'s params, and `settings` over them, into params.yaml; return the lines that say what
    changed."""
    quickstarts = load_quickstarts(quickstarts_path)
    if name not in quickstarts:
        raise PetsError(f"{name}: no such quick start in {quickstarts_path} (there: {', '.join(quickstarts)})")
    committed = committed_params(path)
    workspace = yaml.load(path.read_text(), Loader=Loader)
    values = {**(quickstarts[name] or {}), **(settings or {})}
    target = quickstart_params(committed=committed, workspace=workspace, values=values)
    changes = differences(workspace, target)
    lines = []
    edits = own_edits(committed=committed, workspace=workspace, quickstarts=quickstarts)
    changed_edits = [key for key, _, _ in changes if key in edits]
    if changed_edits and not saved(path):
        shutil.copy2(path, path.parent / KEPT_EDITS)
        lines.append(
            f"{path}: your own {', '.join(changed_edits)} (in no commit or experiment) are copied to "
            f"{KEPT_EDITS} before the {name} quick start sets its own"
        )
    if changes:
        write_values(path, changes)
        shown = ", ".join(f"{key}={new}" for key, _, new in changes)
        lines.append(f"{path}: the {name} quick start sets {shown}")
    return lines
