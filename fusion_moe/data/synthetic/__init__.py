"""Synthetic nuScenes generator: scenes in the exact nuScenes format (tables, samples, sweeps,
maps) that the official devkit loads and evaluates unmodified. See ``generator.py``.

CLI: ``python tools/create_synthetic.py --out data/synth --scenes N --samples-per-scene M
--seed S``.
"""
from .generator import generate_dataset, generate_keyframe_timing
from .naming import scene_identities, version_for
from .set_version import GENERATOR_VERSION, stale_reason

__all__ = ['GENERATOR_VERSION', 'generate_dataset', 'generate_keyframe_timing', 'scene_identities',
           'stale_reason', 'version_for']
