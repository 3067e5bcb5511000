"""What every degradation shares: severity check, per-sample seeding, the record, sensor access.

A degradation is an mmcv ``BaseTransform`` on the loading pipeline's results dict (layout in
``fusion_moe/structures/sensors.py``), placed after loading and before ``PackFusionInputs``.
Subclasses implement :meth:`Degradation.apply`, which changes the sensor data in place and
returns the physical parameters it used; the base class then appends
``{'name', 'severity', 'preset', 'params'}`` to ``results['degradations']``.

Severity -> parameters: a transform is built with a ``preset`` (default ``'default'``, ours;
``'multicorrupt'``, ``'nuscenes_c'``: the published suites' own numbers) and reads the
parameters of its severity from that preset's table in
:mod:`fusion_moe.degradation.severity_tables` (``self.severity_params``); the severities a
preset allows are its table's keys (1-5 for ours, 1-3 for MultiCorrupt).

Determinism: the random stream is a numpy ``Generator`` seeded from
``(seed, sample_idx, name)``, so the same sample with the same seed is degraded identically in
every run and worker, two samples differ, and two degradations of one sample draw independent
streams. In training, where the dataset writes ``results['train_epoch']``, the stream is seeded
from ``(seed, sample_idx, name, epoch)`` instead: each epoch brings a new corruption of the
sample (still reproducible), while test-time streams stay per (seed, sample). The stream does
not depend on the severity, so one sample at severities 1-5 sees the same random draws (common
random numbers): only the physical parameter changes between them.

Ground truth (``gt_bboxes_3d``, ``gt_labels_3d``) is never read or written here.
"""
import zlib
from abc import abstractmethod
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from ..structures import CAMERAS, LIDAR_POINT_DIMS, MODALITIES, make_context, validate_context
from .severity_tables import DEFAULT_PRESET, severity_table

SEVERITIES = (1, 2, 3, 4, 5)
LIDAR_TIME_LAG_COLUMN = LIDAR_POINT_DIMS.index('time_lag')


def _stable_int(value: Any, key: str) -> int:
    """A platform-independent non-negative int for a seed component (ints kept, str hashed)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f'{key} must be an int or str, got bool')
    if isinstance(value, (int, np.integer)):
        if value < 0:
            raise ValueError(f'{key} must be >= 0, got {value}')
        return int(value)
    if isinstance(value, str):
        return zlib.crc32(value.encode('utf-8'))
    raise TypeError(f'{key} must be an int or str, got {type(value).__name__}')


def sample_rng(seed: int, sample_idx: Any, stream: str,
               epoch: Optional[int] = None) -> np.random.Generator:
    """Random stream for one (seed, sample, degradation) triple, and training epoch if given."""
    entropy = [_stable_int(seed, 'seed'), _stable_int(sample_idx, 'sample_idx'),
               _stable_int(stream, 'stream')]
    if epoch is not None:
        entropy.append(_stable_int(epoch, 'train_epoch'))
    return np.random.default_rng(entropy)


def check_severity(severity: Any, allowed: Tuple[int, ...] = SEVERITIES) -> int:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)):
        raise TypeError(f'severity must be an int in {allowed}, got {severity!r}')
    if int(severity) not in allowed:
        raise ValueError(f'severity must be in {allowed}, got {severity}')
    return int(severity)


def require(results: dict, key: str, what: str) -> Any:
    """``results[key]``, or a KeyError that says which key and why it is needed."""
    if key not in results:
        raise KeyError(
            f"results dict has no {key!r} ({what}); the loading pipeline sets it, see "
            f"fusion_moe/structures/sensors.py (keys present: {sorted(results)})")
    return results[key]


def set_context(results: dict, *, lighting: Optional[str] = None,
                weather: Optional[str] = None) -> Dict[str, str]:
    """Override factors of ``results['context']`` and mark it ``source='injected'``."""
    old = require(results, 'context', 'the driving context')
    validate_context(old)
    ctx = make_context(lighting or old['lighting'], weather or old['weather'], 'injected')
    results['context'] = ctx
    return ctx


def modality_present(results: dict) -> Dict[str, bool]:
    present = require(results, 'modality_present', 'which sensors delivered data')
    missing = [m for m in MODALITIES if m not in present]
    if missing:
        raise KeyError(f"results['modality_present'] lacks {missing}: {present!r}")
    return present


# --- sensor access -------------------------------------------------------------------------

def get_lidar_array(results: dict) -> np.ndarray:
    """The LiDAR points as an (N, 6) float32 numpy array (a copy-free view where possible)."""
    points = require(results, 'points', 'LiDAR points')
    arr = points.tensor.numpy() if hasattr(points, 'tensor') else np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] < 4:
        raise ValueError(f"results['points'] must be (N, >=4), got shape {arr.shape}")
    _check_finite(arr, 'points')
    return arr


def lidar_sweep_rows(points: np.ndarray) -> List[np.ndarray]:
    """Row indices of each sweep in an (N, 6) LiDAR array, told apart by the time_lag column
    (keyframe first, then older sweeps); one group for a cloud without that column."""
    if points.shape[1] <= LIDAR_TIME_LAG_COLUMN or len(points) == 0:
        return [np.arange(len(points))]
    lags, sweep = np.unique(points[:, LIDAR_TIME_LAG_COLUMN], return_inverse=True)
    order = np.argsort(sweep, kind='stable')
    return np.split(order, np.cumsum(np.bincount(sweep, minlength=len(lags)))[:-1])


def _check_finite(arr: np.ndarray, key: str) -> None:
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"results[{key!r}] has {int(bad.sum())} rows with NaN/inf (first at "
                         f"row {int(np.argmax(bad))}); the loader must drop or reject them")


def set_lidar_array(results: dict, arr: np.ndarray) -> None:
    """Replace the LiDAR points, keeping the container type (``LiDARPoints`` or ndarray)."""
    points = results['points']
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    results['points'] = points.new_point(arr) if hasattr(points, 'new_point') else arr


def get_images(results: dict) -> List[np.ndarray]:
    imgs = require(results, 'img', 'the camera images')
    if not isinstance(imgs, list) or len(imgs) != len(CAMERAS):
        raise TypeError(f"results['img'] must be a list of {len(CAMERAS)} (H, W, 3) uint8 "
                        f"arrays in CAMERAS order, got {type(imgs).__name__}")
    for cam, img in zip(CAMERAS, imgs):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise TypeError(f'image of {cam} must be (H, W, 3) uint8, got {img.shape} '
                            f'{img.dtype}')
    return imgs


def get_radar_array(results: dict) -> np.ndarray:
    radar = require(results, 'radar_points', 'radar points')
    radar = np.asarray(radar)
    if radar.ndim != 2 or radar.shape[1] != 8:
        raise ValueError(f"results['radar_points'] must be (M, 8), got shape {radar.shape}")
    _check_finite(radar, 'radar_points')
    return radar


def dropped_cameras(results: dict) -> List[str]:
    """Cameras blanked by an earlier ``CameraDropout`` (other degradations leave them black)."""
    out: List[str] = []
    for record in results.get('degradations', []):
        out.extend(record.get('params', {}).get('dropped_cameras', []))
    return out


def live_camera_indices(results: dict) -> List[int]:
    """Indices into ``CAMERAS`` whose images carry data: the camera is present, the view was
    read from disk (``cameras_present``, when recorded) and no ``CameraDropout`` dropped it."""
    if not modality_present(results)['camera']:
        return []
    dropped = set(dropped_cameras(results))
    loaded = results.get('cameras_present') or [True] * len(CAMERAS)
    return [i for i, cam in enumerate(CAMERAS) if cam not in dropped and loaded[i]]


class Degradation(BaseTransform):
    """Base class of the registered degradations.

    Args:
        severity: 1 (mild) to 5 (severe) in our preset, 1-3 in MultiCorrupt's; mapped to
            physical parameters by the degradation's table in ``preset``.
        seed: base seed; the stream used is seeded by ``(seed, results['sample_idx'], name)``
            and, in training, ``results['train_epoch']``.
        preset: which family of severity tables (``severity_tables.PRESETS``).
    """

    #: Short name, used in the record and by :func:`fusion_moe.degradation.build_degradation`.
    name: ClassVar[str] = ''

    def __init__(self, severity: int, seed: int = 0, preset: str = DEFAULT_PRESET) -> None:
        self.preset = preset
        table = self.severity_table()
        self.severity = check_severity(severity, tuple(sorted(table)))
        #: The physical parameters of this severity under this preset (from its table).
        self.severity_params: Dict[str, Any] = table[self.severity]
        _stable_int(seed, 'seed')
        self.seed = int(seed)

    def severity_table(self) -> Mapping[int, Dict[str, Any]]:
        """``{severity: parameters}`` of this degradation under ``self.preset``."""
        return severity_table(self.record_name, self.preset)

    def rng(self, results: dict, stream: Optional[str] = None) -> np.random.Generator:
        sample_idx = require(results, 'sample_idx', 'per-sample seeding')
        return sample_rng(self.seed, sample_idx, stream or self.name, results.get('train_epoch'))

    @abstractmethod
    def apply(self, results: dict) -> Dict[str, Any]:
        """Degrade ``results`` in place; return the physical parameters used (JSON-able)."""

    @property
    def record_name(self) -> str:
        """Name written to the record; the class's ``name`` unless a subclass refines it."""
        return self.name

    def transform(self, results: dict) -> dict:
        params = self.apply(results)
        results.setdefault('degradations', []).append(
            {'name': self.record_name, 'severity': self.severity, 'preset': self.preset,
             'params': params})
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(severity={self.severity}, seed={self.seed}, '
                f'preset={self.preset!r})')
