"""nuScenes data for fusion_moe: info files, readers, loading transforms, the dataset class.

Importing this package registers ``FusionNuScenesDataset`` (DATASETS) and the loading
transforms ``LoadLidarSweeps``, ``LoadCameraImages``, ``LoadRadarSweeps``, the augmentation
transforms ``BEVRandomFlip3D``, ``PropagateLidarAugmentation``, ``MultiViewImageAug`` and
``FusionObjectSample`` (GT sampling, with ``FusionDataBaseSampler``) and the packing transform
``PackFusionInputs`` (TRANSFORMS).
"""
from . import synthetic  # noqa: F401
from .bev_flip import BEVRandomFlip3D
from .create_infos import FUSION_INFO_VERSION, create_nuscenes_infos
from .dataset import FusionNuScenesDataset
from .errors import SensorFileError
from .gt_database import create_gt_database
from .image_aug import MultiViewImageAug
from .image_file import read_image
from .lidar_file import read_lidar_bin
from .load_cameras import LoadCameraImages
from .load_lidar import LoadLidarSweeps
from .load_radar import LoadRadarSweeps
from .object_sample import FusionDataBaseSampler, FusionObjectSample
from .pack import PackFusionInputs
from .propagate_augmentation import PropagateLidarAugmentation, lidar_augmentation_matrix
from .radar_file import RADAR_PCD_FIELDS, RadarFilter, read_radar_pcd

__all__ = ['BEVRandomFlip3D', 'FUSION_INFO_VERSION', 'FusionDataBaseSampler',
           'FusionNuScenesDataset', 'FusionObjectSample', 'LoadCameraImages', 'LoadLidarSweeps',
           'LoadRadarSweeps', 'MultiViewImageAug', 'PackFusionInputs',
           'PropagateLidarAugmentation', 'RADAR_PCD_FIELDS', 'RadarFilter', 'SensorFileError',
           'create_gt_database', 'create_nuscenes_infos', 'lidar_augmentation_matrix',
           'read_image', 'read_lidar_bin', 'read_radar_pcd']
