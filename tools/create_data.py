"""Write fusion_moe info files for a nuScenes-format dataset (real or synthetic).

    python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval
    python tools/create_data.py nuscenes --root-path data/synth --version v1.0-mini
    python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval \
        --gt-database

Writes ``nuscenes_infos_train.pkl`` and ``nuscenes_infos_val.pkl`` (mmdet3d info format v1.1
plus LiDAR/radar sweeps and the driving context; see fusion_moe/data/create_infos.py). With
``--gt-database`` also the ground-truth database that GT sampling (``FusionObjectSample``)
reads: ``nuscenes_gt_database/`` and ``nuscenes_dbinfos_train.pkl`` (the LiDAR and radar
points of every training box; see fusion_moe/data/gt_database.py).
"""
import argparse

from fusion_moe.data.create_infos import SPLITS_OF_VERSION, create_nuscenes_infos
from fusion_moe.data.gt_database import create_gt_database


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('dataset', choices=['nuscenes'], help='dataset format')
    parser.add_argument('--root-path', required=True,
                        help='dataset root holding <version>/, samples/, sweeps/, maps/')
    parser.add_argument('--version', required=True, choices=sorted(SPLITS_OF_VERSION),
                        help='nuScenes version folder (synthetic sets use v1.0-mini for <= 10 '
                             'scenes, v1.0-trainval above)')
    parser.add_argument('--out-dir', default=None, help='where to write (default: root path)')
    parser.add_argument('--max-sweeps', type=int, default=10,
                        help='previous LiDAR sweeps per sample')
    parser.add_argument('--max-radar-sweeps', type=int, default=6,
                        help='scans per radar and sample, the sample\'s own included')
    parser.add_argument('--gt-database', action='store_true',
                        help='also write the GT-sampling database of the training split '
                             '(LiDAR sweeps and radar scans as --max-sweeps / '
                             '--max-radar-sweeps)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.gt_database and args.out_dir not in (None, args.root_path):
        raise SystemExit('--gt-database writes next to the data and reads the info files '
                         'there; leave --out-dir out')
    paths = create_nuscenes_infos(args.root_path, args.version, args.out_dir,
                                  max_sweeps=args.max_sweeps,
                                  max_radar_sweeps=args.max_radar_sweeps)
    for split, path in paths.items():
        print(f'{split}: {path}')
    if args.gt_database:
        db = create_gt_database(args.root_path, lidar_sweeps=args.max_sweeps,
                                radar_sweeps=args.max_radar_sweeps)
        print(f'gt database: {db}')


if __name__ == '__main__':
    main()
