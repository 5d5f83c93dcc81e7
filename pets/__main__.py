"""Command line: `python -m pets predict IMAGE|FOLDER ...`, `python -m pets serve`, `python -m pets lr_find`,
`python -m pets compare [A] [B]`, `python -m pets audit`, `python -m pets review` (the audit as a page),
`python -m pets join` (another machine of a training run) and `python -m pets quickstart NAME` (make pets, make
photos, make digits, make pictures). Argument parsing only: each command's work is in the package it belongs to,
imported when the command runs (torch takes seconds to import; predict on an ONNX model never does)."""

import argparse
import json
import os
import sys
from pathlib import Path

from pets.config import layout
from pets.errors import report_errors
from pets.inference.answers import at_least, min_confidence, top_count

LR_FIND_LEAST = 10  # fewer batches cannot sweep seven decades of learning rates with a smoothed loss


at_least_one = at_least(1)


def port_number(value: str) -> int:
    port = at_least(0)(value)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (any free port) to 65535, not {port}")
    return port


def picture_file(value: str) -> Path | None:
    """--picture: a file a command writes, or none. Its folder must exist (a mistyped path makes no folders; only the
    default, under the project's metrics/, is made), and it is no folder itself (nothing the user owns is replaced)."""
    if value == "none":
        return None
    path = Path(value)
    if path == layout.COMPARE_PNG and not path.parent.exists():
        return path
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a folder: name a file in it, e.g. {path / 'compare.png'}")
    if path.parent.exists() and not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: {path.parent} is a file, not a folder")
    if not path.parent.exists():
        raise argparse.ArgumentTypeError(f"{value}: there is no folder {path.parent} (no folder is made for it)")
    return path


def predict_command(args):
    from pets.inference.predictor import predict

    predict(args.inputs, model=args.model, top=args.top, batch_size=args.batch_size, as_json=args.json,
            min_confidence=args.min_confidence)  # fmt: skip


def serve_command(args):
    from pets.serve.server import serve

    serve(args.model, host=args.host, port=args.port, min_confidence=args.min_confidence)


def review_command(args):
    from pets.serve.review import review

    review(args.port)


def lr_find_command(args):
    from pets.train.lr_find import run_lr_find

    run_lr_find(args.phase, args.out, args.iterations)


def compare_command(args):
    if args.seeds:
        return seeds_command(args)
    from pets.report.compare import compare_revisions

    comparison, drawn = compare_revisions(args.revisions, args.picture)
    print(json.dumps(comparison.as_dict(), indent=1) if args.json else "\n".join(comparison.lines()))
    if drawn:
        print(drawn, file=sys.stderr)


def seeds_command(args):
    from pets.errors import PetsError
    from pets.report.seeds import report_lines, seeds_of_experiments

    if args.revisions:
        raise PetsError("compare --seeds reads every experiment of dvc exp show: give no revisions with it")
    report = seeds_of_experiments(tuple(args.seed_params.split(",")), args.all_commits)
    print(json.dumps(report, indent=1) if args.json else "\n".join(report_lines(report)))


def audit_command(args):
    from pets.report.audit import audit

    print("\n".join(audit(args.top)))


def join_command(args):
    from pets.config.params import load_params
    from pets.errors import PetsError
    from pets.runtime import distributed

    params = load_params(settings=tuple(args.set))
    nodes, where = params.train.nodes, params.rendezvous.endpoint
    if not 1 <= args.node_rank < nodes:
        raise PetsError(
            f"--node-rank {args.node_rank}: params.yaml's train.nodes is {nodes}, so the machines that join are "
            f"node 1 to {nodes - 1} (node 0 is the one dvc runs on)"
            if nodes > 1
            else "params.yaml's train.nodes is 1: a run on one machine has nothing to join (set train.nodes first)"
        )
    print(f"join: node {args.node_rank} of {nodes}, meeting node 0 at {where} (waits {params.rendezvous.timeout} s)",
          flush=True)  # fmt: skip
    distributed.launch_training(params, "stages.train", node_rank=args.node_rank, settings=tuple(args.set))
    print(f"join: node {args.node_rank} done; the model and the run's outputs are node 0's", flush=True)


def quickstart_command(args):
    from pets.config.params import parse_setting
    from pets.workspace.quickstarts import prepare

    for line in prepare(args.name, settings=dict(map(parse_setting, args.set))):
        print(line, flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "dvc", "exp", "run"])  # this venv's dvc, activated or not


def add_predict(commands):
    predict = commands.add_parser("predict", help="print the top classes of images (files or folders)")
    predict.add_argument("inputs", nargs="+", help="image files or folders of images")
    predict.add_argument("--model", default=str(layout.MODEL), help="a model.pt, or a model.onnx (onnxruntime)")
    predict.add_argument("--top", type=top_count, default=3, help="classes per image")
    predict.add_argument("--batch-size", type=at_least_one, help="images per batch (default: the device's)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.add_argument(
        "--min-confidence", type=min_confidence, help="answer unsure (the top classes still listed) below it: 0.8"
    )
    predict.set_defaults(run=predict_command)


def add_compare(commands):
    compare = commands.add_parser(
        "compare", help="whether two runs differ beyond noise, image by image (paired bootstrap, McNemar)"
    )
    compare.add_argument(
        "revisions",
        nargs="*",
        metavar="A B",
        help="commits, branches, tags, experiment names or workspace "
        "(default: HEAD workspace; one given: it against the workspace)",
    )
    compare.add_argument("--json", action="store_true", help="print JSON instead of text")
    compare.add_argument(
        "--picture", type=picture_file, default=str(layout.COMPARE_PNG), help="the images that changed (none: none)"
    )
    compare.add_argument(
        "--seeds", action="store_true", help="group dvc exp show's runs by every param but the seeds instead"
    )
    compare.add_argument("--seed-params", default="train.seed", help="the params --seeds treats as seeds (a,b)")
    compare.add_argument(
        "-A", "--all-commits", action="store_true", help="--seeds: the runs of every commit, not only HEAD's"
    )
    compare.set_defaults(run=compare_command)


def add_serve(commands):
    serve = commands.add_parser("serve", help="a page to try the model in a browser (http://127.0.0.1:8000)")
    serve.add_argument("--model", default=str(layout.MODEL), help="a model.pt, or a model.onnx (onnxruntime)")
    serve.add_argument("--port", type=port_number, default=8000, help="0: any free port")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (0.0.0.0 or ::, every network)")
    serve.add_argument(
        "--min-confidence", type=min_confidence, default=0.8, help="the page says unsure below it (default 0.8)"
    )
    serve.set_defaults(run=serve_command)
    review = commands.add_parser(
        "review", help="the audit's ranking as a page: keep, relabel or drop each picture (http://127.0.0.1:8001)"
    )
    review.add_argument("--port", type=port_number, default=8001, help="0: any free port (on 127.0.0.1 only)")
    review.set_defaults(run=review_command)


def add_others(commands):
    lr_find = commands.add_parser("lr_find", help="learning-rate range test on the cached training split")
    lr_find.add_argument("--phase", choices=["frozen", "unfrozen"], default="frozen")
    lr_find.add_argument("--iterations", type=at_least(LR_FIND_LEAST), default=100)
    lr_find.add_argument("--out", default=str(layout.METRICS), help="folder for lr_find.tsv and lr_find.png")
    lr_find.set_defaults(run=lr_find_command)
    audit = commands.add_parser("audit", help="rank the images whose label the model finds least likely, to review")
    audit.add_argument("--top", type=at_least_one, default=16, help="images printed and drawn")
    audit.set_defaults(run=audit_command)
    join = commands.add_parser(
        "join", help="train with the machine where dvc runs (train.nodes > 1): this machine's processes of the run"
    )
    join.add_argument("--node-rank", type=at_least_one, default=1, help="this machine's number: 1 to train.nodes - 1")
    join.add_argument(
        "-S", "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a param over params.yaml's, as the first machine's dvc exp run -S has it (params.yaml is not written)",
    )  # fmt: skip
    join.set_defaults(run=join_command)
    quickstart = commands.add_parser("quickstart", help="set a quick start's params (quickstarts.yaml), dvc exp run")
    quickstart.add_argument("name", help="a quick start of quickstarts.yaml: pets, photos, digits, pictures")
    quickstart.add_argument(
        "-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="a param over the quick start's own"
    )
    quickstart.set_defaults(run=quickstart_command)


@report_errors
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pets", description="Use and tune the pets model.")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (add_predict, add_compare, add_serve, add_others):
        add(commands)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
