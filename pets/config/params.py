"""Read params.yaml into its typed settings (pets.config.settings) and notice when it changes under a running stage."""

import re
from pathlib import Path

import yaml

from pets.config.settings import Params, dotted_value, parse_params, set_dotted
from pets.errors import PetsError


class Loader(yaml.SafeLoader):
    """YAML 1.2's floats too: `5e-05` (as `dvc exp run -S train.lr=0.00005` writes it) and `1e-3` are numbers,
    where YAML 1.1, PyYAML's, reads them as strings. A key given twice in one mapping is an error (PyYAML would keep
    the last silently; DVC's own reader refuses it)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):  # an unhashable key: SafeLoader's own error says so
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def stage_param_keys(stage: str, dvc_yaml: str | Path = "dvc.yaml", data: str | None = None) -> list[str]:
    """The dotted params keys `stage` lists under `params:` in dvc.yaml: the params it reads (`${data}` replaced by
    `data` when given)."""
    keys = yaml.safe_load(Path(dvc_yaml).read_text())["stages"][stage]["params"]
    return [key.replace("${data}", data) for key in keys] if data else keys


def stage_code(stage: str, dvc_yaml: str | Path = "dvc.yaml") -> list[str]:
    """The project's Python files `stage` lists as deps in dvc.yaml: the code it runs."""
    deps = yaml.safe_load(Path(dvc_yaml).read_text())["stages"][stage]["deps"]
    return sorted(dep for dep in deps if isinstance(dep, str) and dep.endswith(".py"))


def check_unchanged(
    params: Params, stage: str, path: str | Path = "params.yaml", dvc_yaml: str | Path = "dvc.yaml"
) -> None:
    """Fail when a param `stage` reads (its `params:` in dvc.yaml) is no longer in params.yaml what the stage
    started with: DVC records params.yaml as it is when a stage ends, and would record params it never used."""
    now = yaml.load(Path(path).read_text(), Loader=Loader)
    for key in stage_param_keys(stage, dvc_yaml, params.data):
        changed = _first_difference(params.value(key), dotted_value(now, key), key)
        if changed:
            raise PetsError(
                f"params.yaml changed while the {stage} stage ran ({changed[0]} was {changed[1]!r}, is now "
                f"{changed[2]!r}); nothing was recorded: run `dvc repro` again"
            )


def _first_difference(before, after, where):
    """(dotted key, old, new) of the first value below `where` that differs between two params trees, or None."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            if changed := _first_difference(before.get(key), after.get(key), f"{where}.{key}"):
                return changed
        return None
    return (where, before, after) if before != after else None


def parse_yaml(text: str, source: object) -> object:
    """A YAML text as params.yaml is read; one line naming `source` when it is not valid YAML."""
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as error:
        raise PetsError(f"{source} is not valid YAML: {' '.join(str(error).split())}") from None


def read_params(path: str | Path = "params.yaml") -> object:
    """params.yaml's tree as YAML reads it, unchecked."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PetsError(f"{path} not found: run the stages from the project's root folder") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PetsError(f"{path}: cannot read it ({error})") from None
    return parse_yaml(text, path)


def load_params(path: str | Path = "params.yaml", settings: tuple[str, ...] = ()) -> Params:
    """params.yaml's typed settings; `settings` (`key=value`, as `dvc exp run -S` takes them) over its values, in
    this process only: params.yaml is not written."""
    tree = read_params(path)
    for key, value in map(parse_setting, settings):
        set_dotted(tree, key, value)
    return parse_params(tree)


def parse_setting(setting: str) -> tuple[str, object]:
    """(dotted key, value) of a `key=value` as `dvc exp run -S` takes it: the value read as YAML."""
    key, equals, value = setting.partition("=")
    if not equals or not key:
        raise PetsError(f"{setting!r}: a setting is key=value, e.g. datasets.pictures.folder=~/pictures")
    return key, parse_yaml(value, f"-S {setting}") if value else ""
