#!/usr/bin/env bash
# torchrun for the tools: tools/torchrun.sh NPROC SCRIPT [SCRIPT options ...]
# (used by dist_train.sh and dist_test.sh). NNODES, NODE_RANK, MASTER_ADDR and PORT may be set
# in the environment for multi-node runs; CPU-only machines use gloo (tools/train.py).
set -euo pipefail
NPROC=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="${ROOT}:${PYTHONPATH:-}" \
python -m torch.distributed.run \
    --nnodes="${NNODES}" --node_rank="${NODE_RANK}" --master_addr="${MASTER_ADDR}" \
    --nproc_per_node="${NPROC}" --master_port="${PORT}" \
    "${SCRIPT}" "${@:3}"
