"""The two sides of the realism comparison, read the same way: the real nuScenes fixture and a
synthetic nuScenes-format set, both through mmdet3d-format info files.

Everything is returned in the keyframe's LiDAR frame (x right, y forward, z up, metres) except
the raw radar records, which stay in their sensor frame (x along the boresight, y left) as the
devkit's ``RadarPointCloud.from_file`` gives them, with the ``sensor2lidar`` that places them.

The real fixture (``../shared/data/nuscenes-real``, see its README) has one full keyframe and
three radar scans from other logs without calibration or annotations: its radar side is
``RadarScanRecord``s with ``sensor2lidar = None`` and its keyframe has no radar scans (only the
annotations' ``num_radar_pts``, which nuScenes counted on that keyframe's real radar sweeps).
"""
import glob
import os.path as osp
import pickle
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import numpy as np

from fusion_moe.data.real_fixture import REAL_INFO_FILE, REAL_RADAR_SCANS
from fusion_moe.structures import CLASSES


@dataclass
class RadarScanRecord:
    """One radar scan, every point the sensor wrote (no filter applied).

    Attributes:
        points: (18, K) float64 in ``RadarPointCloud`` field order, radar frame, metres.
        sensor2lidar: (4, 4) radar -> keyframe LiDAR frame, or None (real fixture scans).
        time_lag_s: keyframe time minus scan time [s] (0 when unknown).
    """
    points: np.ndarray
    sensor2lidar: Optional[np.ndarray] = None
    time_lag_s: float = 0.0


@dataclass
class Keyframe:
    """What the statistics read of one keyframe.

    Attributes:
        lidar_path: the ``.pcd.bin`` scan (x, y, z, intensity, ring), LiDAR frame.
        image_paths: camera name -> JPEG path.
        boxes: (N, 9) ``x, y, z_bottom, l, w, h, yaw, vx, vy`` (LiDAR frame, m, rad, m/s;
            NaN velocities as 0).
        labels: (N,) class index into ``CLASSES``.
        num_radar_pts: (N,) radar points nuScenes counted inside each box (all radars, no
            filter).
        radar_scans: the keyframe's radar scans (empty for the real fixture).
        lighting, weather: the keyframe's driving context.
    """
    lidar_path: str
    image_paths: Dict[str, str]
    boxes: np.ndarray
    labels: np.ndarray
    num_radar_pts: np.ndarray
    radar_scans: List[RadarScanRecord] = field(default_factory=list)
    lighting: str = 'day'
    weather: str = 'clear'


def read_radar_pcd(path: str) -> np.ndarray:
    """(18, K) every point of a nuScenes radar PCD, read by the devkit with its filters off."""
    from nuscenes.utils.data_classes import RadarPointCloud
    return RadarPointCloud.from_file(path, invalid_states=list(range(18)),
                                     dynprop_states=list(range(8)),
                                     ambig_states=list(range(5))).points


def _boxes(info: dict):
    instances = info['instances']
    boxes = np.zeros((len(instances), 9))
    for k, inst in enumerate(instances):
        boxes[k, :7] = inst['bbox_3d']
        boxes[k, 7:9] = inst.get('velocity', (0.0, 0.0))
    labels = np.array([inst['bbox_label_3d'] for inst in instances], dtype=np.int64)
    radar = np.array([inst.get('num_radar_pts', 0) for inst in instances], dtype=np.int64)
    return np.nan_to_num(boxes, nan=0.0), labels, radar


def _load_infos(path: str) -> List[dict]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no info file')
    with open(path, 'rb') as f:
        infos = pickle.load(f)
    categories = list(infos.get('metainfo', {}).get('categories', CLASSES))
    if tuple(categories) != CLASSES:
        raise ValueError(f'{path}: categories {categories} differ from {CLASSES}')
    return infos['data_list']


class RealFixture:
    """The real nuScenes fixture: one keyframe (``keyframes``) and three radar scans
    (``radar_scans``)."""
    name = 'real'

    def __init__(self, root: str) -> None:
        self.root = root
        self.info = _load_infos(osp.join(root, REAL_INFO_FILE))[0]

    def keyframes(self) -> Iterator[Keyframe]:
        info = self.info
        boxes, labels, radar = _boxes(info)
        yield Keyframe(
            lidar_path=osp.join(self.root, 'lidar', info['lidar_points']['lidar_path']),
            image_paths={cam: osp.join(self.root, 'cameras', c['img_path'])
                         for cam, c in info['images'].items()},
            boxes=boxes, labels=labels, num_radar_pts=radar)

    def radar_scans(self) -> Iterator[RadarScanRecord]:
        for name in REAL_RADAR_SCANS:
            yield RadarScanRecord(read_radar_pcd(osp.join(self.root, 'radar', name)))


class SyntheticSet:
    """A nuScenes-format set with mmdet3d info files (``nuscenes_infos_{train,val}.pkl``),
    e.g. the synthetic ``data/synth``; ``max_keyframes`` takes every k-th keyframe so that at
    most that many are read."""
    name = 'synthetic'

    def __init__(self, root: str, splits=('train', 'val'),
                 max_keyframes: Optional[int] = None) -> None:
        self.root = root
        infos: List[dict] = []
        for split in splits:
            infos += _load_infos(osp.join(root, f'nuscenes_infos_{split}.pkl'))
        if max_keyframes and len(infos) > max_keyframes:
            step = int(np.ceil(len(infos) / max_keyframes))
            infos = infos[::step]
        self.infos = infos

    def _path(self, rel: str, sensor: str) -> str:
        """Info paths are either root-relative (``samples/...``) or bare file names."""
        if osp.isfile(osp.join(self.root, rel)):
            return osp.join(self.root, rel)
        found = glob.glob(osp.join(self.root, '*', sensor, osp.basename(rel)))
        if not found:
            raise FileNotFoundError(f'{rel} ({sensor}) not found under {self.root}')
        return found[0]

    def keyframes(self) -> Iterator[Keyframe]:
        for info in self.infos:
            boxes, labels, radar = _boxes(info)
            scans = []
            for sensor, sweeps in (info.get('radar_sweeps') or {}).items():
                if not sweeps:
                    continue
                sweep = sweeps[0]                     # the keyframe's scan of this radar
                scans.append(RadarScanRecord(
                    read_radar_pcd(self._path(sweep['data_path'], sensor)),
                    np.asarray(sweep['sensor2lidar'], dtype=np.float64),
                    float(info['timestamp'] - sweep['timestamp'])))
            context = info.get('context') or {}
            yield Keyframe(
                lidar_path=self._path(info['lidar_points']['lidar_path'], 'LIDAR_TOP'),
                image_paths={cam: self._path(c['img_path'], cam)
                             for cam, c in info['images'].items()},
                boxes=boxes, labels=labels, num_radar_pts=radar, radar_scans=scans,
                lighting=context.get('lighting', 'day'),
                weather=context.get('weather', 'clear'))

    def radar_scans(self) -> Iterator[RadarScanRecord]:
        for keyframe in self.keyframes():
            yield from keyframe.radar_scans
