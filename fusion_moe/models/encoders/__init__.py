from . import camera, lidar, radar  # noqa: F401  (registration)
from .camera import CameraSamplingEncoder
from .lidar import LidarPillarEncoder, LidarSparseEncoder
from .radar import RadarPointEncoder

__all__ = ['CameraSamplingEncoder', 'LidarPillarEncoder', 'LidarSparseEncoder',
           'RadarPointEncoder']
