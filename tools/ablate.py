"""Run an ablation grid: train every cell, evaluate it clean and under the grid's conditions
with the robustness tool, and write one results table, a summary and plots.

    python tools/ablate.py GRID_CONFIG --work-dir DIR [--max-iters N] [--jobs 1]
    python tools/ablate.py --report DIR/results.csv      # summary.md + plots from the table

Writes ``DIR/results.csv`` (one row per cell and condition), ``DIR/summary.md``, PNG plots and
per cell ``DIR/cells/<cell>/`` (its config, logs, checkpoint and robustness results). Running
the same command again skips finished cells, continues an interrupted one from its last
checkpoint and retries failed ones. The grid config's keys are described in
``fusion_moe/ablation/grid.py``; the work is done by ``fusion_moe.ablation``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone

from fusion_moe.ablation import load_grid, make_report, run_grid  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('grid', nargs='?', help='grid config (e.g. configs/ablation/placement.py)')
    p.add_argument('--work-dir', help='output directory (results.csv, summary.md, cells/)')
    p.add_argument('--max-iters', type=int,
                   help="train each cell N iterations instead of its config's epochs")
    p.add_argument('--jobs', type=int, default=1, help='cells run at the same time')
    p.add_argument('--report', nargs='?', const='', metavar='RESULTS_CSV',
                   help='only remake summary.md and the plots from a results.csv '
                        '(default: WORK_DIR/results.csv)')
    args = p.parse_args(argv)
    if args.report is not None:
        if not args.report and not args.work_dir:
            p.error('--report needs RESULTS_CSV or --work-dir')
    elif not (args.grid and args.work_dir):
        p.error('give GRID_CONFIG --work-dir DIR, or --report RESULTS_CSV')
    if args.jobs < 1:
        p.error('--jobs must be >= 1')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.report is not None:
        table = args.report or osp.join(args.work_dir, 'results.csv')
        written = make_report(table, args.work_dir if args.report else None)
        for name, path in written.items():
            print(f'{name}: {path}')
        return written
    try:
        return run_grid(load_grid(args.grid), args.work_dir, max_iters=args.max_iters,
                        jobs=args.jobs)
    except KeyboardInterrupt:
        print(f'[ablate] stopped; the same command resumes the grid in {args.work_dir}',
              flush=True)
        sys.exit(130)


if __name__ == '__main__':
    main()
