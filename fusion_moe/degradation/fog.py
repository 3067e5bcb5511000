"""Fog transforms: per sensor (``LidarFog``, ``CameraFog``, ``RadarFog``) and all at once (``Fog``).

Severity maps to one visibility (MOR, metres) in ``severity_tables.FOG_VISIBILITY_M``;
``Fog`` applies it to all three sensors of the sample, so they agree on how foggy it is.
Every fog transform sets ``context['weather'] = 'fog'`` (source 'injected').

Presets of the published suites give the LiDAR model's coefficients directly instead:
(alpha [1/m], beta [1/(m sr)]) per severity (``preset='multicorrupt'`` for ``Fog`` and
``LidarFog``, ``'nuscenes_c'`` for ``LidarFog``). The LiDAR then uses that alpha and beta, and
the cameras and radar of ``Fog`` the visibility of that alpha, MOR = ln 20 / alpha (our own
camera and radar fog: the suites' camera haze models are not reproduced). Our own tables keep
beta = 0.046 / MOR, as Hahner et al. do.

Physics live in ``fog_camera`` (Koschmieder with per-pixel range from ``camera_depth``),
``fog_lidar`` (Hahner et al. 2021) and ``fog_radar``.

Order: the camera's range map is refined with the LiDAR points found in ``results``, so
camera fog must run before LiDAR fog (``Fog`` does so); a ``CameraFog`` placed after a
``LidarFog`` would take fog clutter for near surfaces.
"""
from typing import Any, Dict, Optional

import numpy as np

from ..registry import TRANSFORMS
from .base import (Degradation, get_images, get_lidar_array, get_radar_array,
                   live_camera_indices, modality_present, require, set_context,
                   set_lidar_array)
from .camera_depth import NUSCENES_GROUND_Z_M, camera_range_map
from .fog_camera import apply_koschmieder
from .fog_lidar import BACKSCATTER_PER_MOR, RANGE_NOISE_M, simulate_lidar_fog
from .fog_radar import simulate_radar_fog
from .severity_tables import DEFAULT_PRESET

#: Airlight (0-255) is drawn per sample in this range; daylight fog is bright grey, fog at
#: night only glows with the scene's own lights.
AIRLIGHT_DAY = (185.0, 225.0)
AIRLIGHT_NIGHT = (15.0, 40.0)


def fog_cameras(results: dict, visibility_m: float, rng: np.random.Generator,
                depth_scale: int = 4, ground_z_m: float = NUSCENES_GROUND_Z_M
                ) -> Dict[str, Any]:
    """Koschmieder fog on every live camera, in place. Returns the parameters used."""
    cams = live_camera_indices(results)
    if not cams:
        return {'applied': False, 'reason': 'no camera data'}
    imgs = get_images(results)
    cam2img = require(results, 'cam2img', 'camera intrinsics')
    lidar2cam = require(results, 'lidar2cam', 'camera extrinsics')
    xyz = None
    if modality_present(results)['lidar']:
        pts = get_lidar_array(results)
        if pts.shape[1] > 5:                       # keyframe returns only: time_lag == 0
            pts = pts[pts[:, 5] == 0]
        xyz = pts[:, :3]
    night = results.get('context', {}).get('lighting') == 'night'
    airlight = float(rng.uniform(*(AIRLIGHT_NIGHT if night else AIRLIGHT_DAY)))
    for i in cams:
        rng_map = camera_range_map(cam2img[i], lidar2cam[i], imgs[i].shape[:2], xyz,
                                   depth_scale, ground_z_m)
        imgs[i] = apply_koschmieder(imgs[i], rng_map, visibility_m, airlight)
    return {'applied': True, 'airlight': airlight, 'lidar_refined': xyz is not None,
            'cameras': len(cams)}


def fog_lidar(results: dict, visibility_m: float, rng: np.random.Generator,
              noise_floor: float = 0.0, backscatter_per_m_sr: Optional[float] = None,
              range_noise_m: float = RANGE_NOISE_M) -> Dict[str, Any]:
    """Hahner et al. fog on the LiDAR points (keyframe and sweeps), in place.

    ``backscatter_per_m_sr`` is beta; None means the model's 0.046 / MOR. ``range_noise_m`` is
    the fog-return range noise n (the reference's ``noise``, 10 m by default). ``noise_floor``
    > 0 deletes returns weaker than it (not in the reference; off by default). Returns the
    parameters and counts.
    """
    if not modality_present(results)['lidar']:
        return {'applied': False, 'reason': 'no lidar data'}
    beta = (BACKSCATTER_PER_MOR / visibility_m if backscatter_per_m_sr is None
            else float(backscatter_per_m_sr))
    fogged = simulate_lidar_fog(get_lidar_array(results), visibility_m, rng,
                                range_noise_m=range_noise_m, noise_floor=noise_floor,
                                beta_per_m_sr=beta)
    set_lidar_array(results, fogged.points)
    return {'applied': True, 'alpha_per_m': float(np.log(20.0) / visibility_m),
            'beta_per_m_sr': beta, 'range_noise_m': float(range_noise_m),
            'noise_floor': noise_floor, **fogged.counts}


def fog_radar(results: dict, visibility_m: float, rng: np.random.Generator
              ) -> Dict[str, Any]:
    """Attenuation and clutter on the radar points, in place."""
    if not modality_present(results)['radar']:
        return {'applied': False, 'reason': 'no radar data'}
    radar, info = simulate_radar_fog(get_radar_array(results), visibility_m, rng)
    results['radar_points'] = radar
    return {'applied': True, **info}


class _FogBase(Degradation):
    """Severity parameters: ``visibility_m`` (ours) or ``alpha_per_m`` + ``beta_per_m_sr``."""

    @property
    def visibility_m(self) -> float:
        """MOR [m]: the table's, or ln 20 / alpha for a preset that gives alpha."""
        params = self.severity_params
        if 'visibility_m' in params:
            return params['visibility_m']
        return float(np.log(20.0) / params['alpha_per_m'])

    @property
    def backscatter_per_m_sr(self) -> Optional[float]:
        """The LiDAR model's beta when the preset gives it, else None (0.046 / MOR)."""
        return self.severity_params.get('beta_per_m_sr')

    @property
    def range_noise_m(self) -> float:
        """The LiDAR fog-return range noise n [m]: the preset's, else the reference's 10 m."""
        return float(self.severity_params.get('range_noise_m', RANGE_NOISE_M))


@TRANSFORMS.register_module()
class CameraFog(_FogBase):
    """Koschmieder fog on the cameras (range from ground plane + projected LiDAR).

    Reads/writes ``img`` (list of 6 (H, W, 3) uint8, shapes kept); reads ``cam2img``,
    ``lidar2cam``, ``points``; sets ``context['weather'] = 'fog'``.
    """
    name = 'camera_fog'

    def apply(self, results: dict) -> Dict[str, Any]:
        params = {'visibility_m': self.visibility_m,
                  **fog_cameras(results, self.visibility_m, self.rng(results))}
        set_context(results, weather='fog')
        return params


@TRANSFORMS.register_module()
class LidarFog(_FogBase):
    """Physically based LiDAR fog (Hahner et al. 2021): attenuation and fog returns.

    Reads/writes ``points`` ((N, 6) float32; (N', 6), N' <= N, only with ``noise_floor`` > 0);
    sets weather 'fog'.

    Args:
        noise_floor: intensity below which a return is deleted (default 0: none is, as in
            the authors' reference code).
    """
    name = 'lidar_fog'

    def __init__(self, severity: int, seed: int = 0, noise_floor: float = 0.0,
                 preset: str = DEFAULT_PRESET) -> None:
        super().__init__(severity, seed, preset)
        self.noise_floor = float(noise_floor)

    def apply(self, results: dict) -> Dict[str, Any]:
        params = {'visibility_m': self.visibility_m,
                  **fog_lidar(results, self.visibility_m, self.rng(results),
                              self.noise_floor, self.backscatter_per_m_sr,
                              self.range_noise_m)}
        set_context(results, weather='fog')
        return params


@TRANSFORMS.register_module()
class RadarFog(_FogBase):
    """Mild range-dependent RCS loss and a few near clutter points on the radar.

    Reads/writes ``radar_points`` ((M, 8) -> (M + K, 8) float32); sets weather 'fog'.
    """
    name = 'radar_fog'

    def apply(self, results: dict) -> Dict[str, Any]:
        params = {'visibility_m': self.visibility_m,
                  **fog_radar(results, self.visibility_m, self.rng(results))}
        set_context(results, weather='fog')
        return params


@TRANSFORMS.register_module()
class Fog(_FogBase):
    """Fog on cameras, LiDAR and radar with one shared visibility (camera first, see above).

    Args:
        lidar_noise_floor: ``LidarFog``'s ``noise_floor`` (default 0: no return deleted).
    """
    name = 'fog'

    def __init__(self, severity: int, seed: int = 0, lidar_noise_floor: float = 0.0,
                 preset: str = DEFAULT_PRESET) -> None:
        super().__init__(severity, seed, preset)
        self.lidar_noise_floor = float(lidar_noise_floor)

    def apply(self, results: dict) -> Dict[str, Any]:
        vis = self.visibility_m
        params = {
            'visibility_m': vis,
            'camera': fog_cameras(results, vis, self.rng(results, 'fog/camera')),
            'lidar': fog_lidar(results, vis, self.rng(results, 'fog/lidar'),
                               self.lidar_noise_floor, self.backscatter_per_m_sr,
                               self.range_noise_m),
            'radar': fog_radar(results, vis, self.rng(results, 'fog/radar')),
        }
        set_context(results, weather='fog')
        return params
