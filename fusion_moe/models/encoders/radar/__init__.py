from .point_encoder import VELOCITY_CHANNELS, RadarPointEncoder

__all__ = ['RadarPointEncoder', 'VELOCITY_CHANNELS']
