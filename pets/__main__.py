"""Command line: `python -m pets predict IMAGE|FOLDER ...`, `python -m pets serve`, `python -m pets lr_find`,
`python -m pets compare [A] [B]`, `python -m pets audit` and `python -m pets quickstart NAME` (make pets, make photos,
make digits, make pictures)."""

import argparse
import dataclasses
import json
import os
import sys

from pets.atomic import write_text
from pets.config import layout
from pets.errors import PetsError, report_errors
from pets.inference.answers import answer_line, answer_record, min_confidence, shown


def at_least(low):
    def count(value):
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {number}")
        return number

    count.__name__ = f"at_least_{low}"
    return count


at_least_one = at_least(1)
LR_FIND_LEAST = 10  # fewer batches cannot sweep seven decades of learning rates with a smoothed loss


def predict_command(args):
    from pets.data.images import IMAGE_SUFFIXES, image_paths

    predict = onnx_predictor(args) if args.model.endswith(".onnx") else torch_predictor(args)  # the model first
    paths, unreadable = image_paths(args.inputs)
    for folder, reason in unreadable:
        print(f"{shown(folder)}: cannot read this folder ({reason})", file=sys.stderr)
    if not paths and not unreadable:
        raise PetsError(f"no images (by suffix: {', '.join(sorted(IMAGE_SUFFIXES))}) in {', '.join(args.inputs)}")
    results, failed = [], 0
    for path, top, error in predict(paths) if paths else []:
        if top is None:
            failed += 1
            print(f"{shown(path)}: {error}", file=sys.stderr)
        elif args.json:
            results.append(answer_record(path, top, args.min_confidence))
        else:
            print(answer_line(path, top, args.min_confidence))
    if args.json:
        print(json.dumps(results, indent=1))
    if failed or unreadable:
        folders = f" and {len(unreadable)} folder(s) could not be read" if unreadable else ""
        raise PetsError(f"{failed} of {len(paths)} input(s) could not be read as images{folders} (listed above)")


def torch_predictor(args):
    from pets.inference.predict import predict_files
    from pets.model.checkpoint import model_from_checkpoint, temperature_of
    from pets.runtime.profile import runtime

    model, checkpoint, preprocess = model_from_checkpoint(args.model)
    active = runtime()
    if args.batch_size:
        active = dataclasses.replace(active, inference_batch=args.batch_size)
    return lambda paths: predict_files(
        model,
        classes=checkpoint["classes"],
        preprocess=preprocess,
        temperature=temperature_of(checkpoint),
        paths=paths,
        runtime=active,
        top_k=args.top,
    )


def onnx_predictor(args):
    """onnxruntime's predictions: no torch imported (pets.inference.onnx_model)."""
    from pets.inference.onnx_model import predict_files

    classifier = onnx_classifier(args.model)
    return lambda paths: predict_files(classifier, paths, top_k=args.top, batch_size=args.batch_size or 32)


def onnx_classifier(path):
    from pets.inference.exported import check_exported_from
    from pets.inference.onnx_model import OnnxClassifier

    if not os.path.isfile(path):
        raise PetsError(f"{path}: no such model (dvc repro export writes {layout.ONNX})")
    classifier = OnnxClassifier(path)
    check_exported_from(classifier, layout.MODEL)
    return classifier


def serve_command(args):
    from pets.serve.server import MAX_PIXELS, MAX_UPLOAD_BYTES, is_loopback, make_server

    if args.model.endswith(".onnx"):
        classifier = onnx_classifier(args.model)
    else:
        from pets.inference.predict import TorchClassifier
        from pets.runtime.profile import runtime

        classifier = TorchClassifier(args.model, runtime())
    server = make_server(classifier, host=args.host, port=args.port, min_confidence=args.min_confidence)
    if not is_loopback(args.host):
        print(
            f"warning: serving on {args.host}: anyone who can reach this machine on port {server.server_port} can "
            "use the model (the default, 127.0.0.1, is this machine alone)",
            file=sys.stderr,
        )
    print(
        f"serving {args.model} ({classifier.arch}, {len(classifier.classes)} classes) at "
        f"http://{args.host}:{server.server_port}/ (uploads up to {MAX_UPLOAD_BYTES // 2**20} MB and "
        f"{MAX_PIXELS // 10**6} megapixels); Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()


def lr_find_command(args):
    from pets.train.lr_find import run_lr_find

    run_lr_find(args.phase, args.out, args.iterations)


def compare_command(args):
    from pets.report.compare import changed, paired
    from pets.report.predictions import read_predictions
    from pets.report.revisions import read_at

    if args.seeds:
        return seeds_command(args)
    a, b = args.revisions + ["HEAD", "workspace"][len(args.revisions) :]
    rows = [read_predictions(read_at(rev, layout.PREDICTIONS), f"{rev}:{layout.PREDICTIONS}") for rev in (a, b)]
    comparison = paired(*rows, a=a, b=b)
    if args.json:
        print(json.dumps(comparison.as_dict(), indent=1))
    else:
        print("\n".join(comparison.lines()))
    if args.picture != "none" and (comparison.fixed or comparison.broken):
        from pets.report.pictures import changed_images

        drawn = changed_images(changed(*rows), layout.RAW, args.picture, a=a, b=b)
        where = f"{drawn} of them in {args.picture}" if drawn else f"none drawn: their files are not in {layout.RAW}"
        print(f"images that changed: {comparison.fixed + comparison.broken}, {where}", file=sys.stderr)


def seeds_command(args):
    import subprocess

    from pets.report.seeds import group_by_recipe, report_lines, runs_of, seed_report

    if args.revisions:
        raise PetsError("compare --seeds reads every experiment of dvc exp show: give no revisions with it")
    command = [sys.executable, "-m", "dvc", "exp", "show", "--json", *(["--all-commits"] if args.all_commits else [])]
    shown = subprocess.run(command, capture_output=True, text=True)
    if shown.returncode != 0:
        raise PetsError(f"dvc exp show --json failed: {(shown.stderr.strip().splitlines() or ['?'])[-1]}")
    seed_params = tuple(args.seed_params.split(","))
    runs = runs_of(json.loads(shown.stdout))
    if not runs:
        raise PetsError(f"no run with {layout.METRICS_JSON} in dvc exp show: run dvc exp run first")
    report = seed_report(group_by_recipe(runs, seed_params), seed_params)
    print(json.dumps(report, indent=1) if args.json else "\n".join(report_lines(report)))


def audit_command(args):
    from pets.data.cache import read_manifest
    from pets.data.loader import CachedSplit
    from pets.inference.forward import predict_probs
    from pets.model.checkpoint import model_from_checkpoint
    from pets.report.audit import fix_lines, ranked, review_csv, review_picture
    from pets.report.predictions import prediction_rows
    from pets.runtime.profile import runtime

    if not os.path.isfile(args.model):
        raise PetsError(f"{args.model} not found: train a model first (dvc repro, or a quick start: make pictures)")
    model, checkpoint, preprocess = model_from_checkpoint(args.model)
    manifest = read_manifest(layout.CACHE)
    if manifest["classes"] != checkpoint["classes"]:
        raise PetsError(f"{args.model} was not trained on the classes of {layout.CACHE}: run dvc repro first")
    active = runtime()
    active.place(model)
    rows = []
    for name in manifest["splits"]:  # the training split too, scored as validation is (no augmentation)
        split = CachedSplit(layout.CACHE, name)
        rows += prediction_rows(
            name, split.files, predict_probs(model, split, preprocess, active), split.labels, checkpoint["classes"]
        )
    rows = ranked(rows)
    write_text(layout.LABEL_REVIEW, review_csv(rows))
    review_picture(rows, layout.RAW, layout.LABEL_REVIEW_PNG, args.top)
    print("\n".join(fix_lines(rows, args.top)))
    print(f"all {len(rows)} images ranked in {layout.LABEL_REVIEW}, the first {args.top} in {layout.LABEL_REVIEW_PNG}")


def quickstart_command(args):
    from pets.config.quickstarts import parse_setting, prepare

    for line in prepare(args.name, settings=dict(map(parse_setting, args.set))):
        print(line, flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "dvc", "exp", "run"])  # this venv's dvc, activated or not


@report_errors
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pets", description="Use and tune the pets model.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="print the top classes of images (files or folders)")
    predict.add_argument("inputs", nargs="+", help="image files or folders of images")
    predict.add_argument("--model", default=str(layout.MODEL), help="a model.pt, or a model.onnx (onnxruntime)")
    predict.add_argument("--top", type=at_least_one, default=3, help="classes per image")
    predict.add_argument("--batch-size", type=at_least_one, help="images per batch (default: the device's)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.add_argument(
        "--min-confidence", type=min_confidence, help="answer unsure (the top classes still listed) below it: 0.8"
    )
    predict.set_defaults(run=predict_command)
    lr_find = commands.add_parser("lr_find", help="learning-rate range test on the cached training split")
    lr_find.add_argument("--phase", choices=["frozen", "unfrozen"], default="frozen")
    lr_find.add_argument("--iterations", type=at_least(LR_FIND_LEAST), default=100)
    lr_find.add_argument("--out", default=str(layout.METRICS), help="folder for lr_find.tsv and lr_find.png")
    lr_find.set_defaults(run=lr_find_command)
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
        "--picture", default=str(layout.COMPARE_PNG), help="the images that changed (none: no picture)"
    )
    compare.add_argument(
        "--seeds", action="store_true", help="group dvc exp show's runs by every param but the seeds instead"
    )
    compare.add_argument("--seed-params", default="train.seed", help="the params --seeds treats as seeds (a,b)")
    compare.add_argument(
        "-A", "--all-commits", action="store_true", help="--seeds: the runs of every commit, not only HEAD's"
    )
    compare.set_defaults(run=compare_command)
    serve = commands.add_parser("serve", help="a page to try the model in a browser (http://127.0.0.1:8000)")
    serve.add_argument("--model", default=str(layout.MODEL), help="a model.pt, or a model.onnx (onnxruntime)")
    serve.add_argument("--port", type=at_least(0), default=8000, help="0: any free port")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (0.0.0.0: every network)")
    serve.add_argument(
        "--min-confidence", type=min_confidence, default=0.8, help="the page says unsure below it (default 0.8)"
    )
    serve.set_defaults(run=serve_command)
    audit = commands.add_parser("audit", help="rank the images whose label the model finds least likely, to review")
    audit.add_argument("--model", default=str(layout.MODEL))
    audit.add_argument("--top", type=at_least_one, default=16, help="images printed and drawn")
    audit.set_defaults(run=audit_command)
    quickstart = commands.add_parser("quickstart", help="set a quick start's params (quickstarts.yaml), dvc exp run")
    quickstart.add_argument("name", help="a quick start of quickstarts.yaml: pets, photos, digits, pictures")
    quickstart.add_argument(
        "-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="a param over the quick start's own"
    )
    quickstart.set_defaults(run=quickstart_command)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
