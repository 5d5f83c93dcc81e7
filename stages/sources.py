"""Stage sources: record the size and modification time of every local file the dataset recipe names, in
data/sources.json. DVC runs it every time (always_changed); download re-runs only when the record changes."""

from pets.atomic import write_json
from pets.errors import report_errors
from pets.params import load_params
from pets.sources import local_files


@report_errors
def main():
    params = load_params()
    write_json("data/sources.json", local_files(params["datasets"][params["data"]]))


if __name__ == "__main__":
    main()
