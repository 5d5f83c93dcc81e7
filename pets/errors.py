"""One kind of error for everything a user can fix, and the way stages report it."""

import functools
import os
import sys


class PetsError(Exception):
    """A problem with the user's input, params or environment, told in one sentence."""


def report_errors(main):
    """Run a stage's main(); a PetsError or Ctrl-C ends it with one line on stderr, not a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            result = main(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows here rather than as the interpreter's last words
            return result
        except PetsError as error:
            if os.environ.get("LOCAL_RANK", "0") != "0":  # under torchrun: one line a machine, from its first process
                sys.exit(1)
            sys.exit(f"error: {error}")
        except BrokenPipeError:  # stdout closed early (| head): stop quietly, as the tools it was piped to expect
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except KeyboardInterrupt:
            if os.environ.get("RANK", "0") != "0":  # under torchrun, every process is stopped: process 0 says so
                sys.exit(130)
            sys.exit("interrupted: nothing half-written was kept; run `dvc repro` again to continue")

    return wrapper
