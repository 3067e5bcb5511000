"""The main job on the embedded synthetic default: data -> infos -> train -> evaluate -> report.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/synth]

Every stage does its real work or says plainly that it is not built yet; nothing is faked.
Stages whose outputs already exist (the synthetic set, the info files) are reused.
"""
import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / 'configs' / 'demo' / 'detector_cpu.py'


def _stage(name: str):
    print(f'\n=== demo stage: {name}', flush=True)
    return time.time()


def _not_built(name: str, what: str) -> None:
    print(f'=== demo stage {name}: NOT BUILT YET ({what}); stopping here.', flush=True)


def _importable(module: str, attr: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False


def _run(cmd):
    print('$ ' + ' '.join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synth')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import fusion_moe  # noqa: F401  (shims + registration)

    t = _stage('1/5 synthetic nuScenes data')
    if not _importable('fusion_moe.data.synthetic', 'generate_dataset'):
        _not_built('1/5', 'fusion_moe.data.synthetic.generate_dataset')
        return 0
    from fusion_moe.data.synthetic import generate_dataset
    root = Path(args.data_root)
    tables = sorted(root.glob('v1.0-*/sample.json'))
    if tables:
        version = tables[0].parent.name
        print(f'reusing {root}/{version}')
    else:
        version = generate_dataset(str(root))
        print(f'wrote {root}/{version} in {time.time() - t:.0f} s')

    t = _stage('2/5 info files')
    if not _importable('fusion_moe.data.create_infos', 'create_nuscenes_infos'):
        _not_built('2/5', 'fusion_moe.data.create_infos.create_nuscenes_infos')
        return 0
    if (root / 'nuscenes_infos_train.pkl').exists() and (root / 'nuscenes_infos_val.pkl').exists():
        print(f'reusing {root}/nuscenes_infos_{{train,val}}.pkl')
    else:
        from fusion_moe.data.create_infos import create_nuscenes_infos
        print(create_nuscenes_infos(str(root), version))

    _stage('3/5 train (and validate with the nuScenes devkit)')
    if not (DEMO_CONFIG.exists() and (ROOT / 'tools' / 'train.py').exists()):
        _not_built('3/5', f'{DEMO_CONFIG.relative_to(ROOT)} and tools/train.py')
        return 0
    work_dir = Path(args.work_dir)
    _run([sys.executable, 'tools/train.py', DEMO_CONFIG, '--work-dir', work_dir])

    _stage('4/5 test the final checkpoint with the nuScenes devkit')
    ckpts = sorted(work_dir.glob('epoch_*.pth'), key=lambda p: int(p.stem.split('_')[1]))
    if not ckpts:
        print(f'no epoch_*.pth under {work_dir}: training did not save a checkpoint', flush=True)
        return 1
    test_dir = work_dir / 'test'
    _run([sys.executable, 'tools/test.py', DEMO_CONFIG, ckpts[-1], '--work-dir', test_dir])

    _stage('5/5 report')
    summaries = sorted(test_dir.rglob('metrics_summary.json'), key=os.path.getmtime)
    if not summaries:
        print(f'no metrics_summary.json under {test_dir}', flush=True)
        return 1
    summary = json.loads(summaries[-1].read_text())
    print(f'devkit summary: {summaries[-1]}')
    print(f"mAP {summary['mean_ap']:.4f}   NDS {summary['nd_score']:.4f}")
    print(f"{'class':22s} {'AP':>6s}")
    for name, ap in summary['mean_dist_aps'].items():
        print(f'{name:22s} {ap:6.3f}')
    print('\nrobustness benchmark (fog / night / sensor failures): NOT BUILT YET '
          '(its own issue); run tools/visualize.py --degradation fog:3 to see the injector.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
