"""``FusionNuScenesDataset``: mmdet3d's NuScenesDataset with radar sweeps and driving context.

Everything about boxes, labels, velocities, splits and evaluation metadata is mmdet3d's
(``mmdet3d/datasets/nuscenes_dataset.py``); this subclass only

- refuses info files not written by :func:`fusion_moe.data.create_infos.create_nuscenes_infos`
  (checked through ``metainfo['fusion_info_version']``), so another box convention is never
  misread;
- takes the nuScenes version ('v1.0-mini', 'v1.0-trainval') from the info file unless the
  config's ``metainfo`` sets one (mmdet3d's class default 'v1.0-trainval' would otherwise win,
  and ``NuScenesMetric`` would look for the wrong table folder on mini-sized sets);
- resolves radar scan paths against ``data_root``;
- seeds each sample's results dict with the fusion keys of ``structures/sensors.py``:
  ``context`` (validated), ``degradations = []`` and ``modality_present`` (all False until a
  loading transform has read that modality);
- outside ``test_mode`` adds ``train_epoch`` (set by the training loop through
  :meth:`FusionNuScenesDataset.set_epoch`), so training-time degradations draw a new stream
  each epoch while test-time ones stay per (seed, sample).
"""
import os.path as osp
from typing import List, Optional

from mmdet3d.datasets import NuScenesDataset

from ..registry import DATASETS
from ..structures import CAMERAS, MODALITIES, validate_context
from .create_infos import FUSION_INFO_VERSION

DEFAULT_DATA_PREFIX = dict(pts='samples/LIDAR_TOP', sweeps='sweeps/LIDAR_TOP',
                           **{cam: f'samples/{cam}' for cam in CAMERAS})
DEFAULT_MODALITY = dict(use_lidar=True, use_camera=True, use_radar=True)


@DATASETS.register_module()
class FusionNuScenesDataset(NuScenesDataset):
    """nuScenes (real or synthetic) for camera + LiDAR + radar detection.

    Args:
        data_root: dataset root (holds ``samples/``, ``sweeps/``, the info pkls).
        ann_file: info pkl, relative to ``data_root``.
        data_prefix: folders of LiDAR keyframes (``pts``), LiDAR sweeps (``sweeps``) and each
            camera, relative to ``data_root``; defaults to the nuScenes layout.
        modality: ``use_lidar``, ``use_camera``, ``use_radar`` flags (all True by default).
        **kwargs: everything else goes to mmdet3d's ``NuScenesDataset`` (pipeline, test_mode,
            box_type_3d, with_velocity, use_valid_flag, filter_empty_gt, metainfo, ...).
    """

    def __init__(self, data_root: str, ann_file: str, data_prefix: Optional[dict] = None,
                 modality: Optional[dict] = None, metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        modality = {**DEFAULT_MODALITY, **(modality or {})}
        unknown = set(modality) - set(DEFAULT_MODALITY)
        if unknown:
            raise ValueError(f'unknown modality keys {sorted(unknown)}; expected '
                             f'{sorted(DEFAULT_MODALITY)}')
        data_prefix = {**DEFAULT_DATA_PREFIX, **(data_prefix or {})}
        self._version_from_config = (metainfo or {}).get('version')
        self.epoch = 0
        super().__init__(data_root=data_root, ann_file=ann_file, data_prefix=data_prefix,
                         modality=modality, metainfo=metainfo, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """The training epoch written to each sample as ``train_epoch`` (not in test mode)."""
        self.epoch = int(epoch)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if not self.test_mode:
            info['train_epoch'] = self.epoch
        return info

    def load_data_list(self) -> List[dict]:
        if self._version_from_config is None:
            self._metainfo.pop('version', None)  # the info file's own version then applies
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f'{self.ann_file}: the info file holds no samples (is this split '
                             f'empty in the dataset, e.g. a 1-scene synthetic set?)')
        return data_list

    def parse_data_info(self, info: dict) -> dict:
        stamp = self.metainfo.get('fusion_info_version')
        if stamp != FUSION_INFO_VERSION:
            raise ValueError(
                f'{self.ann_file}: info file has fusion_info_version {stamp!r}, expected '
                f'{FUSION_INFO_VERSION!r}; regenerate it with tools/create_data.py (plain mmdet3d '
                f'info files lack radar sweeps and context)')
        for key in ('context', 'radar_sweeps', 'lidar_sweeps'):
            if key not in info:
                raise KeyError(f'{self.ann_file}: sample {info.get("token")} lacks {key!r}')
        info = super().parse_data_info(info)
        validate_context(info['context'])
        info['context'] = dict(info['context'])
        if self.modality['use_radar']:
            for sweeps in info['radar_sweeps'].values():
                for sweep in sweeps:
                    sweep['data_path'] = osp.join(self.data_root, sweep['data_path'])
        info['degradations'] = []
        info['modality_present'] = {m: False for m in MODALITIES}
        return info
