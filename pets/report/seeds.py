"""Seeds as a sweep: the experiments of `dvc exp show --json` grouped by every param but the seeds, each group's
error_rate as mean ± sd over its seeds, and each group against the best by a paired t-test where the seeds match
(the same seed draws the same split, head and batch order) or Welch's where they do not."""

import math
import statistics
from dataclasses import dataclass

from scipy.stats import ttest_ind, ttest_rel

from pets.config import layout
from pets.errors import PetsError
from pets.workspace.experiments import shown_experiments

SEED_PARAMS = ("train.seed",)


@dataclass(frozen=True)
class Run:
    name: str
    params: dict  # dotted key -> value
    error_rate: float


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def runs_of(shown: list[dict]) -> list[Run]:
    """The commits and experiments of `dvc exp show --json` that have a validation error_rate (the workspace
    repeats a run applied to it, so it is left out)."""
    rows = []
    for commit in shown:
        if commit.get("rev") != "workspace":
            rows.append(commit)
        rows += [rev for experiment in commit.get("experiments") or [] for rev in experiment.get("revs") or []]
    runs = []
    for row in rows:
        data = row.get("data") or {}
        metrics = ((data.get("metrics") or {}).get(str(layout.METRICS_JSON)) or {}).get("data") or {}
        params = ((data.get("params") or {}).get("params.yaml") or {}).get("data")
        error = (metrics.get("valid") or {}).get("error_rate")
        if params and error is not None:
            runs.append(Run(row.get("name") or data.get("rev", "")[:7], flatten(params), error))
    return runs


@dataclass(frozen=True)
class Group:
    recipe: dict  # the params its runs share, seeds left out
    runs: list[Run]

    @property
    def mean(self) -> float:
        return statistics.fmean(run.error_rate for run in self.runs)

    @property
    def sd(self) -> float:
        return statistics.stdev(run.error_rate for run in self.runs) if len(self.runs) > 1 else math.nan

    def by_seed(self, seed_params) -> dict:
        return {tuple(run.params.get(key) for key in seed_params): run.error_rate for run in self.runs}


def group_by_recipe(runs: list[Run], seed_params=SEED_PARAMS) -> list[Group]:
    """Groups of runs that differ only in their seeds, best (lowest mean error_rate) first. A run of params already
    seen, seeds included, counts once: it is the same run again (on the CPU, or restored from DVC's run cache)."""
    groups: dict[str, Group] = {}
    seen = set()
    for run in runs:
        if (whole := repr(sorted(run.params.items()))) in seen:
            continue
        seen.add(whole)
        recipe = {key: value for key, value in run.params.items() if key not in seed_params}
        groups.setdefault(repr(sorted(recipe.items(), key=lambda item: item[0])), Group(recipe, [])).runs.append(run)
    return sorted(groups.values(), key=lambda group: group.mean)


def against_best(best: Group, other: Group, seed_params=SEED_PARAMS) -> tuple[str, float]:
    """(test, two-sided p) of other's error_rate against best's: paired on the seeds both ran (at least 2; a run
    without its pair is left out), else Welch's."""
    mine, theirs = best.by_seed(seed_params), other.by_seed(seed_params)
    shared = sorted(mine.keys() & theirs.keys(), key=repr)
    if len(shared) >= 2:
        result = ttest_rel([theirs[s] for s in shared], [mine[s] for s in shared])
        return f"paired t over {len(shared)} seeds", float(result.pvalue)
    if len(best.runs) >= 2 and len(other.runs) >= 2:
        result = ttest_ind(list(theirs.values()), list(mine.values()), equal_var=False)
        return "Welch's t", float(result.pvalue)
    return "", math.nan


def label(group: Group, groups: list[Group]) -> str:
    """The params that tell this group from the others (all of them the same: `all runs`)."""
    keys = {key for g in groups for key in g.recipe}
    varying = sorted(key for key in keys if len({repr(g.recipe.get(key)) for g in groups}) > 1)
    return ", ".join(f"{key}={group.recipe.get(key)}" for key in varying) or "all runs"


def seed_report(groups: list[Group], seed_params=SEED_PARAMS) -> list[dict]:
    report = []
    for group in groups:
        row = {"recipe": label(group, groups), "runs": len(group.runs), "mean": group.mean, "sd": group.sd}
        if len(group.runs) == 1:
            row["note"] = "1 run: no spread; queue more seeds"
        if group is not groups[0]:
            test, p = against_best(groups[0], group, seed_params)
            row.update(difference=group.mean - groups[0].mean, test=test, p=p)
        report.append(row)
    return report


def report_lines(report: list[dict]) -> list[str]:
    lines = []
    for rank, row in enumerate(report):
        spread = f" ± {row['sd']:.4f}" if row["runs"] > 1 else ""
        text = f"{row['recipe']}: {row['runs']} run(s), error_rate {row['mean']:.4f}{spread}"
        if rank == 0:
            text += " (best)"
        elif row["test"]:
            text += f"; {row['difference']:+.4f} against the best, {row['test']} p = {row['p']:.2g}"
        lines.append(text + (f"; {row['note']}" if "note" in row else ""))
    return lines


def seeds_of_experiments(seed_params=SEED_PARAMS, all_commits: bool = False) -> list[dict]:
    """seed_report of the runs `dvc exp show` lists (of every commit with `all_commits`)."""
    runs = runs_of(shown_experiments(all_commits))
    if not runs:
        raise PetsError(f"no run with {layout.METRICS_JSON} in dvc exp show: run dvc exp run first")
    return seed_report(group_by_recipe(runs, seed_params), seed_params)
