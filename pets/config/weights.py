"""The `weights` param: the library's ImageNet weights, none, or a file of the user's."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Weights:
    kind: str  # imagenet | none | file
    path: Path | None = None

    @classmethod
    def parse(cls, value: "str | Weights") -> "Weights":
        if isinstance(value, Weights):
            return value
        return cls(value) if value in ("imagenet", "none") else cls("file", Path(value))

    @property
    def pretrained(self) -> bool:
        """Whether training starts from trained weights (and so begins with the body frozen)."""
        return self.kind != "none"
