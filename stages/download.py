"""Stage download: fetch and unpack the dataset named by `data` into data/raw."""

from pets.download import prepare_dataset
from pets.errors import report_errors
from pets.params import load_params


@report_errors
def main():
    params = load_params()
    prepare_dataset(params["data"], params["datasets"][params["data"]], "data/raw", downloads="data/downloads")


if __name__ == "__main__":
    main()
