"""Stage index: label every image from its name, split the set and apply the label fixes; writes data/index and
metrics/index.json."""

import json

from pets.atomic import atomic_folder, write_json
from pets.config import layout
from pets.config.params import load_params
from pets.data.index import build_index, write_index
from pets.errors import report_errors
from pets.runtime.clock import timed


def valid_range(report):
    counts = [count.get("valid", 0) for count in report["per_class"].values()]
    return f"{min(counts)} to {max(counts)}" if min(counts) != max(counts) else str(min(counts))


@report_errors
@timed("index")
def main():
    rows, classes, report = build_index(layout.RAW, load_params().index)
    with atomic_folder(layout.INDEX_DIR) as out:
        out.mkdir()
        write_index(out / layout.INDEX_TABLE.name, rows)
        (out / layout.CLASSES.name).write_text(json.dumps(classes, indent=1) + "\n")
    write_json(layout.INDEX_REPORT, report)
    fixes = report.get("fixes")
    print(
        f"index: {report['images']} images, {report['classes']} classes, splits {report['splits']} (validation images "
        f"per class: {valid_range(report)}), {len(report['skipped'])} files skipped"
        + (f", {fixes['relabelled']} relabelled and {fixes['dropped']} dropped by {fixes['file']}" if fixes else "")
    )
    if report["empty_classes"]:
        print(f"warning: class folder(s) without images, not used as classes: {', '.join(report['empty_classes'])}")


if __name__ == "__main__":
    main()
