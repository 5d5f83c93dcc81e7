"""Progress of long work with its rate and ETA, on stderr: a bar on a terminal; elsewhere (`dvc queue` logs, CI, a
pipe) one line every PETS_PROGRESS_SECONDS (30 by default), so logs stay readable. PETS_PROGRESS_SECONDS=off
silences it (the tests do). Under torchrun only rank 0 reports: the ranks advance together."""

import os
import sys
import time
from collections.abc import Callable, Iterable

from tqdm import tqdm

FORMAT = "{desc}: {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}, {rate_fmt}]"
DEFAULT_SECONDS = 30.0


def _line_seconds() -> float | None:
    """Seconds between lines off a terminal; None when progress is off."""
    setting = os.environ.get("PETS_PROGRESS_SECONDS", str(DEFAULT_SECONDS))
    return None if setting == "off" else float(setting)


class Progress:
    """`for item in Progress(items, ...)` or `with Progress(total=...) as bar: bar.update(n)`. `count(item)` is
    how many units one item is (images in a batch), so the rate reads in images/s rather than batches/s."""

    def __init__(
        self,
        iterable: Iterable | None = None,
        *,
        desc: str,
        unit: str,
        total: float | None = None,
        count: Callable[[object], int] | None = None,
        **tqdm_options,
    ):
        self.iterable, self.count = iterable, count
        if total is None and count is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        seconds = _line_seconds()
        self.silent = seconds is None or os.environ.get("RANK", "0") != "0"
        self.bar = None
        if not self.silent and sys.stderr.isatty():
            self.bar = tqdm(total=total, desc=desc, unit=unit, mininterval=1.0, dynamic_ncols=True, **tqdm_options)
        self.every, self.desc, self.unit, self.total, self.options = seconds, desc, unit, total, tqdm_options
        self.n = tqdm_options.get("initial", 0)
        self.start = self.last_line = time.monotonic()
        self.shown, self.closed = None, False  # the count the last line showed

    def update(self, n: float = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)
            return
        self.n += n
        if not self.silent and time.monotonic() - self.last_line >= self.every:
            self._line()

    def _line(self):
        self.last_line, self.shown = time.monotonic(), self.n
        options = {key: self.options[key] for key in ("unit_scale", "unit_divisor", "initial") if key in self.options}
        elapsed = self.last_line - self.start
        text = tqdm.format_meter(
            self.n, self.total, elapsed, prefix=self.desc, unit=self.unit, bar_format=FORMAT, **options
        )
        print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.shown is not None and self.shown != self.n:
            self._line()  # work that showed lines shows how it ended

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(self.count(item) if self.count else 1)
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress(iterable=None, **options) -> Progress:
    return Progress(iterable, **options)


def image_batches(loader, desc: str) -> Progress:
    """Progress over (pixels, labels) batches of a pets.data.loader.Batches, counted in images; on a terminal the
    bar goes when the pass ends (the epoch's line says how it went)."""
    total = loader.images
    return Progress(loader, desc=desc, unit=" img", total=total, count=lambda batch: len(batch[1]), leave=False)
