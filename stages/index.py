"""Stage index: label every image from its name, split the set and apply the label fixes; writes data/index and
metrics/index.json."""

import json

from pets.atomic import atomic_path, write_json
from pets.config import layout
from pets.config.params import load_params
from pets.data.index import build_index, index_arguments, write_index
from pets.errors import report_errors


@report_errors
def main():
    p = load_params()["index"]
    rows, classes, report = build_index(layout.RAW, **index_arguments(p))
    with atomic_path(layout.INDEX_DIR) as out:
        out.mkdir()
        write_index(out / layout.INDEX_TABLE.name, rows)
        (out / layout.CLASSES.name).write_text(json.dumps(classes, indent=1) + "\n")
    write_json(layout.INDEX_REPORT, report)
    fixes = report.get("fixes")
    print(
        f"index: {report['images']} images, {report['classes']} classes, splits {report['splits']}, "
        f"{len(report['skipped'])} files skipped"
        + (f", {fixes['relabelled']} relabelled and {fixes['dropped']} dropped by {fixes['file']}" if fixes else "")
    )
    if report["empty_classes"]:
        print(f"warning: class folder(s) without images, not used as classes: {', '.join(report['empty_classes'])}")


if __name__ == "__main__":
    main()
