from .pillar_encoder import LidarPillarEncoder

__all__ = ['LidarPillarEncoder']
