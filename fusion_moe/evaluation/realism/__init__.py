"""Sensor realism: statistics of a nuScenes-format set's radar, LiDAR and camera data, held
against the real nuScenes fixture (``benchmarks/realism.py`` prints the table).

One idea per file: ``sources`` reads both sides alike, ``radar_scans`` / ``radar_objects`` /
``lidar_scans`` / ``camera_images`` compute the statistics, ``distances`` compares them,
``compare`` turns both sides into rows with targets, ``table`` holds and prints the rows.
"""
from .table import Row, count_met, format_table

__all__ = ['Row', 'count_met', 'format_table']
