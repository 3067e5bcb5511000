"""Evaluate a checkpoint with the nuScenes devkit.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--strict true|false]
                         [--degradation fog:3 ...] [--cfg-options ...]

Prints the devkit's mAP, NDS, per-class AP and TP errors and leaves its own
``metrics_summary.json`` in ``<work_dir>/nuscenes_eval/``. The checkpoint is loaded with torch's
weights-only unpickler (a file whose pickle would run code is refused, naming it) and must hold
exactly the model's weights: missing or unexpected keys stop the run, naming them, unless
``--strict false``, which loads the keys that fit and logs the rest.
``--degradation NAME:SEVERITY`` (repeatable, applied in order) scores one degraded condition;
``tools/robustness.py`` runs whole suites.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import fusion_moe  # noqa: E402,F401  (registration)
from fusion_moe.engine import load_checkpoint_file, load_model_weights  # noqa: E402
from fusion_moe.engine.config_checks import check_point_ranges  # noqa: E402
from fusion_moe.evaluation import (format_devkit_summary, keep_eval_outputs_in,  # noqa: E402
                                   point_data_at)
from fusion_moe.evaluation.robustness import (condition_name, degrade_test_pipeline,  # noqa: E402
                                              parse_degradation_spec)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from train import init_cpu_distributed, limit_cpu_threads, make_synthetic_data_once  # noqa: E402


def _true_or_false(text: str) -> bool:
    if text.lower() not in ('true', 'false'):
        raise argparse.ArgumentTypeError(f'expected true or false, got {text!r}')
    return text.lower() == 'true'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a fusion_moe detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for logs and the devkit outputs')
    parser.add_argument('--data-root',
                        help='read all data from this nuScenes-format root instead of the '
                             "config's (e.g. data/synth)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--strict', type=_true_or_false, default=True,
                        help='refuse a checkpoint whose weights do not match the model '
                             '(default true); false loads the matching ones and logs the rest')
    parser.add_argument('--degradation', type=parse_degradation_spec, action='append',
                        default=[], metavar='NAME:SEVERITY',
                        help='degrade the test data on the fly, e.g. fog:3 (repeatable)')
    parser.add_argument('--degradation-seed', type=int, default=0,
                        help='seed of the degradations (per sample: (seed, sample))')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    checkpoint = load_checkpoint_file(args.checkpoint, map_location='cpu')  # refuses unsafe
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.data_root:
        point_data_at(cfg, args.data_root)
    if args.degradation:
        applied = degrade_test_pipeline(cfg, args.degradation, args.degradation_seed)
        print(f'test condition {condition_name(args.degradation)}: {applied}')
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = None  # loaded below, checked against the model
    limit_cpu_threads(cfg)
    eval_dir = osp.join(cfg.work_dir, 'nuscenes_eval')
    keep_eval_outputs_in(cfg, eval_dir)
    check_point_ranges(cfg)
    if args.launcher == 'pytorch':
        init_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    load_model_weights(runner.model, args.checkpoint, strict=args.strict, checkpoint=checkpoint)
    del checkpoint
    make_synthetic_data_once(cfg)
    metrics = runner.test()
    summary_path = osp.join(eval_dir, 'metrics_summary.json')
    if osp.isfile(summary_path):
        with open(summary_path) as f:
            print(format_devkit_summary(json.load(f)))
        print(f'devkit summary: {summary_path}')
    return metrics


if __name__ == '__main__':
    main()
