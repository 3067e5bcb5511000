"""One scene as a self-contained job, so that scenes can be simulated in worker processes.

A job plans its scene, simulates its sensors into the shared staging folder and returns the
scene's table records, its plan (for the maps) and its stage times. Every random draw is seeded
by (seed, scene, sensor, frame), and the caller merges the records in scene order, so a set is
byte-identical whatever the number of workers. Workers are forked (they inherit the imported
modules, so a worker costs no start-up); camera renderers are built once per condition and
image size in each process.
"""
import time
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from .camera import CameraRenderer
from .naming import SceneIdentity
from .rig import build_rig
from .scene_layout import EGO_LANE_Y_M, ScenePlan, plan_scene
from .scene_writer import SceneWriter
from .stage_timer import StageTimer
from .tables import STATIC_TABLES, TableCollector

_RENDERERS: Dict[Tuple[Tuple[int, int], str, str], Dict[str, CameraRenderer]] = {}


@dataclass(frozen=True)
class SceneJob:
    """Everything a worker needs to write scene ``index``."""
    index: int
    identity: SceneIdentity
    samples_per_scene: int
    seed: int
    image_size: Tuple[int, int]
    stage_root: str
    lidar_sweeps: int
    radar_hz: float


@dataclass
class SceneResult:
    """What a job returns: its plan, its records per table (scene order), its stage times."""
    plan: ScenePlan
    records: Dict[str, List[dict]]
    seconds: Dict[str, float]


def _renderers(image_size: Tuple[int, int], lighting: str, weather: str
               ) -> Dict[str, CameraRenderer]:
    key = (tuple(image_size), lighting, weather)
    if key not in _RENDERERS:
        rig = build_rig(tuple(image_size))
        _RENDERERS[key] = {name: CameraRenderer(cam, lighting, weather, EGO_LANE_Y_M)
                           for name, cam in rig.cameras.items()}
    return _RENDERERS[key]


def clear_renderers() -> None:
    """Free this process's renderers (tens of MB per condition at 1600 x 900)."""
    _RENDERERS.clear()


def run_scene(job: SceneJob) -> SceneResult:
    """Plan and write one scene (files under ``job.stage_root``)."""
    timer = StageTimer()
    start = time.perf_counter()
    ident = job.identity
    plan = plan_scene(job.index, ident.name, ident.description, ident.lighting, ident.weather,
                      ident.location, ident.log_name, ident.start_us, job.samples_per_scene,
                      np.random.default_rng([job.seed, job.index]))
    renderers = _renderers(job.image_size, ident.lighting, ident.weather)
    timer.add('setup', start)
    tables = TableCollector()
    SceneWriter(plan, ident, build_rig(tuple(job.image_size)), renderers, tables,
                job.stage_root, job.seed, job.lidar_sweeps, job.radar_hz, timer).run()
    records = {name: recs for name, recs in tables.tables.items() if name not in STATIC_TABLES}
    return SceneResult(plan, records, dict(timer.seconds))
