#!/usr/bin/env bash
# Distributed evaluation through torchrun and mmengine's DDP:
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options ...]
# Each process scores its share of the samples; the nuScenes metric gathers the predictions and
# rank 0 runs the devkit. CPU-only machines use gloo. NNODES, NODE_RANK, MASTER_ADDR and PORT
# may be set in the environment for multi-node runs.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="${ROOT}:${PYTHONPATH:-}" \
python -m torch.distributed.run \
    --nnodes="${NNODES}" --node_rank="${NODE_RANK}" --master_addr="${MASTER_ADDR}" \
    --nproc_per_node="${GPUS}" --master_port="${PORT}" \
    "${ROOT}/tools/test.py" "${CONFIG}" "${CHECKPOINT}" --launcher pytorch "${@:4}"
