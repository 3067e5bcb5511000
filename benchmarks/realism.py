"""Sensor realism: the synthetic set's radar, LiDAR and camera statistics beside the real
nuScenes fixture's, each with a distance and a target; with ``--train`` also the modality
check (devkit mAP of each single-sensor demo model and of the fused one with each sensor
removed, ``tools/modality_check.py``).

    python benchmarks/realism.py [--json PATH] [--synth-root data/synth] [--real-root DIR]
        [--max-keyframes N] [--camera-keyframes N]
        [--train [--train-work-dir DIR] [--train-data-root DIR] [--scenes N] [--epochs N]
                 [--camera-wide] [--reuse]]

The synthetic set is the demo's (``configs/demo/detector_cpu.py``'s ``synthetic_data``),
made if missing; ``--synth-root`` reads another nuScenes-format set with mmdet3d info files.
The real fixture (``FUSION_MOE_REAL_DATA``, default ``../shared/data/nuscenes-real``): one
keyframe (LiDAR, six cameras, 69 boxes with num_radar_pts) and three radar scans of other
logs. The statistics and their definitions: ``fusion_moe/evaluation/realism/`` (the targets
and what stands in where the fixture lacks an input: its ``compare.py``).

Headlines: the share of judged rows that meet their targets, a few key rows, and with
``--train`` the single-sensor mAPs and the targets of the modality check.
"""
# make-bench-args: --max-keyframes 80
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, 'tools'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from _common import headline, write_json  # noqa: E402

from fusion_moe.data.real_fixture import REAL_FIXTURE_ROOT, real_fixture_problem  # noqa: E402
from fusion_moe.evaluation.realism import Row, count_met, format_table  # noqa: E402
from fusion_moe.evaluation.realism import compare, radar_objects  # noqa: E402
from fusion_moe.evaluation.realism.camera_images import condition_of, image_statistics  # noqa: E402
from fusion_moe.evaluation.realism.lidar_scans import set_statistics  # noqa: E402
from fusion_moe.evaluation.realism.radar_scans import scan_statistics  # noqa: E402
from fusion_moe.evaluation.realism.sources import RealFixture, SyntheticSet  # noqa: E402

DEMO_CONFIG = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')


def ensure_demo_set(root: Optional[str]) -> str:
    """``root``, or the demo config's synthetic set (made with its info files if missing)."""
    if root:
        return root
    from mmengine.config import Config
    from train import ensure_synthetic_data
    options = dict(Config.fromfile(DEMO_CONFIG).synthetic_data)
    options['out_root'] = osp.join(REPO, options['out_root'])
    ensure_synthetic_data(**options)
    return options['out_root']


def side_statistics(source, camera_keyframes: int) -> dict:
    """Every statistic of one side (real fixture or synthetic set)."""
    keyframes = list(source.keyframes())
    scans = list(source.radar_scans())
    per_condition: Dict[str, int] = {}
    images = []
    for kf in keyframes:
        cond = condition_of(kf.lighting, kf.weather)
        if per_condition.get(cond, 0) < camera_keyframes:
            per_condition[cond] = per_condition.get(cond, 0) + 1
            images += [(cond, path) for path in kf.image_paths.values()]
    return {'keyframes': keyframes,
            'radar': scan_statistics(scans),
            'objects': radar_objects.object_counts(keyframes),
            'associated': radar_objects.associate_returns(keyframes),
            'lidar': set_statistics([kf.lidar_path for kf in keyframes]),
            'camera': image_statistics(images)}


def realism_rows(real: dict, synth: dict) -> List[Row]:
    """The whole table: radar, LiDAR, camera."""
    real_per_sample = compare.NUM_RADARS * float(real['radar']['points_per_scan'].mean())
    # every radar point of a synthetic sample (its five scans; NaN is the empty-scan marker)
    per_sample = [sum(int(np.isfinite(scan.points[0]).sum()) for scan in kf.radar_scans)
                  for kf in synth['keyframes']]
    synth_per_sample = float(np.mean(per_sample))
    return (compare.radar_scan_rows(real['radar'], synth['radar'])
            + compare.object_count_rows(real['objects'], synth['objects'])
            + compare.placement_rows(real['radar'], synth['associated'])
            + compare.clutter_rows(
                radar_objects.clutter_share(real_per_sample, real['keyframes']),
                radar_objects.clutter_share(synth_per_sample, synth['keyframes']),
                synth['associated'])
            + compare.lidar_rows(real['lidar'], synth['lidar'])
            + compare.camera_rows(real['camera'], synth['camera']))


def _row(rows: List[Row], sensor: str, starts: str) -> Optional[Row]:
    return next((r for r in rows if r.sensor == sensor and r.statistic.startswith(starts)),
                None)


def headlines(rows: List[Row], modality: Optional[dict]) -> dict:
    tally = count_met(rows)
    out = {'targets_met_share': headline(tally['met'] / max(tally['judged'], 1), '>= 1')}
    for key, sensor, starts in (
            ('radar_interior_share', 'radar', 'interior share'),
            ('radar_velocity_error_over_reported_sigma', 'radar', 'radial velocity error'),
            ('radar_position_error_over_reported_sigma', 'radar', 'distance to the visible'),
            ('radar_car_returns_w1', 'radar', 'returns per car'),
            ('lidar_range_w1_m', 'lidar', 'range'),
            ('camera_day_brightness_w1', 'camera', 'brightness (mean luma; day')):
        row = _row(rows, sensor, starts)
        if row is not None:
            out[key] = headline(row.distance, row.target)
    if modality:
        for m, value in modality['single_sensor_map'].items():
            out[f'single_sensor_map_{m}'] = headline(value)
        if 'fused_map' in modality:
            out['fused_map'] = headline(modality['fused_map'])
        for m, value in modality.get('fused_map_without', {}).items():
            out[f'fused_map_without_{m}'] = headline(value)
        if 'camera_backbone_check' in modality:
            out['camera_wide_map'] = headline(modality['camera_backbone_check']
                                              ['camera_wide_map'])
        for name, check in modality['checks'].items():
            # the tool's checks are strict (>); a headline's target is a bound (<=, >=)
            target = '>= 0' if check['target'] == '> 0' else check['target']
            out[name] = headline(check['value'], target)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--json', help='write the record to this JSON file')
    p.add_argument('--synth-root', help="nuScenes-format set with info files (default: the "
                                        "demo's data/synth, made if missing)")
    p.add_argument('--real-root', default=REAL_FIXTURE_ROOT)
    p.add_argument('--max-keyframes', type=int, default=80,
                   help='synthetic keyframes read (every k-th of train + val)')
    p.add_argument('--camera-keyframes', type=int, default=4,
                   help='synthetic keyframes per condition whose six images are read')
    p.add_argument('--train', action='store_true',
                   help='also run the modality check (tools/modality_check.py: trains four '
                        'demo models)')
    p.add_argument('--train-work-dir', default=osp.join(REPO, 'work_dirs', 'modality_check'))
    p.add_argument('--train-data-root',
                   help='modality check: where its synthetic set is made and read (default '
                        'data/synth<scenes>)')
    p.add_argument('--epochs', type=int, default=24,
                   help='modality check epochs (default 24; 0: the demo config\'s 12)')
    p.add_argument('--scenes', type=int, default=40,
                   help='modality check: scenes of its synthetic set (default 40; 10: the '
                        'demo set)')
    p.add_argument('--camera-wide', action='store_true',
                   help='modality check: also train the camera-only model with a wider '
                        'backbone (the backbone-vs-data check)')
    p.add_argument('--reuse', action='store_true',
                   help='modality check: keep the finished runs of --train-work-dir')
    args = p.parse_args(argv)
    load_at_start = os.getloadavg()
    problem = real_fixture_problem(args.real_root)
    if problem:
        raise SystemExit(f'the realism benchmark needs the real nuScenes fixture, but '
                         f'{problem}; set FUSION_MOE_REAL_DATA')
    synth_root = ensure_demo_set(args.synth_root)
    real = side_statistics(RealFixture(args.real_root), args.camera_keyframes)
    synth = side_statistics(SyntheticSet(synth_root, max_keyframes=args.max_keyframes),
                            args.camera_keyframes)
    rows = realism_rows(real, synth)
    print(f'realism: real fixture {args.real_root} vs synthetic {synth_root} '
          f'({len(synth["keyframes"])} keyframes)')
    print(format_table(rows))
    tally = count_met(rows)
    print(f"targets met: {tally['met']} of {tally['judged']}; not met: {tally['not_met']}")
    modality = None
    if args.train:
        from modality_check import EXTRA_MODELS, MODELS, modality_check, print_table
        models = MODELS + (EXTRA_MODELS if args.camera_wide else ())
        modality = modality_check(args.train_work_dir, args.epochs or None, models,
                                  data_root=args.train_data_root, reuse=args.reuse,
                                  scenes=args.scenes)
        print_table(modality)
    figures = {'synthetic_root': synth_root, 'real_root': args.real_root,
               'synthetic_keyframes': len(synth['keyframes']),
               'rows': [r.as_dict() for r in rows], 'targets': tally}
    if modality:
        figures['modality_check'] = modality
        figures['single_sensor_map'] = modality['single_sensor_map']
    return write_json(args.json, figures, headlines(rows, modality), load_at_start)


if __name__ == '__main__':
    main()
