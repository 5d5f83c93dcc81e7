"""Stage download: fetch and unpack the dataset named by `data` into data/raw."""

from pets.config import layout
from pets.config.params import load_params
from pets.data.recipes import prepare_dataset
from pets.errors import report_errors
from pets.runtime.clock import timed


@report_errors
@timed("download")
def main():
    params = load_params()
    prepare_dataset(params.data, params.recipe, layout.RAW, downloads=layout.DOWNLOADS)


if __name__ == "__main__":
    main()
