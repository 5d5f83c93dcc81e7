"""params.yaml as typed settings, and its schema in one: each section is a frozen dataclass whose fields are the
section's keys, each field carrying the rule its value must follow (pets.config.schema). params.yaml holds the
values; these classes hold what each key may be, and nothing else (no defaults: the file has them). The sources
stage, which DVC runs first and every time, parses the whole file with them, so a wrong param fails in the first
second; every stage and the library take the parsed object."""

import functools
from dataclasses import dataclass, field, fields

from pets.config import schema
from pets.config.schema import (
    SEED,
    count_or_auto,
    flag,
    host_port,
    lr_range,
    mapping,
    momentum_pair,
    number,
    one_of,
    optional_text,
    regex_with_group,
    text,
)
from pets.config.weights import Weights
from pets.errors import PetsError


def key(rule, read=None):
    """A field for one key of params.yaml: `rule(dotted key, value)` raises PetsError for a wrong value; `read`
    turns the checked YAML value into the field's type (a list into a tuple, text into Weights)."""
    return field(metadata={"rule": rule, "read": read})


@dataclass(frozen=True)
class Augment:
    min_scale: float = key(number(0, 1, low_open=True))
    flip: bool = key(flag)
    max_rotate: float = key(number(0, 180))
    max_zoom: float = key(number(1))
    max_lighting: float = key(number(0, 1))


@dataclass(frozen=True)
class Train:
    seed: int = key(SEED)
    batch_size: int = key(number(2, integer=True))  # BatchNorm cannot train on batches of one
    epochs: int = key(number(0, integer=True))
    epochs_unfrozen: int = key(number(0, integer=True))
    lr: float = key(number(0, low_open=True))
    lr_unfrozen: tuple[float, float] = key(lr_range, read=tuple)
    body_groups: int = key(number(1, integer=True))
    weight_decay: float = key(number(0))
    batchnorm_stats: str = key(one_of("pretrained", "batch"))
    devices: int | str = key(count_or_auto)  # processes on each machine
    nodes: int = key(number(1, integer=True))  # machines in one run
    momentum: tuple[float, float] = key(momentum_pair, read=tuple)
    train_bn: bool = key(flag)
    head: str = key(one_of("linear", "fastai"))
    group_by: str = key(one_of("stages", "count"))
    decay_bn_bias: bool = key(flag)
    augment: Augment


@dataclass(frozen=True)
class Index:
    images: str = key(text)
    label: str = key(one_of("regex", "folder", "csv"))
    pattern: str = key(regex_with_group)
    csv: str = key(text)
    split: str = key(one_of("random", "official", "csv"))
    valid_frac: float = key(number(0, 1, low_open=True))
    seed: int = key(SEED)
    skip_unlabelled: bool = key(flag)
    min_per_class: int = key(number(1, integer=True))
    duplicates: str = key(one_of("report", "drop_across_splits"))
    fixes: str = key(optional_text)


@dataclass(frozen=True)
class Cache:
    resolution: int = key(number(0, low_open=True, integer=True))
    resize: str = key(one_of("crop", "squish"))
    max_bad_frac: float = key(number(0, 1))
    workers: int = key(number(0, integer=True))


@dataclass(frozen=True)
class Rendezvous:
    endpoint: str = key(host_port)
    timeout: int = key(number(1, integer=True))


@dataclass(frozen=True)
class Evaluate:
    tta: bool = key(flag)
    top_losses: int = key(number(0, integer=True))


@dataclass(frozen=True)
class Params:
    data: str = key(text)
    arch: str = key(text)
    weights: Weights = key(text, read=Weights.parse)
    size: int = key(number(0, low_open=True, integer=True))
    threads: int | str = key(count_or_auto)
    datasets: dict = key(mapping)
    index: Index
    cache: Cache
    train: Train
    rendezvous: Rendezvous
    evaluate: Evaluate
    tree: dict = field(default=None, compare=False, repr=False)  # params.yaml as read: not a key

    @property
    def recipe(self) -> dict:
        """The dataset recipe in use: datasets[data]."""
        return self.datasets[self.data]

    def value(self, dotted: str):
        """The value of a dotted key of params.yaml as read (train.lr), as dvc.yaml and `dvc exp run -S` name it."""
        return dotted_value(self.tree, dotted)


def dotted_value(tree: dict, dotted: str, default=None):
    """tree[a][b][c] for `a.b.c`; `default` where a part is missing."""
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return default
        tree = tree[part]
    return tree


def set_dotted(tree: dict, dotted: str, value) -> None:
    """tree[a][b][c] = value for `a.b.c`, making the sections that are missing."""
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


@functools.cache
def _keys(cls) -> dict:
    return {f.name: f for f in fields(cls) if f.name != "tree"}


def _parse(cls, section, prefix="", **extra):
    """An instance of the settings class `cls` from a section of params.yaml, checked key by key."""
    if not isinstance(section, dict):
        raise PetsError(f"params.yaml: {prefix.rstrip('.') or 'the file'} must be a mapping")
    known = _keys(cls)
    for name in section:
        if name not in known:
            raise PetsError(
                f"params.yaml: unknown key {prefix}{name}{schema.closest(name, known)}; allowed here: "
                f"{', '.join(known)}"
            )
    values = {}
    for name, spec in known.items():
        if name not in section:
            raise PetsError(f"params.yaml: missing key {prefix}{name}")
        if "rule" not in spec.metadata:  # a section of its own
            values[name] = _parse(spec.type, section[name], f"{prefix}{name}.")
        else:
            spec.metadata["rule"](f"{prefix}{name}", section[name])
            read = spec.metadata["read"]
            values[name] = read(section[name]) if read else section[name]
    return cls(**values, **extra)


def parse_params(tree: object) -> Params:
    """The typed settings of a params.yaml tree, after every rule of the schema; PetsError names the first key
    whose value is wrong."""
    params = _parse(Params, tree, tree=tree)
    schema.check_datasets(params.datasets, params.data)
    if params.train.epochs + params.train.epochs_unfrozen == 0:
        raise PetsError("params.yaml: train.epochs and train.epochs_unfrozen are both 0; nothing would be trained")
    if params.cache.resolution < params.size:
        raise PetsError(
            f"params.yaml: cache.resolution ({params.cache.resolution}) must be at least "
            f"size ({params.size}): the cache stores images a little above the training size"
        )
    schema.check_arch(params.arch, params.size, params.train)
    schema.check_devices(params.train.devices)
    return params
