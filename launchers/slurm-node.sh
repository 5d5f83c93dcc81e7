#!/usr/bin/env bash
# One node's part of a pets training run under Slurm: srun starts it on every node of the job (launchers/slurm.sbatch).
# Node 0 runs the pipeline with `dvc exp run` and hosts the rendezvous; the others join its train stage.
# Arguments: params as `dvc exp run -S` takes them (arch=resnet50 train.seed=2), the same on every node.
set -euo pipefail
source .venv/bin/activate
first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
settings=(-S "train.nodes=$SLURM_NNODES" -S train.devices=auto -S "rendezvous.endpoint=$first:${PETS_PORT:-29400}")
for setting in "$@"; do settings+=(-S "$setting"); done
if [[ $SLURM_NODEID == 0 ]]; then
  dvc exp run "${settings[@]}"
  if git remote get-url origin >/dev/null 2>&1; then
    dvc exp push origin  # the experiment to the git remote, its outputs to the DVC remote: dvc exp pull elsewhere
  fi
else
  python -m pets join --node-rank "$SLURM_NODEID" "${settings[@]}"
fi
