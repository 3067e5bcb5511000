"""Robustness benchmark: clean + corruption x severity (+ real day/night/rain subsets), scored
with the nuScenes devkit, with the suites' robustness scores and the routing analysis.

    python tools/robustness.py CONFIG CHECKPOINT --work-dir DIR [--suite default|multicorrupt]
        [--corruptions fog night ...] [--severities 1 3 5] [--baseline OTHER/results.json]
        [--context-mode off|oracle|estimated] [--seed 0] [--no-subsets] [--cfg-options ...]
    python tools/robustness.py --report DIR/results.json     # report.md + plots from the JSON
    python tools/robustness.py --report DIR/results.json --baseline OTHER/results.json
                                      # re-score against OTHER (rewrites results.json), report
    python tools/robustness.py --compare A/results.json B/results.json    # side-by-side table

Writes ``DIR/results.json``, ``DIR/report.md``, PNG plots, and per condition
``DIR/conditions/<name>/`` (the submission and the devkit's ``metrics_summary.json``).
The work is done by ``fusion_moe.evaluation.robustness`` (see ``evaluate.py`` for the steps).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone

from mmengine.config import Config, DictAction  # noqa: E402

import fusion_moe  # noqa: E402,F401  (registration)
from fusion_moe.engine import load_checkpoint_file  # noqa: E402
from fusion_moe.evaluation import point_data_at  # noqa: E402
from fusion_moe.evaluation.robustness import (REAL_SUBSETS, SUITES, get_suite,  # noqa: E402
                                              load_results)
from fusion_moe.evaluation.robustness.compare import side_by_side  # noqa: E402
from fusion_moe.evaluation.robustness.report import make_report  # noqa: E402
from fusion_moe.evaluation.robustness.scoring import rescore_file  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from train import ensure_synthetic_data, limit_cpu_threads  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', nargs='?', help='model config')
    p.add_argument('checkpoint', nargs='?', help='checkpoint to evaluate')
    p.add_argument('--work-dir', help='output directory')
    p.add_argument('--report', metavar='RESULTS_JSON',
                   help='only remake report.md and the plots from a results.json (no model); '
                        'with --baseline, re-score it against that baseline first')
    p.add_argument('--compare', nargs='+', metavar='RESULTS_JSON',
                   help='print a side-by-side table of these results files (no model)')
    p.add_argument('--suite', default='default', choices=sorted(SUITES))
    p.add_argument('--corruptions', nargs='+',
                   help="the suite's corruptions to run (default all); other degradation "
                        'names run at severities 1-5')
    p.add_argument('--severities', nargs='+', type=int, help='severities to run (default all)')
    p.add_argument('--baseline', metavar='RESULTS_JSON',
                   help="another model's results.json, for RRA and CE")
    p.add_argument('--context-mode', choices=['off', 'oracle', 'estimated'],
                   help="override the routers' context mode (default: the model's own)")
    p.add_argument('--seed', type=int, default=0, help='degradation seed')
    p.add_argument('--subsets', nargs='*', default=list(REAL_SUBSETS),
                   help=f'real-condition subsets to score (default {list(REAL_SUBSETS)})')
    p.add_argument('--no-subsets', dest='subsets', action='store_const', const=[])
    p.add_argument('--data-root', help='read all data from this nuScenes-format root')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    p.add_argument('--strict', choices=['true', 'false'], default='true',
                   help='refuse a checkpoint whose weights do not match the model (default); '
                        'false loads the matching ones and logs the rest (as tools/test.py)')
    p.add_argument('--verbose', action='store_true', help='keep INFO logs on the console')
    args = p.parse_args(argv)
    if args.report is None and args.compare is None and not (
            args.config and args.checkpoint and args.work_dir):
        p.error('give CONFIG CHECKPOINT --work-dir DIR, --report RESULTS_JSON or --compare ...')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.compare:
        table = side_by_side({path: load_results(path) for path in args.compare})
        print(table)
        return {'table': table}
    if args.report:
        if args.baseline:
            rescore_file(args.report, args.baseline)
        written = make_report(args.report, args.work_dir)
        for name, path in written.items():
            print(f'{name}: {path}')
        return written
    from fusion_moe.evaluation.robustness.evaluate import RobustnessEval
    checkpoint = load_checkpoint_file(args.checkpoint, map_location='cpu')  # refuses unsafe
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        point_data_at(cfg, args.data_root)
    limit_cpu_threads(cfg)
    if cfg.get('synthetic_data'):
        ensure_synthetic_data(**cfg.synthetic_data)
    suite = get_suite(args.suite)
    conditions = suite.conditions(args.corruptions, args.severities, args.seed)
    evaluation = RobustnessEval(cfg, args.config, args.checkpoint, args.work_dir, suite,
                                conditions, seed=args.seed, context_mode=args.context_mode,
                                baseline=args.baseline, real_subsets=args.subsets,
                                quiet=not args.verbose, strict=args.strict == 'true',
                                loaded_checkpoint=checkpoint)
    del checkpoint
    evaluation.run()
    written = evaluation.written
    with open(written['report']) as f:
        print(f.read())
    for name, path in written.items():
        print(f'{name}: {path}')
    return written


if __name__ == '__main__':
    main()
