"""The README's quick starts (quickstarts.yaml): each one is params.yaml as committed with its few values, written
into the workspace before `dvc exp run`, so that it gives its own result whatever an earlier experiment left there.

`dvc exp run -S` leaves its values in params.yaml; a quick start that set only its own would inherit the rest from
whatever ran before (batch 8 from the photos, the digits' label rule, ...). A params.yaml that holds anything else
(a user's edits) is first copied aside, to a file of its own that is never overwritten."""

import copy
import io
import itertools
import subprocess
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq

from pets.atomic import atomic_path
from pets.config.params import parse_yaml, read_params
from pets.config.settings import dotted_value, set_dotted
from pets.errors import PetsError

QUICKSTARTS = Path("quickstarts.yaml")
PARAMS = Path("params.yaml")
KEPT_EDITS = Path("params.mine.yaml")  # params.yaml as it was, when it held edits no commit or experiment holds


def load_quickstarts(path: Path = QUICKSTARTS) -> dict[str, dict]:
    """Each quick start's values by name: dotted params keys (train.epochs) and their values."""
    quickstarts = read_params(path)
    if not isinstance(quickstarts, dict) or not all(isinstance(v, dict | None) for v in quickstarts.values()):
        raise PetsError(f"{path}: not a mapping of quick starts, each a mapping of dotted params keys to values")
    return {name: values or {} for name, values in quickstarts.items()}


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
        set_dotted(target, key, value)
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


def write_values(path: Path, changes: list[tuple[str, object, object]]) -> None:
    """Set each changed value in params.yaml in place, keeping its comments, layout and line endings (as `dvc exp
    run -S` does); written atomically."""
    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 120
    raw = path.read_bytes()
    tree = editor.load(raw.decode("utf-8-sig"))
    for key, _, value in changes:
        *parents, last = key.split(".")
        section = tree
        for part in parents:
            section = section.setdefault(part, {})
        section[last] = _flow(value)
    out = io.StringIO()
    editor.dump(tree, out)
    text = out.getvalue().replace("\n", "\r\n") if b"\r\n" in raw else out.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(("\ufeff" if raw.startswith(b"\xef\xbb\xbf") else "").encode() + text.encode())


def _flow(value):
    """Lists as `[a, b]` on one line, as params.yaml writes them."""
    if isinstance(value, list):
        seq = CommentedSeq(value)
        seq.fa.set_flow_style()
        return seq
    return value


def _git(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], input=stdin, capture_output=True, text=True)


def _mapping(params: object, source: str, fix: str) -> dict:
    if not isinstance(params, dict):
        kind = "empty" if params is None else f"a {type(params).__name__}, not a mapping of params"
        raise PetsError(f"{source} is {kind}: {fix}")
    return params


def committed_params(path: Path = PARAMS) -> dict:
    shown = _git("show", f"HEAD:{path}")
    if shown.returncode != 0:
        raise PetsError(f"{path} has no committed version (git show HEAD:{path} failed): commit it first")
    return _mapping(parse_yaml(shown.stdout, f"HEAD:{path}"), f"HEAD:{path}", "commit a params.yaml that is one")


def workspace_params(path: Path = PARAMS) -> dict:
    return _mapping(read_params(path), str(path), f"restore it with `git checkout {path}`")


def saved(path: Path = PARAMS) -> bool:
    """Whether the commit or an experiment (`dvc exp show`) holds params.yaml exactly as the workspace has it."""
    blob = _git("hash-object", str(path)).stdout.strip()
    refs = ["HEAD", *_git("for-each-ref", "--format=%(objectname)", "refs/exps/").stdout.split()]
    held = _git("cat-file", "--batch-check", stdin="".join(f"{ref}:{path}\n" for ref in refs)).stdout
    return any(line.split()[0] == blob for line in held.splitlines() if line.strip())


def keep_aside(path: Path) -> Path:
    """Copy params.yaml to the first free params.mine.yaml, params.mine.2.yaml, ...: no copy is ever overwritten."""
    for number in itertools.count(1):
        copy_path = path.parent / (KEPT_EDITS.name if number == 1 else f"{KEPT_EDITS.stem}.{number}.yaml")
        try:
            with open(copy_path, "xb") as out:  # exclusive: a copy that appeared meanwhile is not overwritten
                out.write(path.read_bytes())
            return copy_path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def prepare(
    name: str, *, settings: dict | None = None, path: Path = PARAMS, quickstarts_path: Path = QUICKSTARTS
) -> list[str]:
    """Write quick start `name`'s params, and `settings` over them, into params.yaml; return the lines that say what
    changed, and where params.yaml went first when it held what no commit, experiment or quick start gives."""
    quickstarts = load_quickstarts(quickstarts_path)
    if name not in quickstarts:
        raise PetsError(f"{name}: no such quick start in {quickstarts_path} (there: {', '.join(quickstarts)})")
    committed, workspace = committed_params(path), workspace_params(path)
    target = quickstart_params(
        committed=committed, workspace=workspace, values={**quickstarts[name], **(settings or {})}
    )
    changes = differences(workspace, target)
    if not changes:
        return []
    lines = []
    quick_starts = [quickstart_params(committed=committed, workspace=workspace, values=v) for v in quickstarts.values()]
    if workspace not in quick_starts and not saved(path):
        edited = [key for key, _, _ in differences(committed, workspace)]
        shown = ", ".join(edited[:6]) + (f" and {len(edited) - 6} more" if len(edited) > 6 else "")
        lines.append(
            f"{path}: as it was (in no commit or experiment; it differs from the commit in {shown or 'its layout'}) "
            f"is kept in {keep_aside(path)} before the {name} quick start sets its own"
        )
    write_values(path, changes)
    lines.append(
        f"{path}: the {name} quick start sets "
        + ", ".join(f"{key}={new} (was {dotted_value(workspace, key, 'unset')})" for key, _, new in changes)
    )
    return lines
