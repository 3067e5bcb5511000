"""Plot the routing statistics an MoE run saved with its validation or test results.

    python tools/plot_routing.py WORK_DIR/<timestamp>/routing_stats_test.json --out routing.png

One figure row per MoE layer: per-expert load, per-context utilisation (day / night, clear /
rain / fog), routing entropy, gate gap, fallback rate and dropped fraction.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone

from fusion_moe.viz.routing_plots import plot_routing_statistics  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('stats', help='routing_stats_<mode>.json written by RoutingStatisticsHook')
    parser.add_argument('--out', required=True, help='PNG to write')
    args = parser.parse_args(argv)
    plotted = plot_routing_statistics(args.stats, args.out)
    print(f'{len(plotted)} MoE layer(s) -> {args.out}')


if __name__ == '__main__':
    main()
