from .sampling import SamplingViewTransform, bev_points_lidar, sample_cameras_to_bev

__all__ = ['SamplingViewTransform', 'bev_points_lidar', 'sample_cameras_to_bev']
