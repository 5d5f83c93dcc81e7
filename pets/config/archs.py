"""The arch names this installation can build and what each takes, read from archs.tsv beside this file: checking
`arch`, `size` and `train.body_groups` this way costs milliseconds, where importing timm to ask costs seconds on
every `dvc repro`. `python -m pets.model.archs` writes the table; a test holds it equal to the installed libraries.
"""

import difflib
import functools
import hashlib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

PATH = Path(__file__).with_name("archs.tsv")
TIMM_PREFIX = "timm/"


@dataclass(frozen=True)
class ArchFacts:
    library: str  # torchvision | timm
    name: str  # as params.yaml names it (timm/<name> for timm's where torchvision has the name too)
    fixed_size: int | None  # the one input size a model made for it takes (ViT, MaxViT), else None
    least_size: int | None  # the smallest input size it takes, where one is known
    stages: int | None  # stages of its body, the most layer groups of group_by: stages (None: it names none)
    tensors: int  # parameter tensors of its body, the most layer groups of group_by: count
    head: str  # the state-dict prefix of its classifier (fc, classifier.1, head.fc)
    body: str  # body_signature of its state dict: which weights files can start it, known without building it

    @property
    def timm_name(self):
        return self.name.removeprefix(TIMM_PREFIX)


def versions():
    return f"torchvision {version('torchvision')}, timm {version('timm')}"


def body_signature(shapes: dict, head: str) -> str:
    """A digest of the keys and shapes of a state dict (`shapes`: key -> shape) outside the `head` prefix: equal for
    every state dict whose body has exactly the tensors of an arch's body, whatever its head and classes."""
    body = sorted(f"{key}:{list(shape)}" for key, shape in shapes.items() if not key.startswith(f"{head}."))
    return hashlib.sha256("\n".join(body).encode()).hexdigest()[:16]


def archs_with_body(shapes: dict) -> list[str]:
    """The names of the archs whose body a state dict's tensors (`shapes`: key -> shape) are exactly."""
    every = [facts for library in rows().values() for facts in library.values()]
    signatures = {head: body_signature(shapes, head) for head in {facts.head for facts in every}}
    return [facts.name for facts in every if signatures[facts.head] == facts.body]


def row_text(facts):
    values = (facts.library, facts.name, facts.fixed_size, facts.least_size, facts.stages, facts.tensors)
    return "\t".join([*(str(value) if value is not None else "-" for value in values), facts.head, facts.body])


def _parse(line):
    library, name, *numbers, head, body = line.split("\t")
    return ArchFacts(library, name, *(None if number == "-" else int(number) for number in numbers), head, body)


@functools.cache
def rows() -> dict[str, dict[str, ArchFacts]]:
    """{library: {name: ArchFacts}}, timm's by their timm name."""
    table = {"torchvision": {}, "timm": {}}
    for line in PATH.read_text().splitlines():
        if line and not line.startswith("#"):
            facts = _parse(line)
            table[facts.library][facts.timm_name if facts.library == "timm" else facts.name] = facts
    return table


def table_versions():
    return PATH.read_text().splitlines()[0].removeprefix("# ").split(":")[0]


def lookup(arch: str) -> ArchFacts | None:
    """The facts of `arch` (torchvision's name first, then timm's; for timm's a pretrained tag such as `.a1_in1k`
    may follow the name, and has the facts of the name); None when no library has it."""
    if not arch.startswith(TIMM_PREFIX) and arch in rows()["torchvision"]:
        return rows()["torchvision"][arch]
    return rows()["timm"].get(arch.removeprefix(TIMM_PREFIX).split(".", 1)[0])


def unknown(arch: str) -> str:
    """One sentence for a name no library has, with the closest names of both."""
    name = arch.removeprefix(TIMM_PREFIX)
    torchvision, timm = rows()["torchvision"], rows()["timm"]
    close = difflib.get_close_matches(name, list(torchvision), n=3, cutoff=0.6)
    close += [timm[match].name for match in difflib.get_close_matches(name, list(timm), n=3, cutoff=0.6)]
    hint = (
        f"did you mean {', '.join(dict.fromkeys(close))}?"
        if close
        else "see torchvision.models.list_models() and timm.list_models()"
    )
    return f"arch {arch!r} is neither a torchvision classification model nor a timm model; {hint}"
