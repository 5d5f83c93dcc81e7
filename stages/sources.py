"""Stage sources: check the whole of params.yaml, then record the state of every local file the params name: the
dataset recipe's archives or folder of pictures in data/sources.json, the `weights` file in data/weights.json, the
label fixes in data/fixes.json. DVC runs it first and every time (always_changed), so a wrong param fails before any
work; download, index and train re-run only when their record changes."""

import json

from pets.atomic import write_json
from pets.config import layout
from pets.config.params import load_params
from pets.data.sources import fixes_file, local_files, weights_file
from pets.errors import report_errors
from pets.runtime.clock import timed


@report_errors
@timed("sources")
def main():
    params = load_params()  # every rule of pets.config.schema
    memo = json.loads(layout.HASHES.read_text()) if layout.HASHES.is_file() else {}
    write_json(layout.SOURCES_RECORD, local_files(params.data, params.recipe, memo))
    weights = weights_file(params.weights, memo)
    if params.weights.kind == "file":  # torch is imported for a weights file only
        from pets.model.weights_file import check_weights_file

        check_weights_file(params.arch, params.weights.path)
    write_json(layout.WEIGHTS_RECORD, weights)
    write_json(layout.HASHES, memo)
    write_json(layout.FIXES_RECORD, fixes_file(params.index.fixes))


if __name__ == "__main__":
    main()
