"""Synthetic generation speed: keyframes per second of ``tools/create_synthetic.py`` as a whole
process, start-up included (issue 16 item 5), with where the time goes.

    python benchmarks/synthetic_generation.py [--json PATH] [--scenes 4] [--samples-per-scene 6]
        [--image-size 1600 900] [--repeats 1]

Steps (one thread for OpenCV and torch in every process, ``OMP_NUM_THREADS=1``):

1. The whole process, as a new user runs it: ``python tools/create_synthetic.py --out TMP
   --scenes 4 --samples-per-scene 6`` (all sensors, 1600 x 900 images, 9 LiDAR sweeps between
   keyframes, 13 Hz radars), wall clock from spawn to exit and the child's CPU time (user +
   system). Headline ``synthetic_keyframes_per_s_process`` (target >= 1); beside it the same
   per CPU-second, the figure a quiet core would give on this shared machine.
2. Start-up alone: a process that only imports ``fusion_moe.data.synthetic`` (the package
   import registers every fusion_moe module, which pulls in torch and mmdet3d).
3. In-process stage breakdown (``generate_keyframe_timing``: one day scene, same sensors):
   seconds per keyframe of setup, LiDAR, cameras, radars and file / table writing.

Every run repeats step 1 ``--repeats`` times and reports the median.
"""
import argparse
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _common import headline, write_json  # noqa: E402


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    return env


def _timed_process(cmd: List[str]) -> Dict[str, float]:
    """Wall seconds and CPU seconds (user + system) of one child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}')
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {'wall_s': wall, 'cpu_s': cpu, 'stdout': proc.stdout, 'stderr': proc.stderr}


def whole_process(scenes: int, samples: int, image_size: List[int], repeats: int
                  ) -> Dict[str, float]:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix='bench_synth_') as tmp:
            runs.append(_timed_process([
                sys.executable, 'tools/create_synthetic.py', '--out', tmp, '--scenes',
                str(scenes), '--samples-per-scene', str(samples), '--image-size',
                *map(str, image_size), '--seed', '0']))
    progress = [line for line in runs[-1]['stderr'].splitlines() if 'ETA' in line]
    keyframes = scenes * samples
    wall = statistics.median(r['wall_s'] for r in runs)
    cpu = statistics.median(r['cpu_s'] for r in runs)
    return {'process_keyframes': keyframes, 'process_repeats': repeats,
            'process_wall_s': wall, 'process_cpu_s': cpu,
            'synthetic_keyframes_per_s_process': keyframes / wall,
            'synthetic_keyframes_per_cpu_s_process': keyframes / cpu,
            'process_progress_lines': len(progress)}


def start_up() -> Dict[str, float]:
    run = _timed_process([sys.executable, '-c', 'import fusion_moe.data.synthetic'])
    return {'startup_wall_s': run['wall_s'], 'startup_cpu_s': run['cpu_s']}


def stages(samples: int, image_size: List[int]) -> Dict[str, float]:
    import cv2
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from fusion_moe.data.synthetic import generate_keyframe_timing
    timing = generate_keyframe_timing(image_size=tuple(image_size), samples_per_scene=samples,
                                      num_scenes=1, seed=0)
    out = {f'inprocess_{k}': v for k, v in timing.items()}
    for key, value in timing.items():
        if key.startswith('stage_'):
            out[f'inprocess_{key}_per_keyframe'] = value / timing['keyframes']
    return out


def main(argv=None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--scenes', type=int, default=4)
    parser.add_argument('--samples-per-scene', type=int, default=6)
    parser.add_argument('--image-size', type=int, nargs=2, default=[1600, 900],
                        metavar=('WIDTH', 'HEIGHT'))
    parser.add_argument('--repeats', type=int, default=1,
                        help='whole-process runs (median reported)')
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error('--repeats must be >= 1')
    load_at_start = os.getloadavg()
    figures: Dict[str, float] = {'scenes': args.scenes,
                                 'samples_per_scene': args.samples_per_scene,
                                 'image_size': list(args.image_size)}
    figures.update(whole_process(args.scenes, args.samples_per_scene, args.image_size,
                                 args.repeats))
    figures.update(start_up())
    figures.update(stages(args.samples_per_scene, args.image_size))
    for key, value in figures.items():
        print(f'{key:48s} {value:.4f}' if isinstance(value, float) else f'{key:48s} {value}')
    headlines = {
        'synthetic_keyframes_per_s_process': headline(
            figures['synthetic_keyframes_per_s_process'], '>= 1'),
        'synthetic_keyframes_per_cpu_s_process': headline(
            figures['synthetic_keyframes_per_cpu_s_process']),
    }
    write_json(args.json, figures, headlines, load_at_start)
    return figures


if __name__ == '__main__':
    main()
