"""The road surface: asphalt lanes with markings, kerbside sidewalks (road frame, metres).

One lookup shared by the LiDAR (reflectivity of ground returns) and the cameras (ground colour),
so both sensors see the same markings. Markings: a solid centre line at y = 0, dashed lane lines
(3 m painted, 6 m gap) at y = +-3.5 and solid edge lines at y = +-(ROAD_HALF_WIDTH - 0.3); 15 cm
wide. Sidewalks from |y| = 7 m outwards.
"""
import numpy as np

from .scene_layout import ROAD_HALF_WIDTH_M

ASPHALT, MARKING, SIDEWALK = 0, 1, 2
SURFACES = ('asphalt', 'marking', 'sidewalk')
LINE_HALF_WIDTH_M = 0.075
DASH_ON_M, DASH_PERIOD_M = 3.0, 9.0
_SOLID_LINES = (0.0, ROAD_HALF_WIDTH_M - 0.3, -(ROAD_HALF_WIDTH_M - 0.3))
_DASHED_LINES = (3.5, -3.5)

# LiDAR reflectivity per surface (dry, wet) and camera BGR colour per surface (dry, wet)
# (markings are retroreflective paint; the LiDAR's intensity gain is in lidar.py)
SURFACE_REFLECTIVITY = {'dry': np.array([0.2, 0.9, 0.3], dtype=np.float32),
                        'wet': np.array([0.08, 0.5, 0.15], dtype=np.float32)}
SURFACE_COLOUR_BGR = {'dry': np.array([[88, 86, 84], [225, 225, 225], [150, 155, 160]],
                                      dtype=np.float32),
                      'wet': np.array([[52, 50, 48], [170, 170, 170], [100, 104, 108]],
                                      dtype=np.float32)}


def surface_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Surface id (ASPHALT, MARKING, SIDEWALK) of ground points at road-frame (x, y) [m]."""
    ay = np.abs(y)
    surface = np.where(ay >= ROAD_HALF_WIDTH_M, SIDEWALK, ASPHALT).astype(np.uint8)
    marking = np.zeros(np.shape(y), dtype=bool)
    for line_y in _SOLID_LINES:
        marking |= np.abs(y - line_y) < LINE_HALF_WIDTH_M
    dash = np.mod(x, DASH_PERIOD_M) < DASH_ON_M
    for line_y in _DASHED_LINES:
        marking |= (np.abs(y - line_y) < LINE_HALF_WIDTH_M) & dash
    surface[marking] = MARKING
    return surface
