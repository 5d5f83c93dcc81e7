"""Stage index: label every image from its name, split the set, apply the label fixes, and check the data (class
sizes, duplicates within and across splits); writes data/index, metrics/index.json, metrics/data_check.json and
metrics/duplicates.png."""

import json

from pets.atomic import atomic_path, write_json
from pets.config import layout
from pets.config.params import load_params
from pets.data.check import check_data, summary
from pets.data.index import build_index, check_splits, index_arguments, split_counts, write_index
from pets.errors import report_errors
from pets.report.duplicates import duplicates_picture
from pets.runtime.sharing import thread_budget


@report_errors
def main():
    p = load_params()["index"]
    rows, classes, report = build_index(layout.RAW, **index_arguments(p))
    check = check_data(
        rows, layout.RAW, duplicates=p["duplicates"], min_per_class=p["min_per_class"], workers=thread_budget()
    )
    if check.report["dropped"]:
        rows = check.rows
        check_splits(rows, classes, split_rule=p["split"], csv_name=p["csv"], valid_frac=p["valid_frac"])
        report.update(split_counts(rows, classes), dropped_as_duplicates=check.report["dropped"])
    with atomic_path(layout.INDEX_DIR) as out:
        out.mkdir()
        write_index(out / layout.INDEX_TABLE.name, rows)
        (out / layout.CLASSES.name).write_text(json.dumps(classes, indent=1) + "\n")
    write_json(layout.INDEX_REPORT, report)
    write_json(layout.DATA_CHECK, check.report)
    duplicates_picture(check.pairs, layout.RAW, layout.DUPLICATES_PNG)
    fixes = report.get("fixes")
    print(
        f"index: {report['images']} images, {report['classes']} classes, splits {report['splits']}, "
        f"{len(report['skipped'])} files skipped"
        + (f", {fixes['relabelled']} relabelled and {fixes['dropped']} dropped by {fixes['file']}" if fixes else "")
    )
    for line in summary(check.report):
        print(line)
    if report["empty_classes"]:
        print(f"warning: class folder(s) without images, not used as classes: {', '.join(report['empty_classes'])}")


if __name__ == "__main__":
    main()
