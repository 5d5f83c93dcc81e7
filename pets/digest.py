"""sha256, the one way this project identifies bytes: downloads, local sources, packaged weights, resume checkpoints,
images in the data check and the model an ONNX file was exported from."""

import hashlib
from pathlib import Path


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """The file read in blocks: an archive of gigabytes never sits in memory whole."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
