"""The per-epoch curves through dvclive: one step per epoch, written as the epoch ends, so that `dvc exp show`,
`dvc plots show` (and Studio or the VS Code extension) follow a run while it trains."""

from dvclive import Live

from pets.config import layout

CURVES = ("train_loss", "valid_loss", "error_rate", "lr", "images_per_s", "seconds")


def open_epoch_log(history=(), directory=layout.TRAINING_LOG):
    """A fresh dvclive log holding the epochs of `history` (those a resumed run trained before it was stopped):
    the curves are rebuilt from the resume checkpoint, so they always agree with it."""
    # dvc.yaml declares these metrics and plots itself, and DVC makes the experiments
    live = Live(directory, save_dvc_exp=False, dvcyaml=None)
    for row in history:
        log_epoch(live, row)
    return live


def log_epoch(live, row):
    """Write one epoch's row of fit's history (its step is the epoch number)."""
    live.step = row["epoch"]
    for name in CURVES:
        live.log_metric(name, row[name])
    live.next_step()
