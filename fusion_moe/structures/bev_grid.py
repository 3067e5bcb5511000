"""The one BEV grid every encoder writes to, derived once from the config.

Frame: the LiDAR frame of the keyframe (nuScenes LIDAR_TOP: x right, y forward, z up; metres;
the ego frame is x forward, y left). The grid's rows run
along y and columns along x, as mmdet3d's CenterHead and BEVFusion lay out BEV maps:
``feature[b, c, iy, ix]`` is the cell centred at
``(x_min + (ix + 0.5) * cell_m, y_min + (iy + 0.5) * cell_m)``.
"""
from dataclasses import dataclass
from typing import Sequence, Tuple


@dataclass(frozen=True)
class BEVGrid:
    """Axis-aligned BEV grid.

    Args:
        point_cloud_range: (x_min, y_min, z_min, x_max, y_max, z_max) in metres, LiDAR frame.
        cell_m: cell edge length in metres (square cells).
    """
    point_cloud_range: Tuple[float, float, float, float, float, float]
    cell_m: float

    def __post_init__(self):
        pcr = tuple(float(v) for v in self.point_cloud_range)
        if len(pcr) != 6:
            raise ValueError(f'point_cloud_range needs 6 values, got {len(pcr)}')
        if not (pcr[3] > pcr[0] and pcr[4] > pcr[1] and pcr[5] > pcr[2]):
            raise ValueError(f'point_cloud_range {pcr} has a max not above its min')
        if self.cell_m <= 0:
            raise ValueError(f'cell_m must be positive, got {self.cell_m}')
        for axis, span in (('x', pcr[3] - pcr[0]), ('y', pcr[4] - pcr[1])):
            n = span / self.cell_m
            if abs(n - round(n)) > 1e-6:
                raise ValueError(
                    f'point_cloud_range {axis} span {span} m is not a whole number of '
                    f'{self.cell_m} m cells')
        object.__setattr__(self, 'point_cloud_range', pcr)

    @classmethod
    def from_config(cls, point_cloud_range: Sequence[float], cell_m: float) -> 'BEVGrid':
        return cls(tuple(point_cloud_range), float(cell_m))

    @property
    def W(self) -> int:
        """Number of cells along x."""
        return int(round((self.point_cloud_range[3] - self.point_cloud_range[0]) / self.cell_m))

    @property
    def H(self) -> int:
        """Number of cells along y."""
        return int(round((self.point_cloud_range[4] - self.point_cloud_range[1]) / self.cell_m))

    @property
    def shape(self) -> Tuple[int, int]:
        """(H, W)."""
        return self.H, self.W
