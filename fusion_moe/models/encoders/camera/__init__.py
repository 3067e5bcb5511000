from .camera_encoder import CameraSamplingEncoder
from .view_transform import SamplingViewTransform

__all__ = ['CameraSamplingEncoder', 'SamplingViewTransform']
