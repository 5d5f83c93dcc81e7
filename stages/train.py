"""Stage train: fine-tune `arch` on the pixel cache (pets.train.run); writes models/model.pt, the model's scores of
every cached image and the training images' out-of-fold scores for the label audit (models/scores.npz;
pets.inference.probe), the per-epoch log metrics/training/ (dvclive) and the pictures. After every
epoch models/resume.pt lets an interrupted run go on from there.

With train.devices > 1 the stage runs itself again under torchrun, one process per device; with train.nodes > 1 this
machine is node 0 of the run, and the others join it (python -m pets join; pets.runtime.distributed). A run dies with
the dvc command that started it, and a second one of the same workspace is refused while the first runs
(pets.runtime.lifetime).
"""

from pets.config import layout
from pets.config.params import load_params
from pets.errors import report_errors
from pets.runtime import distributed, lifetime
from pets.runtime.clock import timed


def train(params):
    from pets.train.run import train_run  # the model code: not in the process that only launches torchrun's

    with distributed.peers_lost():
        train_run(params)


@report_errors
@timed("train")
def main():
    params = load_params(settings=distributed.joined_settings())
    if distributed.under_torchrun():  # one of the processes launch_training started, on this machine or another
        lifetime.die_with_parent()
        return train(params)
    lifetime.exit_with_dvc()
    with lifetime.RunLock(layout.TRAIN_LOCK):
        if params.train.nodes * distributed.device_count(params.train.devices) > 1:
            return distributed.launch_training(params, "stages.train")
        return train(params)


if __name__ == "__main__":
    main()
