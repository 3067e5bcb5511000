#!/usr/bin/env bash
# Distributed training through torchrun and mmengine's DDP:
#   tools/dist_train.sh CONFIG GPUS [train.py options ...]
# NNODES, NODE_RANK, MASTER_ADDR and PORT may be set in the environment for multi-node runs.
set -euo pipefail
TOOLS="$(cd "$(dirname "$0")" && pwd)"
exec bash "${TOOLS}/torchrun.sh" "$2" "${TOOLS}/train.py" "$1" --launcher pytorch "${@:3}"
