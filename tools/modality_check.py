"""The modality check: how much each sensor alone tells the CPU demo detector, scored by the
nuScenes devkit on the synthetic val split.

    python tools/modality_check.py --work-dir DIR [--scenes N] [--epochs N] [--json PATH]
        [--models lidar camera radar fused [camera_wide]] [--reuse] [--data-root ROOT]

Trains, each with ``tools/train.py`` in its own process (one torch thread, as the demo):
``configs/demo/detector_cpu_{lidar,camera,radar}.py`` (one sensor each) and the fused
``configs/demo/detector_cpu.py``; then scores the fused model with ``tools/test.py`` with
each sensor removed at test time (``--degradation {lidar,radar,camera}_dropout:5``: the
sensor's data emptied and marked absent, as a dead sensor).

By default the check trains on a synthetic set of ``--scenes 40`` (256 training, 64
validation keyframes, made at ``data/synth40`` or ``--data-root`` if missing) for ``--epochs
24``: the demo's own 10 scenes and 12 epochs (``--scenes 10 --epochs 0``) leave every model
undertrained (measured on set version 3, 64 training keyframes: LiDAR-only mAP 0.15 after 12
epochs, 0.23 after 36; camera-only 0.03 and 0.07; benchmarks/README.md "realism"), so the
check would measure the schedule, not the sensors. ``--epochs``
changes every schedule alike (max epochs, validation and checkpoint interval, cosine length).
``--reuse`` keeps a model whose work dir already holds a checkpoint and a devkit summary and
only re-reads it. ``camera_wide`` (not run by default) is the camera-only model with a twice
as wide camera backbone: the backbone check of issue 18.

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
#: The check's synthetic set and schedule (see the module docstring for why not the demo's).
DEFAULT_SCENES = 40
DEFAULT_EPOCHS = 24


def default_data_root(scenes: int) -> str:
    """Where the check's set of ``scenes`` scenes is made: one root per set size, so the
    demo's ``data/synth`` (10 scenes) is never replaced by a larger set."""
    return osp.join(REPO, 'data', 'synth' if scenes == 10 else f'synth{scenes}')


def data_options(data_root: str, scenes: int) -> List[str]:
    """``--cfg-options`` that make (if missing) and read the set of ``scenes`` scenes at
    ``data_root``: the configs' ``synthetic_data`` (tools/train.py makes it) pointed there."""
    if scenes < 2:
        raise ValueError(f'--scenes must be >= 2 (one train and one val scene), got {scenes}')
    return [f'synthetic_data.out_root={data_root}', f'synthetic_data.num_scenes={scenes}']


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


def train(config: str, work_dir: str, epochs: Optional[int], data_root: str, scenes: int,
          reuse: bool, options: Sequence[str] = ()) -> dict:
    """Train ``config`` (with ``--cfg-options options``) on the set of ``scenes`` scenes at
    ``data_root`` into ``work_dir`` (unless ``reuse`` finds it done); its figures."""
    from fusion_moe.engine.hooks import latest_checkpoint
    done = reuse and osp.isfile(summary_path(work_dir)) and latest_checkpoint(work_dir)
    seconds = None
    if not done:
        cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
               '--data-root', data_root, '--cfg-options', *data_options(data_root, scenes),
               *options, *(schedule_options(epochs) if epochs else [])]
        seconds = _run(cmd, osp.join(work_dir, 'modality_check_train.log'))
    out = read_summary(work_dir)
    out.update(config=config, checkpoint=latest_checkpoint(work_dir), train_seconds=seconds)
    return out


def test_without(config: str, checkpoint: str, modality: str, work_dir: str,
                 data_root: str, reuse: bool) -> dict:
    """Score ``checkpoint`` with ``modality`` removed at test time."""
    if not (reuse and osp.isfile(summary_path(work_dir))):
        cmd = [sys.executable, 'tools/test.py', config, checkpoint, '--work-dir', work_dir,
               '--degradation', REMOVAL[modality], '--data-root', data_root]
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


def modality_check(work_dir: str, epochs: Optional[int] = DEFAULT_EPOCHS,
                   models: Sequence[str] = MODELS, data_root: Optional[str] = None,
                   reuse: bool = False, scenes: int = DEFAULT_SCENES) -> dict:
    """Train and score the models of the check; the record described in the module doc."""
    unknown = [m for m in models if m not in MODELS + EXTRA_MODELS]
    if unknown:
        raise ValueError(f'--models: unknown {unknown}; choose from {MODELS + EXTRA_MODELS}')
    data_root = osp.abspath(data_root or default_data_root(scenes))
    data_options(data_root, scenes)  # refuses a bad --scenes before any training
    runs: Dict[str, dict] = {}
    for m in models:
        config, options = RUNS[m]
        print(f'modality check: training {m} ({config} {" ".join(options)})', flush=True)
        runs[m] = train(config, osp.join(work_dir, m), epochs, data_root, scenes, reuse,
                        options)
        runs[m]['cfg_options'] = options
        print(f'  {m}: mAP {runs[m]["map"]:.4f} NDS {runs[m]["nds"]:.4f}', flush=True)
    single = [m for m in runs if m in SINGLE_SENSOR_CONFIGS]
    record: dict = {'epochs': epochs, 'scenes': scenes, 'data_root': data_root, 'runs': runs,
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
        info = osp.join(data_root, 'nuscenes_infos_val.pkl')
        record['radar_evidence'] = radar_evidence(info, runs['radar'])
    record['checks'] = checks(record['single_sensor_map'])
    return record


def print_table(record: dict) -> None:
    print(f"modality check ({record['epochs'] or 'config'} epochs, {record['scenes']} scenes), "
          f"devkit on the synthetic val")
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
    p.add_argument('--epochs', type=int, default=DEFAULT_EPOCHS,
                   help=f'training epochs of every model (default {DEFAULT_EPOCHS}; 0: the '
                        f"configs' own, 12)")
    p.add_argument('--scenes', type=int, default=DEFAULT_SCENES,
                   help=f'scenes of the synthetic set (default {DEFAULT_SCENES}: 256 train + 64 '
                        f'val keyframes; 10 is the demo set)')
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS + EXTRA_MODELS,
                   help='camera_wide: the camera-only model with a wider backbone '
                        '(CAMERA_WIDE_OPTIONS), to tell backbone from data')
    p.add_argument('--data-root', help='where the synthetic set is made and read (default: '
                                       'data/synth<scenes>, data/synth for 10)')
    p.add_argument('--reuse', action='store_true',
                   help='keep finished runs found in the work dir (checkpoint + summary)')
    p.add_argument('--json', help='write the record to this JSON file')
    args = p.parse_args(argv)
    record = modality_check(args.work_dir, args.epochs or None, args.models, args.data_root,
                            args.reuse, args.scenes)
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
