"""A copy of the project in a temporary git repository, to run the real `dvc` commands in; and templates, projects
brought to a given point once per test session and copied by the tests that start from there."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    "pets",
    "stages",
    "plots",
    ".dvc/config",
    ".dvc/.gitignore",
    ".dvcignore",
    ".gitignore",
    "Makefile",
    "quickstarts.yaml",
    "requirements.txt",
    "launchers",
]


def environment(torch_home):
    """The environment the project's commands run in: this venv first on PATH, nothing asked of git."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TORCH_HOME": str(torch_home),
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }


class Project:
    def __init__(self, path, torch_home, *, files=True):
        """The project's files in a new git repository at `path`, committed (files=False: an existing one)."""
        self.path, self.env = Path(path), environment(torch_home)
        if files:
            for name in PROJECT_FILES:
                source, target = ROOT / name, self.path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():  # with Python's bytecode (valid while the sources' mtimes match, which copies
                    # keep), less the temporary files of a bytecode write in progress elsewhere
                    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.pyc.*"))
                else:
                    shutil.copy2(source, target)
            self.run("git", "init", "-q", "-b", "main")
            self.commit("project")

    def copy(self, path):
        """A copy of this project at `path`: its commits, params, DVC cache, lock and outputs as they are (a test
        starting where a template stopped)."""
        shutil.copytree(self.path, path, symlinks=True)
        return Project(path, Path(path).parent / "torch_home", files=False)

    def run(self, *command, check=True, stdout_only=False):
        """Run a command in the project; return its stdout and stderr together (or stdout alone)."""
        result = subprocess.run(command, cwd=self.path, env=self.env, capture_output=True, text=True)
        output = result.stdout + result.stderr
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{output[-4000:]}")
        return result.stdout if stdout_only else output

    def commit(self, message):
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)

    def set_params(self, **changes):
        """Edit params.yaml: keys are dotted paths written with '__' (train__epochs=1)."""
        params = yaml.safe_load((self.path / "params.yaml").read_text())
        for key, value in changes.items():
            *parents, last = key.split("__")
            section = params
            for part in parents:
                section = section[part]
            section[last] = value
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def up_to_date(self, *targets):
        """Whether `dvc status` finds nothing to do but run the sources stage, which runs every time."""
        return json.loads(self.run("dvc", "status", "--json", *targets, stdout_only=True)) in (
            {},
            {"sources": ["always changed"]},
        )

    def json(self, name):
        return json.loads((self.path / name).read_text())


def template(shared: Path, name: str, build) -> Project:
    """The project that `build(project)` makes of a fresh one, built once for the whole test session (xdist's workers
    share it through a file lock in the folder they share): tests copy it (Project.copy) and start from there."""
    folder = shared / f"template-{name}"
    with FileLock(f"{folder}.lock"):
        if not (folder / "ready").exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(Project(folder / "project", folder / "torch_home"))
            (folder / "ready").touch()
    return Project(folder / "project", folder / "torch_home", files=False)


def stages_run(output):
    """Names of the stages a dvc repro / exp run output says it ran, less sources (it runs every time: it only
    records the local files the recipe names)."""
    return [
        name
        for name in (line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '"))
        if name != "sources"
    ]


def quick_start_args(name):
    """The -S overrides of one of the README's quick starts (quickstarts.yaml), for `dvc exp run`."""
    values = yaml.safe_load((ROOT / "quickstarts.yaml").read_text())[name] or {}
    return [arg for key, value in values.items() for arg in ("-S", f"{key}={json.dumps(value).strip(chr(34))}")]


def free_port() -> int:
    """A port of 127.0.0.1 free now (a rendezvous, a server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
