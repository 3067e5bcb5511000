"""The 13 nuScenes tables: fixed vocabularies (category, attribute, visibility, sensor) and a
collector that writes ``<root>/<version>/*.json`` the way the devkit expects them.
"""
import json
import os
from typing import Dict, List

from fusion_moe.structures.sensors import CAMERAS, LIDAR, RADARS

from .geometry import stable_token

TABLE_NAMES = ('attribute', 'calibrated_sensor', 'category', 'ego_pose', 'instance', 'log',
               'map', 'sample', 'sample_annotation', 'sample_data', 'scene', 'sensor',
               'visibility')

# Official nuScenes category names with their lidarseg index (category.json of v1.0).
CATEGORIES: Dict[str, int] = {
    'animal': 1, 'human.pedestrian.adult': 2, 'human.pedestrian.child': 3,
    'human.pedestrian.construction_worker': 4, 'human.pedestrian.personal_mobility': 5,
    'human.pedestrian.police_officer': 6, 'human.pedestrian.stroller': 7,
    'human.pedestrian.wheelchair': 8, 'movable_object.barrier': 9,
    'movable_object.debris': 10, 'movable_object.pushable_pullable': 11,
    'movable_object.trafficcone': 12, 'static_object.bicycle_rack': 13, 'vehicle.bicycle': 14,
    'vehicle.bus.bendy': 15, 'vehicle.bus.rigid': 16, 'vehicle.car': 17,
    'vehicle.construction': 18, 'vehicle.emergency.ambulance': 19,
    'vehicle.emergency.police': 20, 'vehicle.motorcycle': 21, 'vehicle.trailer': 22,
    'vehicle.truck': 23,
}
ATTRIBUTES = ('vehicle.moving', 'vehicle.stopped', 'vehicle.parked', 'cycle.with_rider',
              'cycle.without_rider', 'pedestrian.sitting_lying_down', 'pedestrian.standing',
              'pedestrian.moving')
# visibility token -> (level, lower bound of the visible fraction)
VISIBILITY = {'1': ('v0-40', 0.0), '2': ('v40-60', 0.4), '3': ('v60-80', 0.6),
              '4': ('v80-100', 0.8)}
SENSOR_MODALITY = {**{c: 'camera' for c in CAMERAS}, **{r: 'radar' for r in RADARS},
                   LIDAR: 'lidar'}


def visibility_token(visible_fraction: float) -> str:
    """nuScenes visibility bin ('1'..'4') of the fraction of an object visible in the images."""
    token = '1'
    for key, (_, lower) in VISIBILITY.items():
        if visible_fraction >= lower:
            token = key
    return token


def category_token(name: str) -> str:
    if name not in CATEGORIES:
        raise KeyError(f'unknown nuScenes category {name!r}')
    return stable_token('category', name)


def attribute_token(name: str) -> str:
    if name not in ATTRIBUTES:
        raise KeyError(f'unknown nuScenes attribute {name!r}')
    return stable_token('attribute', name)


def sensor_token(channel: str) -> str:
    return stable_token('sensor', channel)


# tables a collector starts with (the same for every scene and set)
STATIC_TABLES = ('category', 'attribute', 'visibility', 'sensor')


class TableCollector:
    """Accumulates records per table and writes them as ``<root>/<version>/<table>.json``."""

    def __init__(self):
        self.tables: Dict[str, List[dict]] = {name: [] for name in TABLE_NAMES}
        self.tables['category'] = [
            {'token': category_token(n), 'name': n, 'description': f'nuScenes category {n}',
             'index': i} for n, i in CATEGORIES.items()]
        self.tables['attribute'] = [
            {'token': attribute_token(n), 'name': n, 'description': f'nuScenes attribute {n}'}
            for n in ATTRIBUTES]
        self.tables['visibility'] = [
            {'token': k, 'level': level, 'description': f'visibility of whole object is '
             f'between {level[1:].replace("-", " and ")} %'}
            for k, (level, _) in VISIBILITY.items()]
        self.tables['sensor'] = [
            {'token': sensor_token(ch), 'channel': ch, 'modality': mod}
            for ch, mod in SENSOR_MODALITY.items()]

    def add(self, table: str, record: dict) -> dict:
        if table not in self.tables:
            raise KeyError(f'unknown nuScenes table {table!r}')
        self.tables[table].append(record)
        return record

    def extend(self, records: Dict[str, List[dict]]) -> None:
        """Append another collector's per-scene records (tables other than STATIC_TABLES)."""
        for table, recs in records.items():
            if table in STATIC_TABLES or table not in self.tables:
                raise KeyError(f'cannot merge records of table {table!r}')
            self.tables[table].extend(recs)

    def write(self, root: str, version: str) -> str:
        out = os.path.join(root, version)
        os.makedirs(out, exist_ok=True)
        for name, records in self.tables.items():
            with open(os.path.join(out, f'{name}.json'), 'w') as f:
                json.dump(records, f, indent=0)
        return out
