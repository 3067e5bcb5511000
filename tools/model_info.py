"""Parameters, active parameters per token and FLOPs of a config's model, per component.

    python tools/model_info.py CONFIG [--json PATH] [--batch-size N] [--seed S]
                               [--cfg-options KEY=VALUE ...]

Builds the model (random weights: the cost does not depend on them) and runs one inference
forward on a generated packed batch sized as the config's test pipeline loads nuScenes
(``fusion_moe.analysis.packed_batch``). Prints a table of ``encoders``, ``fusion`` (the
placement, with each MoE layer), ``trunk`` and ``head``; ``--json`` writes
``{config, batch, total, components, moe_layers}``, each entry with ``params``,
``active_params`` and ``flops`` (how each is counted: ``fusion_moe/analysis/model_cost.py``).
FLOPs are per batch (``--batch-size`` samples, default 1).
"""
import argparse
import dataclasses
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import fusion_moe  # noqa: E402,F401  (registration)
from fusion_moe.analysis import (format_cost_table, model_cost, packed_batch,  # noqa: E402
                                 sizes_from_config)
from fusion_moe.registry import MODELS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--batch-size', type=int, default=1, help='samples in the batch')
    parser.add_argument('--seed', type=int, default=0, help='seed of weights and batch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, as tools/train.py')
    return parser.parse_args(argv)


def model_info(config: str, batch_size: int = 1, seed: int = 0, cfg_options=None) -> dict:
    """The JSON record ``tools/model_info.py`` writes for ``config``."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'{config}: no such config file')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{config} defines no model')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    sizes = sizes_from_config(cfg)
    cost = model_cost(model, packed_batch(sizes, batch_size, seed))
    return dict(config=config, batch=dict(dataclasses.asdict(sizes), batch_size=batch_size),
                **cost)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    record = model_info(args.config, args.batch_size, args.seed, args.cfg_options)
    print(f"{args.config}: batch of {args.batch_size}, per sample {record['batch']}")
    print(format_cost_table(record))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(record, f, indent=2)
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
