"""The experiments DVC knows, as `dvc exp show --json` lists them (this venv's dvc, whatever PATH holds)."""

import json
import subprocess
import sys

from pets.errors import PetsError


def shown_experiments(all_commits: bool = False) -> list[dict]:
    """`dvc exp show --json` of HEAD (or, `all_commits`, of every commit): commits with their experiments."""
    command = [sys.executable, "-m", "dvc", "exp", "show", "--json", *(["--all-commits"] if all_commits else [])]
    shown = subprocess.run(command, capture_output=True, text=True)
    if shown.returncode != 0:
        raise PetsError(f"dvc exp show --json failed: {(shown.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(shown.stdout)
