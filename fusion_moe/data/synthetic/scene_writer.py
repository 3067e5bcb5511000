"""One scene of the synthetic set: simulate its sensors at nuScenes' rates and add its files and
table records (sample_data, ego poses, calibration, samples, annotations, instances, log, scene).

Timing as in nuScenes: keyframes (samples) at 2 Hz; LIDAR_TOP at 20 Hz (9 sweeps between
keyframes); each radar at 13 Hz with its own phase, the scan nearest to a keyframe being that
radar's keyframe; cameras fire during the LiDAR keyframe sweep. Only camera keyframes are written
(nuScenes also has 12 Hz camera sweeps; the loading pipeline uses keyframe images only).
Timestamps are microseconds. Every random draw comes from generators seeded by (seed, scene,
sensor, frame), so a seed reproduces the set byte for byte.
"""
import logging
import os
import time
from typing import Dict, List

import numpy as np
from nuscenes.eval.detection.config import config_factory

from fusion_moe.structures.sensors import CAMERAS, LIDAR, RADARS

from .box_counts import count_in_boxes
from .camera import CameraRenderer, encode_jpeg, lamp_lights, vehicle_lights
from .geometry import invert_pose, rotation_to_quaternion, stable_seed, stable_token, \
    transform_points, yaw_to_quaternion
from .lidar import cast_scan, ego_body_ranges
from .naming import SceneIdentity
from .object_models import CLASS_MODELS
from .radar import simulate_scan
from .radar_pcd import encode_radar_pcd
from .rig import CAMERA_TIME_OFFSETS_S, RADAR_PHASES_S, SensorRig
from .scene_layout import KEYFRAME_PERIOD_S, ScenePlan
from .stage_timer import StageTimer
from .tables import TableCollector, attribute_token, category_token, sensor_token, \
    visibility_token
from .world import WorldModel

logger = logging.getLogger(__name__)

_LIT_ATTRIBUTES = ('vehicle.moving', 'vehicle.stopped', 'cycle.with_rider')
# the devkit's evaluation range per class [m], from its own detection config
EVAL_RANGE_M: Dict[str, float] = dict(config_factory('detection_cvpr_2019').class_range)


def _us(seconds: float) -> int:
    return int(round(seconds * 1e6))


class SceneWriter:
    """Simulates one scene and adds its files and table records."""

    def __init__(self, plan: ScenePlan, identity: SceneIdentity, rig: SensorRig,
                 renderers: Dict[str, CameraRenderer], tables: TableCollector, root: str,
                 seed: int, lidar_sweeps: int, radar_hz: float, timer: StageTimer):
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
                self.num_lidar_pts[k] = count_in_boxes(
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
                    self.num_radar_pts[k] += count_in_boxes(pts_road, c_key, y_key, self.sizes)
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
