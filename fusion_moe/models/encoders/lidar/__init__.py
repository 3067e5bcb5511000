from .pillar_encoder import LidarPillarEncoder
from .sparse_encoder import LidarSparseEncoder

__all__ = ['LidarPillarEncoder', 'LidarSparseEncoder']
