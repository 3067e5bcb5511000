"""The synthetic set on disk: the sensor folders, one semantic-prior map per location, staging
and the swap into place, and the refusal to replace anything this generator did not write."""
import os
import shutil
import tempfile
from collections import defaultdict
from typing import Dict, List

import cv2
import numpy as np

from fusion_moe.structures.sensors import CAMERAS, LIDAR, RADARS

from .geometry import stable_token, transform_points
from .naming import SceneIdentity
from .scene_layout import ScenePlan
from .set_version import MARKER_FILE
from .tables import TableCollector

MAP_SIZE_PX = 2000
MAP_RESOLUTION_M = 0.1  # the devkit's MapMask default


def write_maps(root: str, plans: List[ScenePlan], identities: List[SceneIdentity],
               tables: TableCollector, seed: int) -> None:
    """One semantic-prior map per location (drivable street in white, 0.1 m per pixel, origin
    at the bottom-left as the devkit's MapMask reads it), covering the logs recorded there."""
    by_location: Dict[str, List[int]] = defaultdict(list)
    for i, ident in enumerate(identities):
        by_location[ident.location].append(i)
    for location, scene_idx in by_location.items():
        token = stable_token(seed, 'map', location)
        mask = np.zeros((MAP_SIZE_PX, MAP_SIZE_PX), dtype=np.uint8)
        for i in scene_idx:
            plan = plans[i]
            x_lo, x_hi = plan.road_x_range
            corners = np.array([[x_lo, -7.0, 0], [x_hi, -7.0, 0], [x_hi, 7.0, 0],
                                [x_lo, 7.0, 0]])
            g = transform_points(plan.global_T_road, corners)
            px = np.stack([g[:, 0] / MAP_RESOLUTION_M,
                           MAP_SIZE_PX - g[:, 1] / MAP_RESOLUTION_M], axis=1)
            cv2.fillPoly(mask, [np.round(px).astype(np.int32)], 255)
        rel = f'maps/{token}.png'
        cv2.imwrite(os.path.join(root, rel), mask)
        tables.add('map', {'token': token, 'category': 'semantic_prior', 'filename': rel,
                           'log_tokens': [stable_token(seed, identities[i].name, 'log')
                                          for i in scene_idx]})


_DATA_DIRS = ('samples', 'sweeps', 'maps')
_VERSIONS = ('v1.0-mini', 'v1.0-trainval')


def check_target(root: str, overwrite: bool) -> None:
    """Refuse to replace anything but a synthetic set made by this generator."""
    existing = [d for d in (*_VERSIONS, *_DATA_DIRS) if os.path.exists(os.path.join(root, d))]
    if not existing:
        return
    if not overwrite:
        raise FileExistsError(
            f'{root} already holds {existing}; pass overwrite=True (CLI: --overwrite) to '
            f'replace a synthetic set')
    if not os.path.exists(os.path.join(root, MARKER_FILE)):
        raise FileExistsError(
            f'{root} holds {existing} but no {MARKER_FILE}: it is not a synthetic set made '
            f'by this generator, refusing to delete it')


def make_sensor_dirs(root: str) -> None:
    for folder in ('samples', 'sweeps'):
        for channel in (LIDAR, *CAMERAS, *RADARS):
            if folder == 'sweeps' and channel in CAMERAS:
                continue  # camera sweeps are not written (see the module docstring)
            os.makedirs(os.path.join(root, folder, channel), exist_ok=True)
    os.makedirs(os.path.join(root, 'maps'), exist_ok=True)


def swap_into(root: str, stage: str) -> None:
    """Move the staged set into ``root``, replacing an old synthetic set folder by folder, so
    that readers of the old set see missing files only for the instant between two renames."""
    trash = tempfile.mkdtemp(prefix='.synth_old_', dir=root)
    try:
        for name in (*_VERSIONS, *_DATA_DIRS):
            target = os.path.join(root, name)
            if os.path.exists(target):
                os.rename(target, os.path.join(trash, name))
            staged = os.path.join(stage, name)
            if os.path.exists(staged):
                os.rename(staged, target)
    finally:
        shutil.rmtree(trash, ignore_errors=True)
