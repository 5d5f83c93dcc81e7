"""A file as it is at a revision — a commit, branch or tag, an experiment name of `dvc exp show`, or `workspace` —
read through git without a checkout, so the workspace is never touched. DVC commits each experiment, with the
metrics files git tracks, under refs/exps/."""

import subprocess
from pathlib import Path

from pets.errors import PetsError

WORKSPACE = "workspace"


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)


def experiments() -> dict[str, list[str]]:
    """Each experiment name with the commit of each experiment that has it (one per baseline it ran on)."""
    listed = _git("for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/").stdout.split("\n")
    found: dict[str, list[str]] = {}
    for line in filter(None, listed):
        sha, ref = line.split(" ", 1)
        parts = ref.split("/")  # refs/exps/<baseline[:2]>/<baseline[2:]>/<name>; exec/ and the queue's are not runs
        if len(parts) == 5 and len(parts[2]) == 2:
            found.setdefault(parts[4], []).append(sha)
    return found


def check_repository() -> None:
    """One line when this folder is no git repository, or one without a commit: runs are read through git."""
    if _git("rev-parse", "--is-inside-work-tree").returncode != 0:
        raise PetsError(
            f"{Path.cwd()} is not in a git repository: runs are compared through git (their commits and DVC's "
            "experiments); run this in the project's clone"
        )
    if _git("rev-parse", "--verify", "--quiet", "HEAD").returncode != 0:
        raise PetsError("this git repository has no commit yet: commit the project, then dvc exp run, then compare")


def commit_of(revision: str) -> str:
    """The commit of a git revision or an experiment name; one line when it is neither, or names two experiments."""
    check_repository()
    resolved = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if resolved.returncode == 0:
        return resolved.stdout.strip()
    matches = experiments().get(revision, [])
    if len(matches) > 1:
        raise PetsError(
            f"{revision}: {len(matches)} experiments have this name (on other baselines); give a commit instead: "
            + ", ".join(sha[:7] for sha in matches)
        )
    if not matches:
        raise PetsError(f"{revision}: no such commit, branch, tag or experiment (dvc exp show lists them)")
    return matches[0]


def read_at(revision: str, path: Path) -> str:
    """The text of `path` at `revision`; one line naming both when the revision has no such file."""
    if revision == WORKSPACE:
        try:
            return path.read_text()
        except FileNotFoundError:
            raise PetsError(f"{WORKSPACE}: has no {path} (run dvc repro or dvc exp run first)") from None
    shown = _git("show", f"{commit_of(revision)}:{path}")
    if shown.returncode != 0:
        raise PetsError(f"{revision}: has no {path} (evaluated before this file existed, or evaluate never ran there)")
    return shown.stdout
