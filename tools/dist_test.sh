#!/usr/bin/env bash
# Distributed evaluation through torchrun and mmengine's DDP:
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options ...]
# Each process scores its share of the samples; the nuScenes metric gathers the predictions and
# rank 0 runs the devkit. NNODES, NODE_RANK, MASTER_ADDR and PORT may be set in the environment
# for multi-node runs.
set -euo pipefail
TOOLS="$(cd "$(dirname "$0")" && pwd)"
exec bash "${TOOLS}/torchrun.sh" "$3" "${TOOLS}/test.py" "$1" "$2" --launcher pytorch "${@:4}"
