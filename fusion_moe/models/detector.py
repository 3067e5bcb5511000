"""FusionDetector: modality encoders -> fusion placement -> BEV trunk -> head(s). Composition only.

Data flow, shapes (B batch, H x W the shared BEV grid, h x w = H/f x W/f the heatmap)::

    inputs {points, imgs, radar_points} + metas (lidar2img, modality_present, context, ...)
      -> encoders[m]            {m: (map (B, C_m, H, W), present (B,))}   (none for early)
      -> fusion (placement)     streams {s: (B, C, H, W)} + aux losses + routing records
      -> backbone, neck         per stream [(B, C', h, w)] (one trunk, streams batched)
      -> one CenterHead per stream; several streams (late) are fused by the placement's
         ``fuse_decisions`` before decoding
      -> losses | boxes (LiDARInstance3DBoxes, LiDAR frame, box_dim 9)

Where fusion sits relative to the MoE layers is the placement's business (``model.fusion``,
``fusion_moe/models/fusion/``); ``model.fuser=cfg`` (the dense detector configs) is the
placement ``FuserOnly(fuser=cfg)``. One trained model runs with any subset of sensors: an absent
modality gives a zero map and a False presence flag.

Checkpoints of the fuser-era detector load: ``fuser.*`` keys are read as ``fusion.fuser.*``.
"""
import copy
import inspect
from typing import Dict, List, Optional

import numpy as np
import torch
from mmdet3d.models.detectors import Base3DDetector
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures import CLASSES, MODALITIES, BEVGrid

from .encoder_inputs import encoder_args, presence
from .fusion.placement_base import PlacementOutput, merge_losses
from .heads import check_center_head_grid

_GRID_KEYS = ('point_cloud_range', 'cell_m')
_HEAD_OUTPUTS = ('heatmap', )  # plus CenterHead common_heads


@MODELS.register_module()
class FusionDetector(Base3DDetector):
    """Multi-sensor BEV detector with a configurable fusion placement.

    Args:
        bev_grid: ``dict(point_cloud_range=(x_min, y_min, z_min, x_max, y_max, z_max),
            cell_m=...)`` in metres, LiDAR frame; injected into every encoder (and into the
            placement when it takes a grid, as ``EarlyFusion`` does).
        encoders: ``{modality: encoder config}`` with modality in ``MODALITIES``; an encoder
            config must not set its own grid (or must repeat the detector's exactly). Empty
            (or None) for a placement that encodes raw inputs (``needs_encoders = False``).
        fusion: placement config (``EarlyFusion``, ``MidBeforeFusion``, ``MidAfterFusion``,
            ``LateFusion``, ``FuserOnly``); ``in_channels`` is filled from the encoders.
        fuser: shorthand for ``fusion=dict(type='FuserOnly', fuser=fuser)``; give one of the two.
        backbone: BEV backbone config (e.g. mmdet3d ``SECOND``).
        neck: BEV neck config (e.g. mmdet3d ``SECONDFPN``) or None.
        bbox_head: mmdet3d ``CenterHead`` config with its ``train_cfg`` and ``test_cfg``,
            which must describe ``bev_grid`` (checked, see ``check_center_head_grid``); one
            copy per placement stream.
        data_preprocessor: defaults to ``FusionDataPreprocessor``.
    """

    def __init__(self,
                 bev_grid: dict,
                 backbone: dict,
                 bbox_head: dict,
                 encoders: Optional[Dict[str, dict]] = None,
                 fusion: Optional[dict] = None,
                 fuser: Optional[dict] = None,
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
        self.encoders = nn.ModuleDict()
        for modality, enc_cfg in (encoders or {}).items():
            if modality not in MODALITIES:
                raise KeyError(f'encoders.{modality}: unknown modality; expected one of '
                               f'{MODALITIES}')
            self.encoders[modality] = MODELS.build(self._with_grid(enc_cfg, f'encoders.{modality}'))
        self.fusion = MODELS.build(self._fusion_config(fusion, fuser))
        if self.fusion.needs_encoders and not self.encoders:
            raise ValueError(f'model.fusion.type={type(self.fusion).__name__} fuses encoder '
                             f'maps; encoders is empty (give at least one of {MODALITIES})')
        self.backbone = MODELS.build(copy.deepcopy(backbone))
        self.neck = MODELS.build(copy.deepcopy(neck)) if neck is not None else None
        self.out_size_factor = check_center_head_grid(bbox_head, self.grid)
        task_classes = [c for task in bbox_head['tasks'] for c in task['class_names']]
        if tuple(task_classes) != CLASSES:
            raise ValueError(f'bbox_head.tasks list the classes as {task_classes}; CenterHead '
                             f'labels are positions in that list, so it must equal CLASSES '
                             f'{CLASSES} in order')
        self.streams = tuple(self.fusion.stream_names)
        if self.streams == ('fused', ):
            self.bbox_head = MODELS.build(copy.deepcopy(bbox_head))
        else:
            self.bbox_heads = nn.ModuleDict(
                {s: MODELS.build(copy.deepcopy(bbox_head)) for s in self.streams})
            keys = _HEAD_OUTPUTS + tuple(bbox_head['common_heads'])
            self.fusion.build_decision_fusion(len(bbox_head['tasks']), keys)
        self._register_load_state_dict_pre_hook(self._legacy_keys)

    # ----------------------------------------------------------------- building
    def _with_grid(self, cfg: dict, key: str) -> dict:
        cfg = copy.deepcopy(dict(cfg))
        given = {'point_cloud_range': self.grid.point_cloud_range, 'cell_m': self.grid.cell_m}
        for name, value in given.items():
            if name in cfg:
                mine = np.atleast_1d(np.asarray(cfg[name], dtype=float))
                if mine.shape != np.atleast_1d(value).shape or not np.allclose(mine, value):
                    raise ValueError(f'{key}.{name} = {cfg[name]} does not match '
                                     f'bev_grid.{name} = {value}; leave it out of {key}')
            cfg[name] = value
        return cfg

    def _fusion_config(self, fusion: Optional[dict], fuser: Optional[dict]) -> dict:
        if (fusion is None) == (fuser is None):
            raise ValueError('give exactly one of model.fusion (a placement) and model.fuser '
                             f'(the dense fuser alone); got fusion={fusion}, fuser={fuser}')
        cfg = copy.deepcopy(dict(fusion) if fusion is not None
                            else dict(type='FuserOnly', fuser=dict(fuser)))
        in_channels = {m: enc.out_channels for m, enc in self.encoders.items()}
        given = [('fusion', cfg)] + ([('fuser', cfg['fuser'])] if cfg['type'] == 'FuserOnly'
                                     else [])
        for key, holder in given:
            if 'in_channels' in holder and dict(holder.pop('in_channels')) != in_channels:
                raise ValueError(f'{key}.in_channels does not match the encoders\' '
                                 f'out_channels {in_channels}; leave it out')
        cfg['in_channels'] = in_channels
        params = inspect.signature(MODELS.get(cfg['type']).__init__).parameters
        if 'point_cloud_range' in params:
            cfg = self._with_grid(cfg, 'fusion')
        return cfg

    @staticmethod
    def upgrade_state_dict(state_dict: dict, prefix: str = '') -> dict:
        """Fuser-era checkpoints: ``fuser.*`` -> ``fusion.fuser.*`` (in place; also used by
        ``fusion_moe.engine.load_model_weights`` before it checks the keys)."""
        for key in [k for k in state_dict if k.startswith(prefix + 'fuser.')]:
            state_dict[prefix + 'fusion.' + key[len(prefix):]] = state_dict.pop(key)
        return state_dict

    def _legacy_keys(self, state_dict, prefix, *args) -> None:
        self.upgrade_state_dict(state_dict, prefix)

    def train(self, mode: bool = True) -> 'FusionDetector':
        """``nn.Module.train``, but a BatchNorm whose parameters are all frozen (staged MoE
        training freezes the trunk) stays in eval mode: its running statistics are frozen too."""
        super().train(mode)
        if mode:
            for module in self.modules():
                params = list(module.parameters(recurse=False))
                if (isinstance(module, nn.modules.batchnorm._BatchNorm) and params
                        and not any(p.requires_grad for p in params)):
                    module.eval()
        return self

    # ----------------------------------------------------------------- features
    @staticmethod
    def _presence(metas: List[dict], modality: str, device: torch.device) -> Tensor:
        """(B,) bool from each sample's ``modality_present`` (True when not recorded)."""
        return presence(metas, modality, device)

    def encode(self, inputs: dict, metas: List[dict]) -> dict:
        """Run every encoder: ``{modality: (map (B, C_m, H, W), present (B,))}``."""
        device = next(self.parameters()).device
        features = {}
        for modality, encoder in self.encoders.items():
            args, kwargs = encoder_args(modality, inputs, metas, device)
            features[modality] = encoder(*args, self._presence(metas, modality, device),
                                         **kwargs)
        return features

    def place(self, inputs: dict, metas: List[dict]) -> PlacementOutput:
        """Encoders and placement; the routing records stay on ``self.last_routing_records``."""
        out = self.fusion(self.encode(inputs, metas), inputs, metas)
        self.last_routing_records = out.records
        return out

    def trunk(self, streams: Dict[str, Tensor]) -> Dict[str, List[Tensor]]:
        """Backbone and neck on every stream (batched): ``{s: [(B, C', H/f, W/f)]}``."""
        names = list(streams)
        b = streams[names[0]].shape[0]
        x = self.backbone(torch.cat([streams[s] for s in names]))
        x = self.neck(x) if self.neck is not None else x
        x = list(x) if isinstance(x, (list, tuple)) else [x]
        expected = (self.grid.H // self.out_size_factor, self.grid.W // self.out_size_factor)
        if tuple(x[0].shape[-2:]) != expected:
            raise ValueError(
                f'the backbone/neck output is {tuple(x[0].shape[-2:])} but bbox_head.train_cfg.'
                f'out_size_factor = {self.out_size_factor} expects {expected}; fix the '
                f'backbone strides / neck upsample_strides or out_size_factor')
        return {s: [level[i * b:(i + 1) * b] for level in x] for i, s in enumerate(names)}

    def extract_feat(self, batch_inputs_dict: dict, batch_input_metas: List[dict]) -> List[Tensor]:
        """BEV features after the trunk: [(B, C', H/f, W/f)] of the single (fused) stream."""
        feats = self.trunk(self.place(batch_inputs_dict, batch_input_metas).streams)
        if len(feats) != 1:
            raise ValueError(f'extract_feat gives one stream; this placement has {list(feats)}')
        return next(iter(feats.values()))

    def head_outputs(self, batch_inputs_dict: dict, metas: List[dict]):
        """``(CenterHead.forward-like outputs, {stream: outputs}, placement output)``."""
        placed = self.place(batch_inputs_dict, metas)
        feats = self.trunk(placed.streams)
        if self.streams == ('fused', ):
            outs = self.bbox_head(feats['fused'])
            return outs, {'fused': outs}, placed
        per_stream = {s: self.bbox_heads[s](feats[s]) for s in self.streams}
        return self.fusion.fuse_decisions(per_stream, placed.present), per_stream, placed

    @property
    def decoder(self) -> nn.Module:
        """The CenterHead whose ``loss_by_feat`` / ``predict_by_feat`` score the final outputs
        (all copies share their config; the first stream's is used)."""
        return self.bbox_head if self.streams == ('fused', ) else self.bbox_heads[self.streams[0]]

    # ----------------------------------------------------------------- modes
    def loss(self, batch_inputs_dict: dict, batch_data_samples: list) -> Dict[str, Tensor]:
        """Head losses + the placement's auxiliary losses (``loss_<layer>_<name>``)."""
        metas = [s.metainfo for s in batch_data_samples]
        outs, per_stream, placed = self.head_outputs(batch_inputs_dict, metas)
        gts = [s.gt_instances_3d for s in batch_data_samples]
        losses = dict(self.decoder.loss_by_feat(outs, gts))
        weight = float(getattr(self.fusion, 'stream_loss_weight', 0.0))
        if len(per_stream) > 1 and weight > 0:
            for s, stream_outs in per_stream.items():
                merge_losses(losses, {f'{k}_{s}': weight * v for k, v in
                                      self.bbox_heads[s].loss_by_feat(stream_outs, gts).items()},
                             'stream losses')
        merge_losses(losses, placed.aux_losses, 'fusion')
        return losses

    def predict(self, batch_inputs_dict: dict, batch_data_samples: list) -> list:
        """Adds ``pred_instances_3d`` (bboxes_3d LiDARInstance3DBoxes, LiDAR frame, box_dim 9
        with z at the box bottom; scores_3d (K,); labels_3d (K,)) to each data sample."""
        metas = [s.metainfo for s in batch_data_samples]
        outs, _, _ = self.head_outputs(batch_inputs_dict, metas)
        results = self.decoder.predict_by_feat(outs, metas)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self, batch_inputs_dict: dict, batch_data_samples: Optional[list] = None):
        metas = [s.metainfo for s in batch_data_samples]
        return self.head_outputs(batch_inputs_dict, metas)[0]
