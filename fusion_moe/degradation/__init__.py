"""Degradation injector: fog, night, sensor failures and image corruptions as transforms.

Every transform is registered in mmdet3d's ``TRANSFORMS`` (usable by type name in a config
pipeline, after loading and before ``PackFusionInputs``), takes ``severity`` (1-5) and
``seed``, is deterministic per (seed, sample_idx), appends ``{name, severity, params}`` to
``results['degradations']``, sets ``results['context']`` (source 'injected') where it changes
the driving conditions and never touches the ground truth.

Short names (``DEGRADATIONS``) for :func:`build_degradation` and :func:`degradation_config`:

=========================  ==============================  ==================================
name                       transform                       severity means
=========================  ==============================  ==================================
fog                        Fog (camera + LiDAR + radar)    visibility 600/300/150/100/50 m
camera_fog / lidar_fog /   CameraFog / LidarFog /          same visibility, one sensor
radar_fog                  RadarFog
night                      Night                           light level 0.30 ... 0.02
camera_dropout             CameraDropout                   1, 2, 3, 4, 6 cameras blanked
lidar_beams                LidarBeamReduction              32 -> 24/16/12/8/4 beams
lidar_points               LidarPointsReduction            50/70/80/90/95 % of points dropped
lidar_fov                  LidarFovLoss                    60 ... 300 deg of azimuth lost
lidar_dropout              LidarDropout                    P(dead) 0.2 ... 1.0
radar_dropout              RadarDropout                    P(dead) 0.2 ... 1.0
spatial_misalignment       SpatialMisalignment             0.5-5 deg, 0.02-0.2 m
lidar_misalignment         LidarMisalignment               the same, on the LiDAR cloud
temporal_misalignment      TemporalMisalignment            0.05 ... 0.3 s delay
<imagecorruptions name>    ImageCorruption(corruption=..)  the package's own tables
image_fog                  ImageCorruption('fog')          (renamed: 'fog' is ours)
=========================  ==============================  ==================================

Presets: every transform takes ``preset`` (default ``'default'``, the table above); the
published suites' own severities are presets too, e.g.
``build_degradation('lidar_fog', 2, preset='multicorrupt')`` or, in a config,
``dict(type='LidarFog', severity=2, preset='multicorrupt')`` (tables and sources in
:mod:`.severity_tables`); the record then carries ``preset`` next to ``name``, ``severity``
and ``params``. :func:`fusion_moe.degradation.suites.suite_conditions` lists a whole suite's
conditions with their pipelines.
"""
from typing import Any, Dict, Tuple

from ..registry import TRANSFORMS
from .base import Degradation, sample_rng
from .corruption import ImageCorruption, corruption_names
from .dropout import (CameraDropout, LidarBeamReduction, LidarDropout, LidarFovLoss,
                      LidarPointsReduction, RadarDropout)
from .fog import CameraFog, Fog, LidarFog, RadarFog
from .misalignment import LidarMisalignment, SpatialMisalignment, TemporalMisalignment
from .night import Night
from .pipeline import insert_degradations
from .severity_tables import DEFAULT_PRESET, PRESETS

_SENSOR_DEGRADATIONS = (Fog, CameraFog, LidarFog, RadarFog, Night, CameraDropout,
                        LidarBeamReduction, LidarPointsReduction, LidarFovLoss, LidarDropout,
                        RadarDropout,
                        SpatialMisalignment, LidarMisalignment, TemporalMisalignment)
_BY_NAME = {cls.name: cls for cls in _SENSOR_DEGRADATIONS}
_CORRUPTIONS = {('image_fog' if c == 'fog' else c): c for c in corruption_names()}

#: Every short name accepted by :func:`build_degradation`.
DEGRADATIONS: Tuple[str, ...] = tuple(_BY_NAME) + tuple(_CORRUPTIONS)


def degradation_config(name: str, severity: int, seed: int = 0,
                       preset: str = DEFAULT_PRESET, **options: Any) -> Dict[str, Any]:
    """The pipeline config dict of a degradation, e.g.
    ``dict(type='Fog', severity=3, seed=0, preset='default')``."""
    if name in _BY_NAME:
        return dict(type=_BY_NAME[name].__name__, severity=severity, seed=seed, preset=preset,
                    **options)
    if name in _CORRUPTIONS:
        return dict(type='ImageCorruption', corruption=_CORRUPTIONS[name], severity=severity,
                    seed=seed, preset=preset, **options)
    raise KeyError(f'unknown degradation {name!r}; known: {DEGRADATIONS}')


def build_degradation(name: str, severity: int, seed: int = 0, preset: str = DEFAULT_PRESET,
                      **options: Any) -> Degradation:
    """Build the transform for a short name, e.g. ``build_degradation('fog', 3)`` or
    ``build_degradation('fog', 2, preset='multicorrupt')``."""
    return TRANSFORMS.build(degradation_config(name, severity, seed, preset, **options))


__all__ = ['CameraDropout', 'CameraFog', 'DEGRADATIONS', 'Degradation', 'Fog', 'PRESETS',
           'ImageCorruption', 'LidarBeamReduction', 'LidarDropout', 'LidarFog', 'LidarFovLoss',
           'LidarMisalignment', 'LidarPointsReduction',
           'Night', 'RadarDropout', 'RadarFog', 'SpatialMisalignment', 'TemporalMisalignment',
           'build_degradation', 'degradation_config', 'insert_degradations', 'sample_rng']
