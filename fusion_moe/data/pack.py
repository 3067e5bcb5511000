"""PackFusionInputs: the last transform of every pipeline; results dict -> model inputs.

Extends mmdet3d's ``Pack3DDetInputs`` (which already packs ``points``, ``img``, the 3D boxes and
the metainfo) with the radar point cloud, the fusion metainfo keys (context, modality presence,
degradations) and checks that every packed tensor has the shape ``structures/sensors.py``
promises. Packed layout::

    inputs = {'points': (N, 6) float32, 'img': (6, 3, H, W) uint8, 'radar_points': (M, 8) float32}
    data_samples.metainfo: lidar2img, cam2img, lidar2cam, img_shape, context, modality_present,
        degradations, sample_idx, token, box_type_3d, ...
    data_samples.gt_instances_3d: bboxes_3d (LiDARInstance3DBoxes, box_dim 9), labels_3d (G,)
"""
import logging
from typing import Sequence

import numpy as np
import torch
from mmdet3d.datasets.transforms import Pack3DDetInputs
from mmengine.logging import print_log

from fusion_moe.registry import TRANSFORMS
from fusion_moe.structures import CAMERAS, LIDAR_POINT_DIMS, MODALITIES, RADAR_POINT_DIMS

from .errors import record_sensor_fault

FUSION_META_KEYS = (
    'img_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'lidar2img', 'cam2img',
    'lidar2cam', 'ori_cam2img', 'ori_lidar2img', 'box_mode_3d', 'box_type_3d', 'sample_idx',
    'token', 'lidar_path', 'num_pts_feats', 'pcd_trans', 'pcd_scale_factor', 'pcd_rotation',
    'pcd_rotation_angle', 'pcd_horizontal_flip', 'pcd_vertical_flip', 'flip',
    'transformation_3d_flow', 'ego2global', 'lidar2ego', 'timestamp', 'num_views',
    'context', 'modality_present', 'degradations', 'scene_token', 'cameras_present',
    'lidar_aug_matrix', 'img_aug_matrix', 'sensor_faults')

FUSION_KEYS = ('points', 'img', 'radar_points', 'gt_bboxes_3d', 'gt_labels_3d')


@TRANSFORMS.register_module()
class PackFusionInputs(Pack3DDetInputs):
    """Pack camera, LiDAR and radar inputs plus fusion metadata (see module docstring).

    Args:
        keys: results keys to pack; inputs among them go to ``inputs``, gt keys to
            ``gt_instances_3d``.
        meta_keys: results keys copied into the data sample's metainfo when present.

    Missing inputs are packed as correctly shaped empty tensors (points (0, 6), radar (0, 8))
    and marked absent in ``modality_present``; so is a sensor left without data (no points
    after filtering / degradation, all camera images black), recorded in ``sensor_faults``
    and logged. Non-finite points are dropped with a logged warning naming the sample; a
    wrongly shaped array is a ValueError naming the key.
    """
    INPUTS_KEYS = ['points', 'img', 'radar_points']

    def __init__(self, keys: Sequence[str] = FUSION_KEYS,
                 meta_keys: Sequence[str] = FUSION_META_KEYS) -> None:
        super().__init__(keys=tuple(keys), meta_keys=tuple(meta_keys))

    def _point_tensor(self, results: dict, key: str, dims: Sequence[str]) -> torch.Tensor:
        value = results.get(key)
        if value is None:
            return torch.zeros(0, len(dims), dtype=torch.float32)
        value = value.tensor if hasattr(value, 'tensor') else value
        tensor = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value,
                                 dtype=torch.float32)
        if tensor.dim() != 2 or tensor.shape[1] != len(dims):
            raise ValueError(f'results[{key!r}] must be (N, {len(dims)}) with dims {tuple(dims)}, '
                             f'got {tuple(tensor.shape)} (sample {results.get("sample_idx")})')
        finite = torch.isfinite(tensor).all(dim=1)
        if not bool(finite.all()):
            print_log(f'PackFusionInputs: dropped {int((~finite).sum())} non-finite rows of '
                      f'{key!r} in sample {results.get("sample_idx")}', level=30)
            tensor = tensor[finite]
        return tensor

    def pack_single_results(self, results: dict) -> dict:
        present = dict(results.get('modality_present') or {m: True for m in MODALITIES})
        unknown = [m for m in present if m not in MODALITIES]
        if unknown:
            raise ValueError(f'results["modality_present"] has unknown modalities {unknown}')
        if 'points' in self.keys:
            if results.get('points') is None:
                present['lidar'] = False
            results['points'] = self._point_tensor(results, 'points', LIDAR_POINT_DIMS)
        if 'radar_points' in self.keys:
            if results.get('radar_points') is None:
                present['radar'] = False
            results['radar_points'] = self._point_tensor(results, 'radar_points',
                                                         RADAR_POINT_DIMS)
        if 'img' in self.keys and 'img' in results:
            imgs = results['img']
            if isinstance(imgs, list) and len(imgs) != len(CAMERAS):
                raise ValueError(f'results["img"] holds {len(imgs)} images, expected '
                                 f'{len(CAMERAS)} in CAMERAS order {CAMERAS}')
            if isinstance(imgs, list) and len({np.shape(i) for i in imgs}) != 1:
                raise ValueError(f'results["img"] images differ in shape: '
                                 f'{sorted({np.shape(i) for i in imgs})}')
            lidar2img = results.get('lidar2img')
            if lidar2img is None or len(lidar2img) != len(imgs):
                raise ValueError('results["lidar2img"] must hold one 4x4 matrix per image')
        self._mark_sensors_without_data(results, present)
        results['modality_present'] = present
        packed = super().pack_single_results(results)
        packed['data_samples'].set_metainfo({'modality_present': present,
                                             'sensor_faults': results['sensor_faults']})
        return packed

    @staticmethod
    def _mark_sensors_without_data(results: dict, present: dict) -> None:
        """A sensor still marked present that holds no data (every point filtered or degraded
        away, every camera image black) is marked absent, recorded and logged. Views that a
        degradation blackened on purpose and listed (``params['dropped_cameras']``, e.g.
        ``CameraDropout`` with black frames the model is not told about) keep the presence
        the degradation chose."""
        results.setdefault('sensor_faults', [])
        records = results.get('degradations', [])
        applied = [d.get('name') for d in records]
        blanked = {cam for d in records for cam in (d.get('params') or {}).get(
            'dropped_cameras', [])}
        cause = f'after degradations {applied}' if applied else 'after the pipeline'
        empty = []
        for key, modality, path_key in (('points', 'lidar', 'lidar_path'),
                                        ('radar_points', 'radar', None)):
            if present.get(modality) and key in results and len(results[key]) == 0:
                empty.append((modality, results.get(path_key, '') if path_key else '',
                              f'no {modality} points left {cause}'))
        imgs = results.get('img')
        if present.get('camera') and isinstance(imgs, list) and imgs and \
                len(blanked) < len(imgs) and not any(np.any(img) for img in imgs):
            paths = results.get('img_path') or ['']
            empty.append(('camera', paths[0], f'all {len(imgs)} camera images are black {cause}'))
        for modality, path, problem in empty:
            present[modality] = False
            record_sensor_fault(results, modality, path, problem)
            print_log(f'sample {results.get("sample_idx")}: {modality} marked absent: {problem}',
                      logger='current', level=logging.WARNING)
