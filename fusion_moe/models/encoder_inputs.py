"""What each modality encoder is called with: the only place that knows the input key per sensor.

``encoder_args(modality, inputs, metas, device)`` returns the positional arguments before the
presence flag, so the detector calls ``encoder(*args, present)`` for any modality without
branching on names. Inputs are the data preprocessor's (``FusionDataPreprocessor``):
``points`` B x (N_b, 6) LiDAR frame metres, ``radar_points`` B x (M_b, 8) LiDAR frame,
``imgs`` (B, N, 3, Hi, Wi) normalised; metas carry ``lidar2img`` (N, 4, 4) LiDAR metres ->
pixels of ``imgs`` and optional ``cameras_present`` (N,).
"""
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from torch import Tensor

from fusion_moe.structures import LIDAR_POINT_DIMS, RADAR_POINT_DIMS


def point_clouds(inputs: dict, key: str, dims: int, batch_size: int,
                 device: torch.device) -> List[Tensor]:
    """B point clouds from ``inputs[key]``, or B empty (0, dims) clouds when none was packed."""
    clouds = inputs.get(key)
    return list(clouds) if clouds else [torch.zeros(0, dims, device=device)] * batch_size


def camera_views(inputs: dict, metas: List[dict], device: torch.device
                 ) -> Tuple[Tensor, Tensor, Tensor]:
    """``(imgs (B, N, 3, Hi, Wi), lidar2img (B, N, 4, 4) float32, view_present (B, N) or None)``."""
    if 'imgs' not in inputs:
        raise KeyError('the camera encoder needs inputs["img"]; the pipeline packed none '
                       '(absent cameras must be packed as zero images)')
    lidar2img = torch.stack([torch.as_tensor(np.asarray(m['lidar2img']), dtype=torch.float32)
                             for m in metas]).to(device)
    views = [m.get('cameras_present') for m in metas]
    view_present = None if any(v is None for v in views) else torch.tensor(
        [[bool(x) for x in v] for v in views], dtype=torch.bool, device=device)
    return inputs['imgs'], lidar2img, view_present


def _lidar(inputs, metas, device):
    return (point_clouds(inputs, 'points', len(LIDAR_POINT_DIMS), len(metas), device), ), {}


def _radar(inputs, metas, device):
    return (point_clouds(inputs, 'radar_points', len(RADAR_POINT_DIMS), len(metas), device),
            ), {}


def _camera(inputs, metas, device):
    imgs, lidar2img, view_present = camera_views(inputs, metas, device)
    return (imgs, lidar2img), {'view_present': view_present}


_ARGS: Dict[str, Callable] = {'lidar': _lidar, 'radar': _radar, 'camera': _camera}


def encoder_args(modality: str, inputs: dict, metas: List[dict],
                 device: torch.device) -> Tuple[tuple, dict]:
    """``(args, kwargs)`` so that ``encoder(*args, present, **kwargs)`` encodes ``modality``."""
    if modality not in _ARGS:
        raise KeyError(f'no encoder inputs known for modality {modality!r}; known: {tuple(_ARGS)}')
    return _ARGS[modality](inputs, metas, device)


def presence(metas: List[dict], modality: str, device: torch.device) -> Tensor:
    """(B,) bool from each sample's ``modality_present`` (True when not recorded)."""
    flags = [bool(m.get('modality_present', {}).get(modality, True)) for m in metas]
    return torch.tensor(flags, dtype=torch.bool, device=device)
