"""Stage index: label every image from its name and split the set; writes data/index and metrics/index.json."""

import json

from pets.atomic import atomic_path, write_json
from pets.errors import report_errors
from pets.index import build_index, write_index
from pets.params import load_params


@report_errors
def main():
    params = load_params()
    p = params["index"]
    rows, classes, report = build_index("data/raw", p["images"], p["label"], p["pattern"], p["csv"],
                                        p["split"], p["valid_frac"], p["seed"], p["skip_unlabelled"])
    with atomic_path("data/index") as out:
        out.mkdir()
        write_index(out / "index.csv", rows)
        (out / "classes.json").write_text(json.dumps(classes, indent=1) + "\n")
    write_json("metrics/index.json", report)
    print(f"index: {report['images']} images, {report['classes']} classes, splits {report['splits']}, "
          f"{len(report['skipped'])} files skipped")
    if report["empty_classes"]:
        print(f"warning: class folder(s) without images, not used as classes: {', '.join(report['empty_classes'])}")


if __name__ == "__main__":
    main()
