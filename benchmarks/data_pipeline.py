"""Data pipeline speed: synthetic generator throughput, and our loading vs mmdet3d's.

    python benchmarks/data_pipeline.py [--json PATH] [--data-root ROOT] [--repeats N]

One thread throughout (torch, OpenCV). Steps:

1. Generator: ``generate_keyframe_timing`` writes a throw-away synthetic scene with all sensors
   at 1600 x 900 and reports keyframes per second (target >= 1).
2. Loading one full training sample from the same files, interleaved and repeated, medians:
   - ours: ``LoadLidarSweeps(10)`` + ``LoadCameraImages`` (6 JPEGs) + ``LoadRadarSweeps(6)``;
   - theirs: mmdet3d's ``LoadPointsFromFile`` + ``LoadPointsFromMultiSweeps(10)`` +
     ``LoadMultiViewImageFromFiles``; mmdet3d has no radar loader, so the radar scans are
     read with the devkit's ``RadarPointCloud.from_file`` and the same transform math.
   Headlines: ``load_ratio_lidar_camera_vs_mmdet3d`` = ours / mmdet3d's own transforms on
   LiDAR + camera, the like-for-like ratio (target <= 1); ``load_ratio_radar_vs_devkit`` =
   our radar loader / the devkit's reader (target <= 1). ``load_ratio_all_sensors`` (both
   summed) is kept for information: its "theirs" side is not all mmdet3d's.

By default the loading step runs on the generator's output (info files made with
``create_nuscenes_infos``); ``--data-root`` uses an existing nuScenes-format root with info
files instead (e.g. real nuScenes).
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List

import cv2
import mmengine
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import fusion_moe  # noqa: E402,F401
from _common import headline, write_json  # noqa: E402
from fusion_moe.data import LoadCameraImages, LoadLidarSweeps, LoadRadarSweeps  # noqa: E402
from fusion_moe.data.load_radar import radar_scan_to_lidar  # noqa: E402


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generator_speed(out_root: str, samples: int) -> Dict[str, float]:
    from fusion_moe.data.synthetic import generate_keyframe_timing
    return generate_keyframe_timing(image_size=(1600, 900), samples_per_scene=samples,
                                    num_scenes=1, seed=0, out_root=out_root)


def _version_of(root: str) -> str:
    versions = [d for d in os.listdir(root) if d.startswith('v1.0-')]
    if len(versions) != 1:
        raise RuntimeError(f'{root}: expected one v1.0-* table folder, found {versions}')
    return versions[0]


def _samples(root: str) -> List[dict]:
    """Info dicts (absolute paths) of the root's samples with the most sweeps."""
    from mmdet3d.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    infos = []
    for split in ('train', 'val'):
        ann = osp.join(root, f'nuscenes_infos_{split}.pkl')
        if not osp.isfile(ann) or not mmengine.load(ann)['data_list']:
            continue
        ds = DATASETS.build(dict(type='FusionNuScenesDataset', data_root=root, ann_file=ann,
                                 pipeline=[], test_mode=True))
        infos += [ds.get_data_info(i) for i in range(len(ds))]
    infos.sort(key=lambda i: (len(i['lidar_sweeps']),
                              sum(len(s) for s in i['radar_sweeps'].values())), reverse=True)
    return infos


def build_loaders():
    from mmdet3d.datasets.transforms import (LoadMultiViewImageFromFiles, LoadPointsFromFile,
                                             LoadPointsFromMultiSweeps)
    from nuscenes.utils.data_classes import RadarPointCloud
    ours_lidar, ours_cams = LoadLidarSweeps(sweeps_num=10), LoadCameraImages()
    ours_radar = LoadRadarSweeps(sweeps_num=6)
    ours_cams_half = LoadCameraImages(downscale=2)
    their_points = LoadPointsFromFile(coord_type='LIDAR', load_dim=5, use_dim=5)
    their_sweeps = LoadPointsFromMultiSweeps(sweeps_num=10, load_dim=5, use_dim=[0, 1, 2, 3, 4],
                                             remove_close=True, test_mode=True)
    their_cams = LoadMultiViewImageFromFiles(to_float32=False, color_type='color', num_views=6)

    def their_radar(results: dict) -> np.ndarray:
        clouds = []
        for sweeps in results['radar_sweeps'].values():
            for sweep in sweeps[:6]:
                pts = RadarPointCloud.from_file(sweep['data_path']).points.T
                clouds.append(radar_scan_to_lidar(pts, sweep['sensor2lidar'],
                                                  results['timestamp'] - sweep['timestamp']))
        return np.concatenate(clouds) if clouds else np.zeros((0, 8), np.float32)

    return dict(
        ours_lidar=lambda r: ours_lidar(r), ours_camera=lambda r: ours_cams(r),
        ours_radar=lambda r: ours_radar(r), ours_camera_half_res=lambda r: ours_cams_half(r),
        theirs_lidar=lambda r: their_sweeps(their_points(r)),
        theirs_camera=lambda r: their_cams(r), theirs_radar=their_radar)


def loading_speed(root: str, repeats: int, max_samples: int = 3) -> Dict[str, float]:
    infos = _samples(root)[:max_samples]
    if not infos:
        raise RuntimeError(f'{root}: no samples in nuscenes_infos_{{train,val}}.pkl')
    loaders = build_loaders()
    for info in infos:  # warm the page cache and check both sides read the same data
        ours = loaders['ours_lidar'](copy.deepcopy(info))['points']
        theirs = loaders['theirs_lidar'](copy.deepcopy(info))['points']
        if ours.shape[0] != theirs.shape[0]:
            raise RuntimeError(f'LiDAR point counts differ: ours {ours.shape[0]}, '
                               f'mmdet3d {theirs.shape[0]}')
        for name in ('ours_camera', 'theirs_camera', 'ours_radar', 'theirs_radar',
                     'ours_camera_half_res'):
            loaders[name](copy.deepcopy(info))
    seconds: Dict[str, List[float]] = {name: [] for name in loaders}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit both sides alike
        for info in infos:
            for name, fn in loaders.items():
                seconds[name].append(_median_seconds(lambda: fn(copy.deepcopy(info)), 1))
    med = {name: statistics.median(v) for name, v in seconds.items()}
    ours = med['ours_lidar'] + med['ours_camera'] + med['ours_radar']
    theirs = med['theirs_lidar'] + med['theirs_camera'] + med['theirs_radar']
    info = infos[0]
    return {
        'load_samples': len(infos), 'load_repeats': repeats,
        'load_lidar_sweeps': len(info['lidar_sweeps']),
        'load_radar_scans': sum(min(len(s), 6) for s in info['radar_sweeps'].values()),
        'load_ours_s': ours, 'load_theirs_s': theirs,
        'load_ratio_lidar_camera_vs_mmdet3d': ((med['ours_lidar'] + med['ours_camera'])
                                               / (med['theirs_lidar'] + med['theirs_camera'])),
        'load_ratio_radar_vs_devkit': med['ours_radar'] / med['theirs_radar'],
        'load_ratio_all_sensors': ours / theirs,
        **{f'load_{name}_s': value for name, value in med.items()},
    }


def main(argv=None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--data-root', help='existing nuScenes-format root with info files '
                                            '(default: the generator\'s output)')
    parser.add_argument('--gen-samples', type=int, default=8,
                        help='keyframes the generator writes for its timing')
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    load_at_start = os.getloadavg()

    figures: Dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix='bench_data_') as tmp:
        gen = generator_speed(tmp, args.gen_samples)
        figures.update({f'synthetic_{k}': v for k, v in gen.items()})
        figures['synthetic_keyframes_per_s'] = gen['keyframes_per_s']
        root = args.data_root
        if root is None:
            from fusion_moe.data import create_nuscenes_infos
            create_nuscenes_infos(tmp, _version_of(tmp))
            root = tmp
        figures.update(loading_speed(root, args.repeats))
    for key, value in figures.items():
        print(f'{key:40s} {value:.4f}' if isinstance(value, float) else f'{key:40s} {value}')
    targets = {'load_ratio_lidar_camera_vs_mmdet3d': '<= 1', 'load_ratio_radar_vs_devkit': '<= 1',
               'synthetic_keyframes_per_s': '>= 1'}
    write_json(args.json, figures, {k: headline(figures[k], t) for k, t in targets.items()},
               load_at_start)
    return figures


if __name__ == '__main__':
    main()
