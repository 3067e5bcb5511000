"""The whole story on the embedded synthetic default: data -> infos -> train two models ->
robustness suite on both -> side-by-side table, report and plot paths.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/synth] [--reuse]

Stages (each says when it starts, shows progress, and a failing one says which and why):

1. the synthetic nuScenes set (made if missing); 2. its info files (made if missing);
3. train model A and model B, side by side, one torch thread each (logs in
   ``WORK/<model>/train.log``); ``--reuse`` keeps checkpoints (and, in stage 4, robustness
   results) that already exist;
4. the robustness suite on both (``tools/robustness.py``, default suite: clean, fog and night
   at severities 1 / 3 / 5 and camera failure at 1 / 3 / 5, plus the real day / night / rain
   subsets), model A scored against model B as its baseline;
5. the side-by-side table (clean NDS, NDS per condition, mRA, routing summary) and the paths
   of both reports and their plots.

Models: A is the default MoE model, ``configs/demo/moe_mid_after.py`` ("fusion, then MoE": the
fuser, then the MoE on fused BEV cells), and B its dense twin ``configs/demo/dense_mid_after.py``
(the same placement with a dense FFN of the MoE's active width); ``--model-a`` / ``--model-b``
pick any other pair, e.g. another placement of ``configs/demo/{moe,dense}_*.py``. Without those
configs the demo says so and compares the dense CPU demo detector (A) with the same detector
trained with degradations as augmentation (B).
"""
import argparse
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
DENSE_CONFIG = ROOT / 'configs' / 'demo' / 'detector_cpu.py'
DEGRADATION_AUG_CONFIG = ROOT / 'configs' / 'demo' / 'detector_cpu_degradation-aug.py'
# The default MoE model (mid_after placement, oracle context bias, no fallback; see
# configs/_base_/demo/moe_demo.py) and its dense twin.
MOE_CONFIG = ROOT / 'configs' / 'demo' / 'moe_mid_after.py'
DENSE_TWIN_CONFIG = ROOT / 'configs' / 'demo' / 'dense_mid_after.py'
SUITE_ARGS = ['--suite', 'default', '--corruptions', 'fog', 'night', 'camera_dropout',
              '--severities', '1', '3', '5']
POLL_S = 15.0


class StageFailed(RuntimeError):
    """A demo stage could not finish; the message says which stage and why."""


_CURRENT_STAGE = ['setup']


def _stage(name: str) -> float:
    _CURRENT_STAGE[0] = name
    print(f'\n=== demo stage {name}', flush=True)
    return time.time()


def demo_models() -> Tuple[Dict[str, Path], str]:
    """``({label: config}, note)``: A first (the scored model), B second (its baseline)."""
    if MOE_CONFIG.exists() and DENSE_TWIN_CONFIG.exists():
        return ({'A_moe': MOE_CONFIG, 'B_dense_twin': DENSE_TWIN_CONFIG},
                f'model A: the default MoE model ({MOE_CONFIG.relative_to(ROOT)}); model B: '
                f'its dense twin ({DENSE_TWIN_CONFIG.relative_to(ROOT)})')
    return ({'A_dense': DENSE_CONFIG, 'B_dense_degradation_aug': DEGRADATION_AUG_CONFIG},
            f'the MoE placements are not built yet ({MOE_CONFIG.relative_to(ROOT)} is missing): '
            f'this demo runs the DENSE demo detector as model A '
            f'({DENSE_CONFIG.relative_to(ROOT)}) and the same detector trained with '
            f'degradations as augmentation as model B '
            f'({DEGRADATION_AUG_CONFIG.relative_to(ROOT)}); no routing analysis')


_TRAIN_RE = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')
_VAL_RE = re.compile(r'Epoch\(val\)')
_COND_RE = re.compile(r'conditions:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)')


def _progress(log: Path) -> str:
    """The latest progress a training or robustness log shows, in a few words."""
    try:
        text = log.read_text(errors='replace')[-20000:]
    except FileNotFoundError:
        return 'starting'
    cond = _COND_RE.findall(text)
    if cond:
        return f'condition {cond[-1][0]}/{cond[-1][1]} done'
    train = _TRAIN_RE.findall(text)
    if _VAL_RE.search(text):
        return 'validating'
    if train:
        epoch, it, total = train[-1]
        return f'epoch {epoch}, iter {it}/{total}'
    return 'setting up'


def run_side_by_side(stage: str, jobs: Dict[str, Tuple[List[str], Path]]) -> None:
    """Run ``{label: (command, log file)}`` at once, report progress, fail with the log's tail."""
    procs = {}
    for label, (cmd, log) in jobs.items():
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f'[{label}] $ {" ".join(str(c) for c in cmd)}\n[{label}] log: {log}', flush=True)
        handle = open(log, 'w')
        procs[label] = (subprocess.Popen([str(c) for c in cmd], cwd=ROOT, stdout=handle,
                                         stderr=subprocess.STDOUT), handle, log)
    start = time.time()
    try:
        while True:
            codes = {label: p.poll() for label, (p, _, _) in procs.items()}
            failed = [label for label, code in codes.items() if code not in (None, 0)]
            if failed:
                label = failed[0]
                tail = '\n'.join(procs[label][2].read_text(errors='replace').splitlines()[-25:])
                raise StageFailed(f'stage {stage}: {label} failed (exit code {codes[label]}); '
                                  f'last lines of {procs[label][2]}:\n{tail}')
            if all(code == 0 for code in codes.values()):
                return
            time.sleep(POLL_S)
            status = '; '.join(f'{label}: {"done" if codes[label] == 0 else _progress(log)}'
                               for label, (_, _, log) in procs.items())
            print(f'  [{time.time() - start:5.0f} s] {status}', flush=True)
    finally:
        for proc, handle, _ in procs.values():
            if proc.poll() is None:  # only after a failure: stop the demo's own other job
                proc.terminate()
                proc.wait()
            handle.close()


def latest_checkpoint(work_dir: Path) -> Optional[Path]:
    ckpts = sorted(work_dir.glob('epoch_*.pth'), key=lambda p: int(p.stem.split('_')[1]))
    return ckpts[-1] if ckpts else None


def make_data(root: Path) -> str:
    """Reuse the synthetic set at ``root`` if the current generator made it; remake a stale one
    (an older generator version) with its info files, so sets are never mixed."""
    from fusion_moe.data.synthetic import generate_dataset, stale_reason
    tables = sorted(root.glob('v1.0-*/sample.json'))
    stale = stale_reason(str(root))
    if tables and stale is None:
        print(f'reusing {root}/{tables[0].parent.name}')
        return tables[0].parent.name
    start = time.time()
    if stale is not None:
        print(f'{stale}: remaking the set and its info files')
        for split in ('train', 'val'):
            (root / f'nuscenes_infos_{split}.pkl').unlink(missing_ok=True)
    version = generate_dataset(str(root), overwrite=stale is not None)
    print(f'wrote {root}/{version} in {time.time() - start:.0f} s')
    return version


def make_infos(root: Path, version: str) -> None:
    if (root / 'nuscenes_infos_train.pkl').exists() and (root / 'nuscenes_infos_val.pkl').exists():
        print(f'reusing {root}/nuscenes_infos_{{train,val}}.pkl')
        return
    from fusion_moe.data.create_infos import create_nuscenes_infos
    print(create_nuscenes_infos(str(root), version))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synth')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--reuse', action='store_true',
                        help='keep checkpoints that exist instead of training again')
    parser.add_argument('--model-a', type=Path, help='config of model A (the scored model)')
    parser.add_argument('--model-b', type=Path, help='config of model B (its baseline)')
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import fusion_moe  # noqa: F401  (shims + registration)
    started = time.time()
    work_dir, root = Path(args.work_dir), Path(args.data_root)
    models, note = demo_models()
    if args.model_a or args.model_b:
        if not (args.model_a and args.model_b):
            parser.error('give both --model-a and --model-b')
        models = {f'A_{args.model_a.stem}': args.model_a, f'B_{args.model_b.stem}': args.model_b}
        note = f'model A: {args.model_a}; model B: {args.model_b} (from the command line)'
    print(f'demo models: {note}', flush=True)
    try:
        _stage('1/5 synthetic nuScenes data')
        version = make_data(root)
        _stage('2/5 info files')
        make_infos(root, version)

        _stage('3/5 train model A and model B (side by side, one torch thread each)')
        jobs = {}
        for label, config in models.items():
            if args.reuse and latest_checkpoint(work_dir / label):
                print(f'[{label}] reusing {latest_checkpoint(work_dir / label)}')
                continue
            jobs[label] = ([sys.executable, 'tools/train.py', config, '--work-dir',
                            work_dir / label, '--data-root', root],
                           work_dir / label / 'train.log')
        run_side_by_side('3/5 (training)', jobs)
        checkpoints = {}
        for label in models:
            checkpoints[label] = latest_checkpoint(work_dir / label)
            if checkpoints[label] is None:
                raise StageFailed(f'stage 3/5: {label} saved no epoch_*.pth under '
                                  f'{work_dir / label}')

        _stage('4/5 robustness suite on both models (' + ' '.join(SUITE_ARGS) + ')')
        paths = {label: work_dir / label / 'robustness' / 'results.json' for label in models}
        jobs = {}
        for label in models:
            if args.reuse and paths[label].exists():
                print(f'[{label}] reusing {paths[label]}')
                continue
            jobs[label] = ([sys.executable, 'tools/robustness.py', models[label],
                            checkpoints[label], '--work-dir', paths[label].parent,
                            '--data-root', root, *SUITE_ARGS], work_dir / label / 'robustness.log')
        run_side_by_side('4/5 (robustness)', jobs)
        from fusion_moe.evaluation.robustness import load_results
        from fusion_moe.evaluation.robustness.compare import side_by_side
        from fusion_moe.evaluation.robustness.report import make_report
        from fusion_moe.evaluation.robustness.scoring import rescore_file
        a, b = list(models)
        rescore_file(str(paths[a]), str(paths[b]))  # A against B, without the model
        written = {label: make_report(str(path)) for label, path in paths.items()}

        _stage('5/5 side by side')
        print(side_by_side({label: load_results(str(p)) for label, p in paths.items()}))
        print(f'\n(mRRA: model {a} against model {b} as the baseline; NDS from the nuScenes '
              'devkit on the synthetic validation split)')
        for label, files in written.items():
            for name, path in files.items():
                print(f'{label} {name}: {path}')
    except StageFailed as err:
        print(f'\n=== demo FAILED: {err}', flush=True)
        return 1
    except Exception as err:  # anything else: which stage, and why
        traceback.print_exc()
        print(f'\n=== demo FAILED in stage {_CURRENT_STAGE[0]}: {type(err).__name__}: {err}',
              flush=True)
        return 1
    print(f'\ndemo finished in {time.time() - started:.0f} s', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
