"""Where a stage's time goes: start-up (the interpreter and the imports, until its work begins), the work, and
writing its pictures, metrics and models. Each stage ends with one line saying so, and keeps the figures in
metrics/timings.json for `python -m bench.stages`: not a DVC output, since timings differ from run to run and must
never change a result."""

import functools
import json
import os
import time

import psutil

from pets import atomic
from pets.config import layout


def timings(began: float) -> dict:
    """Seconds of start-up (process start to `began`, a time.time()), work and writing, and the wall time so far."""
    now, writing = time.time(), atomic.seconds_writing()
    start_up = began - psutil.Process().create_time()
    return {
        "start_up": round(start_up, 2),
        "work": round(now - began - writing, 2),
        "writing": round(writing, 2),
        "wall": round(now - began + start_up, 2),
    }


def record(stage: str, spent: dict, path=layout.TIMINGS) -> None:
    """Keep `spent` as the stage's latest timings in metrics/timings.json; a file damaged or missing starts anew."""
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    atomic.write_json(path, {**(kept if isinstance(kept, dict) else {}), stage: spent})


def timed(stage: str):
    """Decorate a stage's main(): at its end one line of where the time went, and the record. Not in torchrun's
    worker processes: the stage's own process (their launcher) says it for the run."""

    def decorate(main):
        @functools.wraps(main)
        def run(*args, **kwargs):
            began = time.time()
            result = main(*args, **kwargs)
            if "LOCAL_RANK" not in os.environ:
                spent = timings(began)
                record(stage, spent)
                print(
                    f"{stage}: {spent['wall']:.1f} s (start-up {spent['start_up']:.1f} s, work {spent['work']:.1f} s, "
                    f"writing pictures, metrics and models {spent['writing']:.1f} s)",
                    flush=True,
                )
            return result

        return run

    return decorate
