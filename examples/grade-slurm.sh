#!/bin/bash
# Grade a class on a Slurm cluster: one array task per shard, then one job that merges them.
#
#   sbatch --array=1-8 examples/grade-slurm.sh submissions/        # 8 shards, any number works
#   sbatch --dependency=afterok:<JOBID> --wrap \
#       "vae-course merge reports/shard-*.csv --report reports/class.csv --export canvas --export moodle"
#
# Each task grades every N-th student (vae-course grade --shard I/N: the same split on any
# machine), so the shards never overlap and together hold the whole class. Run it from the
# course repository, with the course installed (make setup) on a filesystem the nodes share.
#SBATCH --job-name=vae-course-grade
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=00:30:00
#SBATCH --output=slurm-%A_%a.log

set -euo pipefail
SUBMISSIONS=${1:?usage: sbatch --array=1-N grade-slurm.sh SUBMISSIONS_DIR}
mkdir -p reports
.venv/bin/vae-course grade "$SUBMISSIONS" \
    --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" \
    --jobs "${SLURM_CPUS_PER_TASK:-2}" \
    --report "reports/shard-${SLURM_ARRAY_TASK_ID}.csv" --no-html
