"""The modality check: how much each sensor alone tells the CPU demo detector, scored by the
nuScenes devkit on the synthetic val split.

    python tools/modality_check.py --work-dir DIR [--epochs N] [--json PATH]
        [--models lidar camera radar fused [camera_wide]] [--reuse] [--data-root ROOT]

Trains, each with ``tools/train.py`` in its own process (one torch thread, as the demo):
``configs/demo/detector_cpu_{lidar,camera,radar}.py`` (one sensor each) and the fused
``configs/demo/detector_cpu.py``; then scores the fused model with ``tools/test.py`` with
each sensor removed at test time (``--degradation {lidar,radar,camera}_dropout:5``: the
sensor's data emptied and marked absent, as a dead sensor). ``--epochs N`` shortens every
schedule alike (max epochs, validation and checkpoint interval, cosine length); the default
is the demo config's own. ``--reuse`` keeps a model whose work dir already holds a checkpoint
and a devkit summary and only re-reads it. ``camera_wide`` (not run by default) is the
camera-only model with a twice as wide camera backbone: the backbone check of issue 18.

Writes (and prints) one JSON: ``single_sensor_map: {lidar, camera, radar}``, the NDS of each,
``fused_map``, ``fused_map_without: {lidar, camera, radar}`` and the per-class AP of every
run, with the targets of issue 18 (LiDAR-only > camera-only > radar-only, radar-only <=
0.25 x LiDAR-only) judged in ``checks``, and ``radar_evidence``: per class, the share of the
evaluated objects with a radar return and the AP that alone can explain, beside the
radar-only AP.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SINGLE_SENSOR_CONFIGS: Dict[str, str] = {
    m: f'configs/demo/detector_cpu_{m}.py' for m in ('lidar', 'camera', 'radar')}
FUSED_CONFIG = 'configs/demo/detector_cpu.py'
#: The test-time removal of each sensor: tools/test.py's degradation at its severity 5
#: (lidar/radar dropout with probability 1; all six cameras dropped, marked absent).
REMOVAL = {'lidar': 'lidar_dropout:5', 'camera': 'camera_dropout:5', 'radar': 'radar_dropout:5'}
MODELS = ('lidar', 'camera', 'radar', 'fused')
#: The camera-only model with a twice as wide camera backbone (ResNet-18 stem and stages at
#: 32 / 64 channels instead of 16 / 32, 32 BEV channels instead of 16): trained with
#: ``--models ... camera_wide`` to tell whether the camera-only figure is held back by the
#: demo's tiny backbone (wide >> demo) or by the images (wide ~ demo).
CAMERA_WIDE_OPTIONS = ['model.encoders.camera.backbone.base_channels=32',
                       'model.encoders.camera.feature_channels=64',
                       'model.encoders.camera.out_channels=32']
EXTRA_MODELS = ('camera_wide',)
#: What each model of the check trains: (config, --cfg-options).
RUNS: Dict[str, tuple] = {**{m: (c, []) for m, c in SINGLE_SENSOR_CONFIGS.items()},
                          'fused': (FUSED_CONFIG, []),
                          'camera_wide': (SINGLE_SENSOR_CONFIGS['camera'], CAMERA_WIDE_OPTIONS)}
RADAR_OVER_LIDAR_MAX = 0.25


def schedule_options(epochs: int) -> List[str]:
    """``--cfg-options`` that shorten the demo schedule to ``epochs`` consistently (the demo's
    param_scheduler: [LinearLR warm-up, CosineAnnealingLR over max_epochs])."""
    if epochs < 1:
        raise ValueError(f'--epochs must be >= 1, got {epochs}')
    return [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'default_hooks.checkpoint.interval={epochs}', f'param_scheduler.1.T_max={epochs}',
            f'param_scheduler.1.end={epochs}']


def summary_path(work_dir: str) -> str:
    return osp.join(work_dir, 'nuscenes_eval', 'metrics_summary.json')


def read_summary(work_dir: str) -> dict:
    """The devkit's figures of one run: mAP, NDS and per-class AP."""
    path = summary_path(work_dir)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: the run left no devkit summary (see its log in '
                                f'{work_dir})')
    with open(path) as f:
        summary = json.load(f)
    return {'map': float(summary['mean_ap']), 'nds': float(summary['nd_score']),
            'class_ap': {k: round(float(v), 4) for k, v in summary['mean_dist_aps'].items()}}


def _run(cmd: Sequence[str], log_path: str) -> float:
    """Run ``cmd`` from the repository root, output to ``log_path``; seconds taken."""
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS='1')
    start = time.perf_counter()
    with open(log_path, 'w') as log:
        done = subprocess.run(list(cmd), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              env=env)
    if done.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {done.returncode}); see {log_path}')
    return time.perf_counter() - start


def train(config: str, work_dir: str, epochs: Optional[int], data_root: Optional[str],
          reuse: bool, options: Sequence[str] = ()) -> dict:
    """Train ``config`` (with ``--cfg-options options``) into ``work_dir`` (unless ``reuse``
    finds it done); its figures."""
    from fusion_moe.engine.hooks import latest_checkpoint
    done = reuse and osp.isfile(summary_path(work_dir)) and latest_checkpoint(work_dir)
    seconds = None
    if not done:
        cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir]
        if data_root:
            cmd += ['--data-root', data_root]
        options = [*options, *(schedule_options(epochs) if epochs else [])]
        if options:
            cmd += ['--cfg-options', *options]
        seconds = _run(cmd, osp.join(work_dir, 'modality_check_train.log'))
    out = read_summary(work_dir)
    out.update(config=config, checkpoint=latest_checkpoint(work_dir), train_seconds=seconds)
    return out


def test_without(config: str, checkpoint: str, modality: str, work_dir: str,
                 data_root: Optional[str], reuse: bool) -> dict:
    """Score ``checkpoint`` with ``modality`` removed at test time."""
    if not (reuse and osp.isfile(summary_path(work_dir))):
        cmd = [sys.executable, 'tools/test.py', config, checkpoint, '--work-dir', work_dir,
               '--degradation', REMOVAL[modality]]
        if data_root:
            cmd += ['--data-root', data_root]
        _run(cmd, osp.join(work_dir, 'modality_check_test.log'))
    return dict(read_summary(work_dir), removed=REMOVAL[modality])


def radar_evidence(val_info_path: str, radar_run: Optional[dict] = None) -> Dict[str, dict]:
    """Per class, how much AP the radar's own returns on the objects can explain.

    Of the ground truth the devkit evaluates (within the class range, num_lidar_pts +
    num_radar_pts > 0), ``share_with_return`` have at least one radar point; a detector that
    finds exactly those, with no false positive, has precision 1 up to that recall and none
    beyond: ``ap_bound`` is the devkit's own ``calc_ap`` of that curve (min recall and min
    precision 0.1, so a share below 0.1 bounds AP at 0). A radar-only AP above the bound comes
    from something other than returns on the objects (e.g. where the scene puts them).
    """
    import pickle

    import numpy as np
    from nuscenes.eval.detection.algo import calc_ap
    from nuscenes.eval.detection.config import config_factory
    from nuscenes.eval.detection.data_classes import DetectionMetricData

    from fusion_moe.structures import CLASSES
    cfg = config_factory('detection_cvpr_2019')
    with open(val_info_path, 'rb') as f:
        infos = pickle.load(f)['data_list']
    out = {}
    for label, name in enumerate(CLASSES):
        counts = [inst['num_radar_pts'] for info in infos for inst in info['instances']
                  if inst['bbox_label_3d'] == label
                  and np.hypot(*inst['bbox_3d'][:2]) <= cfg.class_range[name]
                  and inst['num_lidar_pts'] + inst['num_radar_pts'] > 0]
        share = float(np.mean(np.array(counts) > 0)) if counts else float('nan')
        recall = np.linspace(0.0, 1.0, DetectionMetricData.nelem)
        curve = DetectionMetricData.no_predictions()
        curve.recall, curve.precision = recall, (recall <= share).astype(float)
        entry = {'evaluated': len(counts), 'share_with_return': share,
                 'ap_bound': calc_ap(curve, cfg.min_recall, cfg.min_precision)}
        if radar_run is not None:
            entry['radar_only_ap'] = radar_run['class_ap'].get(name)
        out[name] = entry
    return out


def checks(single_map: Dict[str, float]) -> Dict[str, dict]:
    """Issue 18's targets on the single-sensor mAPs (each ``{value, target, met}``)."""
    lidar, camera, radar = (single_map.get(m) for m in ('lidar', 'camera', 'radar'))
    out = {}
    if lidar is not None and camera is not None:
        out['lidar_over_camera_map'] = dict(value=lidar - camera, target='> 0',
                                            met=lidar > camera)
    if camera is not None and radar is not None:
        out['camera_over_radar_map'] = dict(value=camera - radar, target='> 0',
                                            met=camera > radar)
    if lidar is not None and radar is not None:
        ratio = radar / lidar if lidar > 0 else float('inf')
        out['radar_over_lidar_map_ratio'] = dict(value=ratio,
                                                 target=f'<= {RADAR_OVER_LIDAR_MAX}',
                                                 met=ratio <= RADAR_OVER_LIDAR_MAX)
    return out


def modality_check(work_dir: str, epochs: Optional[int] = None,
                   models: Sequence[str] = MODELS, data_root: Optional[str] = None,
                   reuse: bool = False) -> dict:
    """Train and score the models of the check; the record described in the module doc."""
    unknown = [m for m in models if m not in MODELS + EXTRA_MODELS]
    if unknown:
        raise ValueError(f'--models: unknown {unknown}; choose from {MODELS + EXTRA_MODELS}')
    runs: Dict[str, dict] = {}
    for m in models:
        config, options = RUNS[m]
        print(f'modality check: training {m} ({config} {" ".join(options)})', flush=True)
        runs[m] = train(config, osp.join(work_dir, m), epochs, data_root, reuse, options)
        runs[m]['cfg_options'] = options
        print(f'  {m}: mAP {runs[m]["map"]:.4f} NDS {runs[m]["nds"]:.4f}', flush=True)
    single = [m for m in runs if m in SINGLE_SENSOR_CONFIGS]
    record: dict = {'epochs': epochs, 'runs': runs,
                    'single_sensor_map': {m: runs[m]['map'] for m in single},
                    'single_sensor_nds': {m: runs[m]['nds'] for m in single}}
    if 'camera_wide' in runs:
        record['camera_backbone_check'] = {
            'camera_map': runs['camera']['map'] if 'camera' in runs else None,
            'camera_wide_map': runs['camera_wide']['map'], 'options': CAMERA_WIDE_OPTIONS}
    if 'fused' in runs:
        record['fused_map'] = runs['fused']['map']
        record['fused_nds'] = runs['fused']['nds']
        without = {}
        for m in ('lidar', 'camera', 'radar'):
            print(f'modality check: fused model without {m}', flush=True)
            without[m] = test_without(FUSED_CONFIG, runs['fused']['checkpoint'], m,
                                      osp.join(work_dir, f'fused_without_{m}'), data_root,
                                      reuse)
            print(f'  without {m}: mAP {without[m]["map"]:.4f}', flush=True)
        record['fused_runs_without'] = without
        record['fused_map_without'] = {m: r['map'] for m, r in without.items()}
        record['fused_nds_without'] = {m: r['nds'] for m, r in without.items()}
    if 'radar' in runs:
        info = osp.join(data_root or osp.join(REPO, 'data', 'synth'), 'nuscenes_infos_val.pkl')
        record['radar_evidence'] = radar_evidence(info, runs['radar'])
    record['checks'] = checks(record['single_sensor_map'])
    return record


def print_table(record: dict) -> None:
    print(f"modality check ({record['epochs'] or 'config'} epochs), devkit on the synthetic val")
    print(f"{'model':<26}{'mAP':>8}{'NDS':>8}")
    for m, r in record['runs'].items():
        name = {'fused': 'fused (all three)', 'camera_wide': 'camera only, wide backbone'
                }.get(m, f'{m} only')
        print(f"{name:<26}{r['map']:>8.4f}{r['nds']:>8.4f}")
    for m, r in record.get('fused_runs_without', {}).items():
        print(f"{'fused, ' + m + ' removed':<26}{r['map']:>8.4f}{r['nds']:>8.4f}")
    for name, e in record.get('radar_evidence', {}).items():
        if e.get('radar_only_ap') is not None and e['radar_only_ap'] > e['ap_bound'] + 0.02:
            print(f"radar-only {name} AP {e['radar_only_ap']:.3f} > {e['ap_bound']:.3f}, the most "
                  f"its returns explain ({100 * e['share_with_return']:.0f}% of the evaluated "
                  f"{name}s have one)")
    for name, c in record['checks'].items():
        print(f"check {name:<32}{c['value']:>8.4f} (target {c['target']}) "
              f"{'met' if c['met'] else 'NOT MET'}")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', required=True, help='one sub-folder per model and test')
    p.add_argument('--epochs', type=int, help="training epochs (default: the config's)")
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS + EXTRA_MODELS,
                   help='camera_wide: the camera-only model with a wider backbone '
                        '(CAMERA_WIDE_OPTIONS), to tell backbone from data')
    p.add_argument('--data-root', help='nuScenes-format root instead of the configs\' data')
    p.add_argument('--reuse', action='store_true',
                   help='keep finished runs found in the work dir (checkpoint + summary)')
    p.add_argument('--json', help='write the record to this JSON file')
    args = p.parse_args(argv)
    record = modality_check(args.work_dir, args.epochs, args.models, args.data_root,
                            args.reuse)
    print_table(record)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(record, f, indent=2)
        print(f'wrote {args.json}')
    return record


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    main()
