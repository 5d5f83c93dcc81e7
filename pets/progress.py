"""Progress bars with rate and ETA on a terminal, silent when output goes to a file or CI log."""

from tqdm import tqdm


def progress(iterable=None, **kwargs):
    return tqdm(iterable, disable=None, mininterval=1.0, dynamic_ncols=True, **kwargs)
