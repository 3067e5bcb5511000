"""FusionDetector: modality encoders -> fuser -> BEV backbone/neck -> CenterHead. Composition only.

Data flow, shapes (B batch, H x W the shared BEV grid, h x w = H/f x W/f the heatmap)::

    inputs {points, imgs, radar_points} + metas (lidar2img, modality_present)
      -> encoders[m]            {m: (map (B, C_m, H, W), present (B,))}
      -> fuser                  (B, C, H, W)
      -> backbone, neck         [(B, C', h, w)]
      -> bbox_head (CenterHead) losses | boxes (LiDARInstance3DBoxes, LiDAR frame, box_dim 9)

One trained model runs with any subset of sensors: an absent modality gives a zero map and a
False presence flag, which the fuser sees.
"""
import copy
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmdet3d.models.detectors import Base3DDetector
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures import CLASSES, MODALITIES, BEVGrid

from .heads import check_center_head_grid

_GRID_KEYS = ('point_cloud_range', 'cell_m')


@MODELS.register_module()
class FusionDetector(Base3DDetector):
    """Dense multi-sensor BEV detector.

    Args:
        bev_grid: ``dict(point_cloud_range=(x_min, y_min, z_min, x_max, y_max, z_max),
            cell_m=...)`` in metres, LiDAR frame; injected into every encoder.
        encoders: ``{modality: encoder config}`` with modality in ``MODALITIES``; an encoder
            config must not set its own grid (or must repeat the detector's exactly).
        fuser: fuser config; ``in_channels`` is filled from the encoders if not given.
        backbone: BEV backbone config (e.g. mmdet3d ``SECOND``).
        neck: BEV neck config (e.g. mmdet3d ``SECONDFPN``) or None.
        bbox_head: mmdet3d ``CenterHead`` config with its ``train_cfg`` and ``test_cfg``,
            which must describe ``bev_grid`` (checked, see ``check_center_head_grid``).
        data_preprocessor: defaults to ``FusionDataPreprocessor``.
    """

    def __init__(self,
                 bev_grid: dict,
                 encoders: Dict[str, dict],
                 fuser: dict,
                 backbone: dict,
                 bbox_head: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='FusionDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            # built here from mmdet3d's registry: BaseModel would look in mmengine's
            data_preprocessor = MODELS.build(copy.deepcopy(data_preprocessor))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = [k for k in bev_grid if k not in _GRID_KEYS]
        if unknown:
            raise KeyError(f'bev_grid has unknown keys {unknown}; expected {_GRID_KEYS}')
        self.grid = BEVGrid.from_config(bev_grid['point_cloud_range'], bev_grid['cell_m'])
        if not encoders:
            raise ValueError('encoders is empty; give at least one of ' + str(MODALITIES))
        self.encoders = nn.ModuleDict()
        for modality, enc_cfg in encoders.items():
            if modality not in MODALITIES:
                raise KeyError(f'encoders.{modality}: unknown modality; expected one of '
                               f'{MODALITIES}')
            self.encoders[modality] = MODELS.build(self._with_grid(enc_cfg, f'encoders.{modality}'))
        fuser = copy.deepcopy(dict(fuser))
        in_channels = {m: enc.out_channels for m, enc in self.encoders.items()}
        if 'in_channels' not in fuser:
            fuser['in_channels'] = in_channels
        elif dict(fuser['in_channels']) != in_channels:
            raise ValueError(f'fuser.in_channels = {dict(fuser["in_channels"])} does not match '
                             f'the encoders\' out_channels {in_channels}')
        self.fuser = MODELS.build(fuser)
        self.backbone = MODELS.build(copy.deepcopy(backbone))
        self.neck = MODELS.build(copy.deepcopy(neck)) if neck is not None else None
        self.out_size_factor = check_center_head_grid(bbox_head, self.grid)
        task_classes = [c for task in bbox_head['tasks'] for c in task['class_names']]
        if tuple(task_classes) != CLASSES:
            raise ValueError(f'bbox_head.tasks list the classes as {task_classes}; CenterHead '
                             f'labels are positions in that list, so it must equal CLASSES '
                             f'{CLASSES} in order')
        self.bbox_head = MODELS.build(copy.deepcopy(bbox_head))

    def _with_grid(self, enc_cfg: dict, key: str) -> dict:
        cfg = copy.deepcopy(dict(enc_cfg))
        given = {'point_cloud_range': self.grid.point_cloud_range, 'cell_m': self.grid.cell_m}
        for name, value in given.items():
            if name in cfg:
                mine = np.atleast_1d(np.asarray(cfg[name], dtype=float))
                if mine.shape != np.atleast_1d(value).shape or not np.allclose(mine, value):
                    raise ValueError(f'{key}.{name} = {cfg[name]} does not match '
                                     f'bev_grid.{name} = {value}; leave it out of the encoder')
            cfg[name] = value
        return cfg

    # ----------------------------------------------------------------- features
    @staticmethod
    def _presence(metas: List[dict], modality: str, device: torch.device) -> Tensor:
        """(B,) bool from each sample's ``modality_present`` (True when not recorded)."""
        flags = [bool(m.get('modality_present', {}).get(modality, True)) for m in metas]
        return torch.tensor(flags, dtype=torch.bool, device=device)

    def encode(self, inputs: dict, metas: List[dict]) -> Dict[str, Tuple[Tensor, Tensor]]:
        """Run every encoder: ``{modality: (map (B, C_m, H, W), present (B,))}``."""
        device = next(self.parameters()).device
        batch_size = len(metas)
        features = {}
        for modality, encoder in self.encoders.items():
            present = self._presence(metas, modality, device)
            if modality == 'lidar':
                points = inputs.get('points') or [torch.zeros(0, 6, device=device)] * batch_size
                features[modality] = encoder(points, present)
            elif modality == 'radar':
                radar = (inputs.get('radar_points')
                         or [torch.zeros(0, 8, device=device)] * batch_size)
                features[modality] = encoder(radar, present)
            elif modality == 'camera':
                if 'imgs' not in inputs:
                    raise KeyError('the camera encoder needs inputs["img"]; the pipeline packed '
                                   'none (absent cameras must be packed as zero images)')
                lidar2img = torch.stack([
                    torch.as_tensor(np.asarray(m['lidar2img']), dtype=torch.float32)
                    for m in metas]).to(device)
                views = [m.get('cameras_present') for m in metas]
                view_present = None if any(v is None for v in views) else torch.tensor(
                    [[bool(x) for x in v] for v in views], dtype=torch.bool, device=device)
                features[modality] = encoder(inputs['imgs'], lidar2img, present, view_present)
        return features

    def extract_feat(self, batch_inputs_dict: dict, batch_input_metas: List[dict]) -> List[Tensor]:
        """Fused BEV features after backbone and neck: [(B, C', H/f, W/f)]."""
        fused = self.fuser(self.encode(batch_inputs_dict, batch_input_metas))
        x = self.backbone(fused)
        x = self.neck(x) if self.neck is not None else x
        x = list(x) if isinstance(x, (list, tuple)) else [x]
        expected = (self.grid.H // self.out_size_factor, self.grid.W // self.out_size_factor)
        if tuple(x[0].shape[-2:]) != expected:
            raise ValueError(
                f'the backbone/neck output is {tuple(x[0].shape[-2:])} but bbox_head.train_cfg.'
                f'out_size_factor = {self.out_size_factor} expects {expected}; fix the '
                f'backbone strides / neck upsample_strides or out_size_factor')
        return x

    # ----------------------------------------------------------------- modes
    def loss(self, batch_inputs_dict: dict, batch_data_samples: list) -> Dict[str, Tensor]:
        metas = [s.metainfo for s in batch_data_samples]
        feats = self.extract_feat(batch_inputs_dict, metas)
        return self.bbox_head.loss(feats, batch_data_samples)

    def predict(self, batch_inputs_dict: dict, batch_data_samples: list) -> list:
        """Adds ``pred_instances_3d`` (bboxes_3d LiDARInstance3DBoxes, LiDAR frame, box_dim 9
        with z at the box bottom; scores_3d (K,); labels_3d (K,)) to each data sample."""
        metas = [s.metainfo for s in batch_data_samples]
        feats = self.extract_feat(batch_inputs_dict, metas)
        results = self.bbox_head.predict(feats, batch_data_samples)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self, batch_inputs_dict: dict, batch_data_samples: Optional[list] = None):
        metas = [s.metainfo for s in batch_data_samples]
        return self.bbox_head(self.extract_feat(batch_inputs_dict, metas))
