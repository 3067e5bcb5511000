"""Synthetic nuScenes: simulate every scene's sensors and write the set in the exact nuScenes
layout (``<root>/<version>/*.json``, ``samples/``, ``sweeps/``, ``maps/``) plus ``SYNTHETIC.json``
(what made it, with the generator version; see ``set_version``).

Public API: ``generate_dataset`` and ``generate_keyframe_timing``. One scene is simulated by
``scene_writer.SceneWriter``; the files around it are ``set_files``'.
"""
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from typing import Dict, Tuple

import numpy as np

from .naming import scene_identities, version_for
from .rig import build_rig
from .scene_jobs import SceneJob, clear_renderers, run_scene
from .set_files import check_target, make_sensor_dirs, swap_into, write_maps
from .set_version import write_marker
from .stage_timer import StageTimer
from .tables import TableCollector

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = {'lidar_sweeps': 9, 'radar_hz': 13.0, 'overwrite': False, 'workers': 0}
MAX_AUTO_WORKERS = 4


def _check_options(options: dict) -> dict:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise TypeError(f'generate_dataset got unknown option(s) {unknown}; known options are '
                        f'{sorted(DEFAULT_OPTIONS)}')
    opts = {**DEFAULT_OPTIONS, **options}
    if int(opts['lidar_sweeps']) < 0:
        raise ValueError(f"lidar_sweeps must be >= 0, got {opts['lidar_sweeps']}")
    if not 2.0 < float(opts['radar_hz']) <= 50.0:
        raise ValueError(f"radar_hz must be in (2, 50], got {opts['radar_hz']}")
    if not isinstance(opts['workers'], (int, np.integer)) or opts['workers'] < 0:
        raise ValueError(f"workers must be an integer >= 0 (0: one per core), got "
                         f"{opts['workers']!r}")
    return opts


def _worker_count(requested: int, num_scenes: int) -> int:
    """``requested`` processes, or with 0 one per available core (at most MAX_AUTO_WORKERS),
    never more than scenes."""
    if requested == 0:
        requested = min(len(os.sched_getaffinity(0)), MAX_AUTO_WORKERS)
    return max(1, min(int(requested), num_scenes))


def generate_dataset(out_root: str, num_scenes: int = 10, samples_per_scene: int = 8,
                     seed: int = 0, image_size: Tuple[int, int] = (1600, 900),
                     night_share: float = 0.2, rain_share: float = 0.2, **options) -> str:
    """Write a synthetic nuScenes set and return its version string.

    Args:
        out_root: dataset root (the devkit's ``dataroot``).
        num_scenes: 1-850; <= 10 makes 'v1.0-mini' (mini_train / mini_val names), more
            'v1.0-trainval' (train / val names).
        samples_per_scene: keyframes per scene (2 Hz), >= 2 so that boxes have velocities.
        seed: everything is a function of the arguments and the seed.
        image_size: camera (width, height) in pixels; intrinsics scale with it.
        night_share, rain_share: fraction of scenes at night / in rain (independent draws).
        **options: ``lidar_sweeps`` (LiDAR sweeps between keyframes, default 9 = 20 Hz),
            ``radar_hz`` (default 13), ``overwrite`` (replace an existing synthetic set),
            ``workers`` (scenes simulated in parallel processes; default 0: one per core, at
            most 4; the set is the same byte for byte for any number).
    """
    return _generate(out_root, num_scenes, samples_per_scene, seed, image_size, night_share,
                     rain_share, StageTimer(), **options)


def _generate(out_root: str, num_scenes: int, samples_per_scene: int, seed: int,
              image_size: Tuple[int, int], night_share: float, rain_share: float,
              timer: StageTimer, **options) -> str:
    opts = _check_options(options)
    version = version_for(int(num_scenes))
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    if int(samples_per_scene) < 2:
        raise ValueError(f'samples_per_scene must be >= 2 (velocities need two keyframes), got '
                         f'{samples_per_scene}')
    build_rig(tuple(image_size))  # checks the image size before anything is written
    identities = scene_identities(int(num_scenes), night_share, rain_share, seed)
    workers = _worker_count(opts['workers'], len(identities))
    check_target(out_root, bool(opts['overwrite']))
    os.makedirs(out_root, exist_ok=True)
    stage = tempfile.mkdtemp(prefix='.synth_staging_', dir=out_root)
    try:
        make_sensor_dirs(stage)
        tables = TableCollector()
        jobs = [SceneJob(i, ident, int(samples_per_scene), int(seed),
                         (int(image_size[0]), int(image_size[1])), stage,
                         int(opts['lidar_sweeps']), float(opts['radar_hz']))
                for i, ident in enumerate(identities)]
        plans = []
        started = time.perf_counter()
        pool = multiprocessing.get_context('fork').Pool(workers) if workers > 1 else None
        try:
            results = pool.imap(run_scene, jobs) if pool else map(run_scene, jobs)
            for i, (ident, result) in enumerate(zip(identities, results)):
                plans.append(result.plan)
                tables.extend(result.records)  # in scene order: the same set for any workers
                for name, seconds in result.seconds.items():
                    timer.seconds[name] += seconds
                done = (i + 1) * int(samples_per_scene)
                total = len(identities) * int(samples_per_scene)
                elapsed = time.perf_counter() - started
                logger.info('scene %d/%d %s (%s, %s) written: %d/%d keyframes, %.2f '
                            'keyframes/s, ETA %.0f s (%d worker%s)', i + 1, len(identities),
                            ident.name, ident.lighting, ident.weather, done, total,
                            done / elapsed, (total - done) * elapsed / done, workers,
                            's' if workers > 1 else '')
        finally:
            clear_renderers()
            if pool is not None:
                pool.close()
                pool.join()
        start = time.perf_counter()
        write_maps(stage, plans, identities, tables, seed)
        tables.write(stage, version)
        swap_into(out_root, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    write_marker(out_root, {
        'version': version, 'num_scenes': int(num_scenes),
        'samples_per_scene': int(samples_per_scene), 'seed': int(seed),
        'image_size': [int(v) for v in image_size], 'night_share': night_share,
        'rain_share': rain_share, 'options': {k: opts[k] for k in ('lidar_sweeps', 'radar_hz')},
        'scenes': [{'name': s.name, 'split': s.split, 'lighting': s.lighting,
                    'weather': s.weather, 'description': s.description} for s in identities]})
    timer.add('io_tables', start)
    return version


def generate_keyframe_timing(image_size: Tuple[int, int] = (1600, 900),
                             samples_per_scene: int = 8, num_scenes: int = 2, seed: int = 0,
                             out_root: str = None) -> Dict[str, float]:
    """Time the generator on a throw-away set (all sensors, default sweeps and rates, day and
    clear scenes so that the camera setup is shared as in a real run), in this one process
    (``workers=1``) so that the stage times add up to its wall time.

    Returns a dict with ``keyframes``, ``seconds`` (wall clock, including the camera setup),
    ``keyframes_per_s`` (wall clock), ``cpu_seconds`` and ``keyframes_per_cpu_s`` (process CPU
    time: the figure for "one core" on a machine shared with other jobs), and the wall seconds
    per stage (``stage_setup``, ``stage_lidar``, ``stage_camera``, ``stage_radar``,
    ``stage_io_tables``). Writes to a temporary directory unless ``out_root`` is given.
    """
    timer = StageTimer()
    tmp = out_root or tempfile.mkdtemp(prefix='synth_timing_')
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        _generate(tmp, num_scenes, samples_per_scene, seed, image_size, 0.0, 0.0, timer,
                  overwrite=True, workers=1)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    finally:
        if out_root is None:
            shutil.rmtree(tmp, ignore_errors=True)
    keyframes = num_scenes * samples_per_scene
    out = {'keyframes': keyframes, 'seconds': seconds, 'keyframes_per_s': keyframes / seconds,
           'cpu_seconds': cpu_seconds, 'keyframes_per_cpu_s': keyframes / cpu_seconds}
    out.update({f'stage_{k}': v for k, v in sorted(timer.seconds.items())})
    return out
