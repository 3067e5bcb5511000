"""nuScenes category names and their detection classes.

The 23 official nuScenes categories; the detection class of each comes from the devkit
(``category_to_detection_name``), the single authority the evaluation uses too. A category
outside this list is an error (it means the tables come from another dataset or are corrupt),
while an official category without a detection class (animal, debris, ...) is kept with
label -1 and ignored, as mmdet3d does.
"""
from typing import Optional, Tuple

from nuscenes.eval.detection.utils import category_to_detection_name

NUSCENES_CATEGORIES: Tuple[str, ...] = (
    'animal', 'human.pedestrian.adult', 'human.pedestrian.child',
    'human.pedestrian.construction_worker', 'human.pedestrian.personal_mobility',
    'human.pedestrian.police_officer', 'human.pedestrian.stroller',
    'human.pedestrian.wheelchair', 'movable_object.barrier', 'movable_object.debris',
    'movable_object.pushable_pullable', 'movable_object.trafficcone',
    'static_object.bicycle_rack', 'vehicle.bicycle', 'vehicle.bus.bendy', 'vehicle.bus.rigid',
    'vehicle.car', 'vehicle.construction', 'vehicle.emergency.ambulance',
    'vehicle.emergency.police', 'vehicle.motorcycle', 'vehicle.trailer', 'vehicle.truck')


class UnknownCategoryError(ValueError):
    """A sample_annotation names a category that nuScenes does not define."""


def detection_class_of(category_name: str, where: str = '') -> Optional[str]:
    """Detection class of a nuScenes category, or None for an official non-detection category.

    Raises:
        UnknownCategoryError: naming the category (and ``where``, e.g. the annotation token).
    """
    if category_name not in NUSCENES_CATEGORIES:
        raise UnknownCategoryError(
            f'unknown nuScenes category {category_name!r}{" in " + where if where else ""}; '
            f'expected one of the 23 official categories')
    return category_to_detection_name(category_name)
