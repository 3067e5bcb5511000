"""Synthetic nuScenes: simulate every scene's sensors and write the set in the exact nuScenes
layout (``<root>/<version>/*.json``, ``samples/``, ``sweeps/``, ``maps/``).

Timing as in nuScenes: keyframes (samples) at 2 Hz; LIDAR_TOP at 20 Hz (9 sweeps between
keyframes); each radar at 13 Hz with its own phase, the scan nearest to a keyframe being that
radar's keyframe; cameras fire during the LiDAR keyframe sweep. Only camera keyframes are written
(nuScenes also has 12 Hz camera sweeps; the loading pipeline uses keyframe images only).
Timestamps are microseconds. Every random draw comes from generators seeded by (seed, scene,
sensor, frame), so a seed reproduces the set byte for byte.
"""
import json
import logging
import os
import shutil
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Tuple

import cv2
import numpy as np
from nuscenes.eval.detection.config import config_factory

from fusion_moe.structures.sensors import CAMERAS, LIDAR, RADARS

from .camera import CameraRenderer, encode_jpeg, lamp_lights, vehicle_lights
from .geometry import invert_pose, rotation_to_quaternion, stable_seed, stable_token, \
    transform_points, yaw_to_quaternion
from .lidar import cast_scan, ego_body_ranges
from .naming import SceneIdentity, scene_identities, version_for
from .object_models import CLASS_MODELS
from .radar import simulate_scan
from .radar_pcd import encode_radar_pcd
from .rig import CAMERA_TIME_OFFSETS_S, RADAR_PHASES_S, SensorRig, build_rig
from .scene_layout import EGO_LANE_Y_M, KEYFRAME_PERIOD_S, ScenePlan, plan_scene
from .tables import TableCollector, attribute_token, category_token, sensor_token, \
    visibility_token
from .world import WorldModel

logger = logging.getLogger(__name__)

MARKER_FILE = 'SYNTHETIC.json'
DEFAULT_OPTIONS = {'lidar_sweeps': 9, 'radar_hz': 13.0, 'overwrite': False}
MAP_SIZE_PX = 2000
MAP_RESOLUTION_M = 0.1  # the devkit's MapMask default
_LIT_ATTRIBUTES = ('vehicle.moving', 'vehicle.stopped', 'cycle.with_rider')
# the devkit's evaluation range per class [m], from its own detection config
EVAL_RANGE_M: Dict[str, float] = dict(config_factory('detection_cvpr_2019').class_range)


def _us(seconds: float) -> int:
    return int(round(seconds * 1e6))


def _count_in_boxes(points_xyz: np.ndarray, centers: np.ndarray, yaws: np.ndarray,
                    sizes: np.ndarray) -> np.ndarray:
    """Points inside each yaw-oriented box (boundary inclusive, as the devkit's points_in_box).

    points_xyz (M, 3), centers (N, 3), yaws (N,), sizes (N, 3) = (l, w, h), all in one frame.
    """
    counts = np.zeros(len(centers), dtype=np.int64)
    if len(points_xyz) == 0:
        return counts
    for k, (c, yaw, size) in enumerate(zip(centers, yaws, sizes)):
        reach = 0.5 * float(np.hypot(size[0], size[1]))
        near = (np.abs(points_xyz[:, 0] - c[0]) <= reach) & (
            np.abs(points_xyz[:, 1] - c[1]) <= reach)
        if not near.any():
            continue
        rel = points_xyz[near] - c
        cy, sy = np.cos(yaw), np.sin(yaw)
        lx = cy * rel[:, 0] + sy * rel[:, 1]
        ly = -sy * rel[:, 0] + cy * rel[:, 1]
        inside = ((np.abs(lx) <= size[0] / 2) & (np.abs(ly) <= size[1] / 2)
                  & (np.abs(rel[:, 2]) <= size[2] / 2))
        counts[k] = int(inside.sum())
    return counts


class _StageTimer:
    """Wall-clock seconds per generator stage (for the speed benchmark)."""

    def __init__(self):
        self.seconds: Dict[str, float] = defaultdict(float)

    def add(self, stage: str, start: float) -> None:
        self.seconds[stage] += time.perf_counter() - start


class _SceneWriter:
    """Simulates one scene and adds its files and table records."""

    def __init__(self, plan: ScenePlan, identity: SceneIdentity, rig: SensorRig,
                 renderers: Dict[str, CameraRenderer], tables: TableCollector, root: str,
                 seed: int, lidar_sweeps: int, radar_hz: float, timer: _StageTimer):
        self.plan, self.identity, self.rig = plan, identity, rig
        self.renderers, self.tables, self.root = renderers, tables, root
        self.seed, self.lidar_sweeps, self.radar_hz = seed, lidar_sweeps, radar_hz
        self.timer = timer
        self.world = WorldModel(plan)
        self.ego_body_m = ego_body_ranges(invert_pose(rig.ego_T_lidar))
        self.key = (seed, identity.name)
        self.log_token = stable_token(*self.key, 'log')
        self.scene_token = stable_token(*self.key, 'scene')
        n = len(plan.tracks)
        self.sizes = np.array([t.size for t in plan.tracks]).reshape(n, 3)
        self.velocities = np.array([t.velocity_xy for t in plan.tracks]).reshape(n, 2)
        self.rcs = np.array([CLASS_MODELS[t.name].rcs_dbsm for t in plan.tracks])
        self.lit = np.array([t.attribute in _LIT_ATTRIBUTES for t in plan.tracks], dtype=bool)
        self.sample_tokens = [stable_token(*self.key, 'sample', k)
                              for k in range(plan.num_samples)]
        self.sample_times = [k * KEYFRAME_PERIOD_S for k in range(plan.num_samples)]
        self.num_lidar_pts = np.zeros((plan.num_samples, n), dtype=np.int64)
        self.num_radar_pts = np.zeros((plan.num_samples, n), dtype=np.int64)
        self.visible = np.zeros((plan.num_samples, n), dtype=np.int64)
        self.projected = np.zeros((plan.num_samples, n), dtype=np.int64)
        self.calib_tokens: Dict[str, str] = {}

    # ---- records -------------------------------------------------------------------------
    def _timestamp(self, t: float) -> int:
        return self.identity.start_us + _us(t)

    def _filename(self, channel: str, t: float, key: bool, ext: str) -> str:
        folder = 'samples' if key else 'sweeps'
        name = f'{self.identity.log_name}__{channel}__{self._timestamp(t)}.{ext}'
        return f'{folder}/{channel}/{name}'

    def _write(self, rel_path: str, payload: bytes) -> None:
        with open(os.path.join(self.root, rel_path), 'wb') as f:
            f.write(payload)

    def _nearest_sample(self, t: float) -> str:
        k = int(np.clip(round(t / KEYFRAME_PERIOD_S), 0, self.plan.num_samples - 1))
        return self.sample_tokens[k]

    def _sample_data(self, channel: str, t: float, key: bool, rel_path: str, fileformat: str,
                     width: int = 0, height: int = 0) -> dict:
        token = stable_token(*self.key, 'sample_data', channel, _us(t))
        pose = self.plan.global_T_ego(t)
        ego_token = stable_token(*self.key, 'ego_pose', channel, _us(t))
        self.tables.add('ego_pose', {
            'token': ego_token, 'timestamp': self._timestamp(t),
            'rotation': rotation_to_quaternion(pose[:3, :3]),
            'translation': [float(v) for v in pose[:3, 3]]})
        return {'token': token, 'sample_token': self._nearest_sample(t),
                'ego_pose_token': ego_token, 'calibrated_sensor_token': self.calib_tokens[channel],
                'timestamp': self._timestamp(t), 'fileformat': fileformat,
                'is_key_frame': key, 'height': height, 'width': width, 'filename': rel_path,
                'prev': '', 'next': ''}

    def _link_and_add(self, table: str, records: List[dict]) -> None:
        for prev, rec in zip(records[:-1], records[1:]):
            prev['next'], rec['prev'] = rec['token'], prev['token']
        for rec in records:
            self.tables.add(table, rec)

    def _calibration(self) -> None:
        rig = self.rig
        poses = {LIDAR: (rig.ego_T_lidar, [])}
        for name, cam in rig.cameras.items():
            poses[name] = (cam.ego_T_cam, cam.intrinsic.tolist())
        for name, radar in rig.radars.items():
            poses[name] = (radar.ego_T_radar, [])
        for channel, (pose, intrinsic) in poses.items():
            token = stable_token(*self.key, 'calibrated_sensor', channel)
            self.calib_tokens[channel] = token
            self.tables.add('calibrated_sensor', {
                'token': token, 'sensor_token': sensor_token(channel),
                'translation': [float(v) for v in pose[:3, 3]],
                'rotation': rotation_to_quaternion(pose[:3, :3]),
                'camera_intrinsic': intrinsic})

    # ---- sensors -------------------------------------------------------------------------
    def _lidar(self) -> None:
        step = KEYFRAME_PERIOD_S / (self.lidar_sweeps + 1)
        n_frames = (self.plan.num_samples - 1) * (self.lidar_sweeps + 1) + 1
        records = []
        wet = self.identity.weather == 'rain'
        for i in range(n_frames):
            start = time.perf_counter()
            t = i * step
            key = i % (self.lidar_sweeps + 1) == 0
            road_T_lidar = self.plan.road_T_ego(t) @ self.rig.ego_T_lidar
            lidar_T_road = invert_pose(road_T_lidar)
            parts = self.world.parts_at(t).to_frame(lidar_T_road)
            rng = np.random.default_rng([self.seed, self.plan.index, 0, i])
            scan = cast_scan(parts, road_T_lidar, road_T_lidar[2, 3], wet, rng, self.ego_body_m)
            self.timer.add('lidar', start)
            start = time.perf_counter()
            rel = self._filename(LIDAR, t, key, 'pcd.bin')
            self._write(rel, scan.points.tobytes())
            records.append(self._sample_data(LIDAR, t, key, rel, 'pcd'))
            if key:
                k = i // (self.lidar_sweeps + 1)
                centers, yaws = self.world.box_poses(t)
                lidar_yaw = np.arctan2(lidar_T_road[1, 0], lidar_T_road[0, 0])
                self.num_lidar_pts[k] = _count_in_boxes(
                    scan.points[:, :3].astype(np.float64), transform_points(lidar_T_road, centers),
                    yaws + lidar_yaw, self.sizes)
            self.timer.add('io_tables', start)
        self._link_and_add('sample_data', records)

    def _cameras(self) -> None:
        lamps = self.plan.lamp_heads
        for name in CAMERAS:
            renderer = self.renderers[name]
            records = []
            for k, ts in enumerate(self.sample_times):
                start = time.perf_counter()
                t = ts + CAMERA_TIME_OFFSETS_S[name]
                ego_T_road = invert_pose(self.plan.road_T_ego(t))
                parts = self.world.parts_at(t).to_frame(ego_T_road)
                lights = np.zeros((0, 7))
                if renderer.night:
                    centers, yaws = self.world.box_poses(t)
                    lights = np.concatenate([
                        vehicle_lights(transform_points(ego_T_road, centers), yaws, self.sizes,
                                       self.lit),
                        lamp_lights(transform_points(ego_T_road, lamps))])
                frame = renderer.render(parts, len(self.plan.tracks),
                                        self.plan.ego_speed_mps * t, lights,
                                        stable_seed(self.seed, self.plan.index, name, k))
                payload = encode_jpeg(frame.image)
                self.timer.add('camera', start)
                start = time.perf_counter()
                self.visible[k] += frame.visible_px
                self.projected[k] += frame.projected_px
                rel = self._filename(name, t, True, 'jpg')
                self._write(rel, payload)
                cam = self.rig.cameras[name]
                records.append(self._sample_data(name, t, True, rel, 'jpg', cam.width,
                                                 cam.height))
                self.timer.add('io_tables', start)
            self._link_and_add('sample_data', records)

    def _radars(self) -> None:
        period = 1.0 / self.radar_hz
        t_end = self.sample_times[-1] + period / 2
        for r_idx, name in enumerate(RADARS):
            model = self.rig.radars[name]
            phase = RADAR_PHASES_S[name] % period
            times = np.arange(phase - period, t_end, period)
            times = times[times >= -period / 2]
            nearest = {k: int(np.argmin(np.abs(times - ts)))
                       for k, ts in enumerate(self.sample_times)}
            key_frames = {i: k for k, i in nearest.items()}
            records = []
            for i, t in enumerate(times):
                start = time.perf_counter()
                key = i in key_frames
                road_T_radar = self.plan.road_T_ego(t) @ model.ego_T_radar
                radar_T_road = invert_pose(road_T_radar)
                yaw = np.arctan2(radar_T_road[1, 0], radar_T_road[0, 0])
                rot = radar_T_road[:2, :2]
                centers, yaws = self.world.box_poses(t)
                rng = np.random.default_rng([self.seed, self.plan.index, 1 + r_idx, i])
                scan = simulate_scan(
                    self.world.parts_at(t).to_frame(radar_T_road),
                    transform_points(radar_T_road, centers), yaws + yaw, self.sizes,
                    self.velocities @ rot.T, self.rcs,
                    rot @ np.array([self.plan.ego_speed_mps, 0.0]), rng)
                self.timer.add('radar', start)
                start = time.perf_counter()
                rel = self._filename(name, t, key, 'pcd')
                self._write(rel, encode_radar_pcd(scan.records))
                records.append(self._sample_data(name, t, key, rel, 'pcd'))
                if key:
                    k = key_frames[i]
                    # count against the keyframe's boxes (as nuScenes counts radar points)
                    pts = np.stack([scan.records['x'], scan.records['y'],
                                    np.zeros(len(scan.records))], axis=1).astype(np.float64)
                    pts_road = transform_points(road_T_radar, pts)
                    c_key, y_key = self.world.box_poses(self.sample_times[k])
                    self.num_radar_pts[k] += _count_in_boxes(pts_road, c_key, y_key, self.sizes)
                self.timer.add('io_tables', start)
            self._link_and_add('sample_data', records)

    # ---- annotations ---------------------------------------------------------------------
    def _samples_and_annotations(self) -> None:
        plan = self.plan
        samples = [{'token': tok, 'timestamp': self._timestamp(ts), 'prev': '', 'next': '',
                    'scene_token': self.scene_token}
                   for tok, ts in zip(self.sample_tokens, self.sample_times)]
        self._link_and_add('sample', samples)
        global_yaw = np.arctan2(plan.global_T_road[1, 0], plan.global_T_road[0, 0])
        for j, track in enumerate(plan.tracks):
            inst_token = stable_token(*self.key, 'instance', j)
            anns = []
            for k, ts in enumerate(self.sample_times):
                center = transform_points(plan.global_T_road, track.center_at(ts))
                projected = self.projected[k, j]
                fraction = self.visible[k, j] / projected if projected else 0.0
                length, width, height = (float(v) for v in track.size)
                anns.append({
                    'token': stable_token(*self.key, 'sample_annotation', j, k),
                    'sample_token': self.sample_tokens[k], 'instance_token': inst_token,
                    'visibility_token': visibility_token(fraction),
                    'attribute_tokens': [attribute_token(track.attribute)]
                    if track.attribute else [],
                    'translation': [float(v) for v in center],
                    'size': [width, length, height],  # nuScenes order: w, l, h
                    'rotation': yaw_to_quaternion(track.yaw + global_yaw),
                    'prev': '', 'next': '',
                    'num_lidar_pts': int(self.num_lidar_pts[k, j]),
                    'num_radar_pts': int(self.num_radar_pts[k, j])})
            self._link_and_add('sample_annotation', anns)
            self.tables.add('instance', {
                'token': inst_token,
                'category_token': category_token(track.category),
                'nbr_annotations': len(anns), 'first_annotation_token': anns[0]['token'],
                'last_annotation_token': anns[-1]['token']})
        ident = self.identity
        self.tables.add('log', {'token': self.log_token, 'logfile': ident.log_name,
                                'vehicle': ident.vehicle, 'date_captured': ident.date_captured,
                                'location': ident.location})
        self.tables.add('scene', {'token': self.scene_token, 'log_token': self.log_token,
                                  'nbr_samples': plan.num_samples,
                                  'first_sample_token': self.sample_tokens[0],
                                  'last_sample_token': self.sample_tokens[-1],
                                  'name': ident.name, 'description': ident.description})

    def _check_class_presence(self) -> None:
        """Warn (never silently) if a class has no box the devkit would evaluate in this scene:
        within its class range of the ego and with at least one LiDAR or radar point."""
        seen = set()
        for k, ts in enumerate(self.sample_times):
            ego_xy = self.plan.road_T_ego(ts)[:2, 3]
            for j, track in enumerate(self.plan.tracks):
                dist = np.hypot(*(track.center_at(ts)[:2] - ego_xy))
                points = self.num_lidar_pts[k, j] + self.num_radar_pts[k, j]
                if dist < EVAL_RANGE_M[track.name] and points > 0:
                    seen.add(track.name)
        missing = sorted(set(EVAL_RANGE_M) - seen)
        if missing:
            logger.warning('scene %s (seed %d): no evaluable box of %s; a split made of this '
                           'scene alone scores AP 0 for it', self.identity.name, self.seed,
                           missing)

    def run(self) -> None:
        self._calibration()
        self._lidar()
        self._cameras()
        self._radars()
        start = time.perf_counter()
        self._samples_and_annotations()
        self._check_class_presence()
        self.timer.add('io_tables', start)


def _write_maps(root: str, plans: List[ScenePlan], identities: List[SceneIdentity],
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


def _check_target(root: str, overwrite: bool) -> None:
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


def _make_sensor_dirs(root: str) -> None:
    for folder in ('samples', 'sweeps'):
        for channel in (LIDAR, *CAMERAS, *RADARS):
            if folder == 'sweeps' and channel in CAMERAS:
                continue  # camera sweeps are not written (see the module docstring)
            os.makedirs(os.path.join(root, folder, channel), exist_ok=True)
    os.makedirs(os.path.join(root, 'maps'), exist_ok=True)


def _swap_into(root: str, stage: str) -> None:
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
    return opts


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
            ``radar_hz`` (default 13), ``overwrite`` (replace an existing synthetic set).
    """
    return _generate(out_root, num_scenes, samples_per_scene, seed, image_size, night_share,
                     rain_share, _StageTimer(), **options)


def _generate(out_root: str, num_scenes: int, samples_per_scene: int, seed: int,
              image_size: Tuple[int, int], night_share: float, rain_share: float,
              timer: _StageTimer, **options) -> str:
    opts = _check_options(options)
    version = version_for(int(num_scenes))
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    if int(samples_per_scene) < 2:
        raise ValueError(f'samples_per_scene must be >= 2 (velocities need two keyframes), got '
                         f'{samples_per_scene}')
    rig = build_rig(tuple(image_size))
    identities = scene_identities(int(num_scenes), night_share, rain_share, seed)
    _check_target(out_root, bool(opts['overwrite']))
    os.makedirs(out_root, exist_ok=True)
    stage = tempfile.mkdtemp(prefix='.synth_staging_', dir=out_root)
    try:
        _make_sensor_dirs(stage)
        tables = TableCollector()
        renderers: Dict[Tuple[str, str], Dict[str, CameraRenderer]] = {}
        plans = []
        for i, ident in enumerate(identities):
            start = time.perf_counter()
            plan = plan_scene(i, ident.name, ident.description, ident.lighting, ident.weather,
                              ident.location, ident.log_name, ident.start_us,
                              int(samples_per_scene), np.random.default_rng([seed, i]))
            plans.append(plan)
            condition = (ident.lighting, ident.weather)
            if condition not in renderers:
                renderers[condition] = {name: CameraRenderer(cam, *condition, EGO_LANE_Y_M)
                                        for name, cam in rig.cameras.items()}
            timer.add('setup', start)
            _SceneWriter(plan, ident, rig, renderers[condition], tables, stage, seed,
                         int(opts['lidar_sweeps']), float(opts['radar_hz']), timer).run()
            logger.info('scene %d/%d %s (%s, %s) written', i + 1, len(identities), ident.name,
                        ident.lighting, ident.weather)
        start = time.perf_counter()
        _write_maps(stage, plans, identities, tables, seed)
        tables.write(stage, version)
        _swap_into(out_root, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    with open(os.path.join(out_root, MARKER_FILE), 'w') as f:
        json.dump({'generator': 'fusion_moe.data.synthetic', 'version': version,
                   'num_scenes': int(num_scenes), 'samples_per_scene': int(samples_per_scene),
                   'seed': int(seed), 'image_size': [int(v) for v in image_size],
                   'night_share': night_share, 'rain_share': rain_share,
                   'options': {k: opts[k] for k in ('lidar_sweeps', 'radar_hz')},
                   'scenes': [{'name': s.name, 'split': s.split, 'lighting': s.lighting,
                               'weather': s.weather, 'description': s.description}
                              for s in identities]}, f, indent=1)
    timer.add('io_tables', start)
    return version


def generate_keyframe_timing(image_size: Tuple[int, int] = (1600, 900),
                             samples_per_scene: int = 8, num_scenes: int = 2, seed: int = 0,
                             out_root: str = None) -> Dict[str, float]:
    """Time the generator on a throw-away set (all sensors, default sweeps and rates, day and
    clear scenes so that the camera setup is shared as in a real run).

    Returns a dict with ``keyframes``, ``seconds`` (wall clock, including the camera setup),
    ``keyframes_per_s`` (wall clock), ``cpu_seconds`` and ``keyframes_per_cpu_s`` (process CPU
    time: the figure for "one core" on a machine shared with other jobs), and the wall seconds
    per stage (``stage_setup``, ``stage_lidar``, ``stage_camera``, ``stage_radar``,
    ``stage_io_tables``). Writes to a temporary directory unless ``out_root`` is given.
    """
    timer = _StageTimer()
    tmp = out_root or tempfile.mkdtemp(prefix='synth_timing_')
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        _generate(tmp, num_scenes, samples_per_scene, seed, image_size, 0.0, 0.0, timer,
                  overwrite=True)
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
