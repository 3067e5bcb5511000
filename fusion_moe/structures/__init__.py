from .bev_grid import BEVGrid
from .context import (FACTORS, LIGHTING, SOURCES, WEATHER, context_from_description,
                      context_to_ids, make_context, validate_context)

__all__ = ['BEVGrid', 'FACTORS', 'LIGHTING', 'SOURCES', 'WEATHER', 'context_from_description',
           'context_to_ids', 'make_context', 'validate_context']
from .sensors import (CAMERAS, CLASSES, LIDAR, LIDAR_POINT_DIMS, MODALITIES, RADAR_POINT_DIMS,
                      RADARS)

__all__ += ['CAMERAS', 'CLASSES', 'LIDAR', 'LIDAR_POINT_DIMS', 'MODALITIES', 'RADAR_POINT_DIMS',
            'RADARS']
