"""Write fusion_moe info files for a nuScenes-format dataset (real or synthetic).

    python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval
    python tools/create_data.py nuscenes --root-path data/synth --version v1.0-mini

Writes ``nuscenes_infos_train.pkl`` and ``nuscenes_infos_val.pkl`` (mmdet3d info format v1.1
plus LiDAR/radar sweeps and the driving context; see fusion_moe/data/create_infos.py).
"""
import argparse

from fusion_moe.data.create_infos import SPLITS_OF_VERSION, create_nuscenes_infos


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
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    paths = create_nuscenes_infos(args.root_path, args.version, args.out_dir,
                                  max_sweeps=args.max_sweeps,
                                  max_radar_sweeps=args.max_radar_sweeps)
    for split, path in paths.items():
        print(f'{split}: {path}')


if __name__ == '__main__':
    main()
