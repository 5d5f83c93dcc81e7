"""Stage sources: record the size and modification time of every local file the params name: the dataset recipe's
archives in data/sources.json, the `weights` file in data/weights.json. DVC runs it every time (always_changed);
download and train re-run only when their record changes."""

from pets.atomic import write_json
from pets.errors import report_errors
from pets.params import load_params
from pets.sources import local_files, weights_file


@report_errors
def main():
    params = load_params()
    write_json("data/sources.json", local_files(params["datasets"][params["data"]]))
    write_json("data/weights.json", weights_file(params["weights"]))


if __name__ == "__main__":
    main()
