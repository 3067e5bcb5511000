"""Heads: mmdet3d's CenterHead is used as is (``type='CenterHead'``); this package holds
the checks tying a head config to the detector's BEV grid."""
from .grid_check import check_center_head_grid

__all__ = ['check_center_head_grid']
