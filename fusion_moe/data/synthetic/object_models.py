"""Object models of the 10 nuScenes detection classes: sizes, shapes (boxes made of parts),
colours, LiDAR reflectivity and radar cross-section.

Sizes (length x width x height, metres) follow nuScenes' per-class means; shapes are unions of a
few yaw-aligned boxes ("parts") inside the annotation box, so that classes differ in outline and
height profile (a car has a body and a narrower cabin, a truck a cab and a cargo box, a
pedestrian legs, torso and head, a cone a stack of shrinking boxes, ...). Parts stay 2 % inside
the annotation box so that range noise cannot push a surface point out of its box.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

# (x0, x1, y0, y1, z0, z1) as fractions of the box (x, y in [-0.5, 0.5], z in [0, 1]) + material
Part = Tuple[float, float, float, float, float, float, str]

# LiDAR reflectivity in [0, 1] (scaled to intensity 0-255) and a default BGR colour per material.
MATERIAL_REFLECTIVITY: Dict[str, float] = {
    'paint': 0.30, 'glass': 0.08, 'tyre': 0.04, 'metal': 0.35, 'skin': 0.15, 'cloth': 0.12,
    'cone_orange': 0.55, 'cone_white': 0.95, 'barrier_red': 0.45, 'barrier_white': 0.90,
    'concrete': 0.25, 'building': 0.20, 'pole': 0.30, 'rider': 0.12,
}
MATERIAL_COLOUR_BGR: Dict[str, Tuple[int, int, int]] = {
    'glass': (60, 50, 40), 'tyre': (25, 25, 25), 'metal': (150, 150, 150), 'skin': (140, 170, 210),
    'cone_orange': (20, 110, 245), 'cone_white': (235, 235, 235), 'barrier_red': (40, 40, 200),
    'barrier_white': (230, 230, 230), 'concrete': (175, 175, 170), 'pole': (90, 90, 90),
    'rider': (70, 60, 50),
}


@dataclass(frozen=True)
class ClassModel:
    """One detection class: nuScenes category, size prior and part layout.

    Attributes:
        category: main nuScenes category name written to the tables (e.g. 'vehicle.bus.rigid').
        size_mean: (length, width, height) in metres.
        size_std: per-dimension standard deviation in metres.
        parts: shape parts, see ``Part``.
        palette: BGR colours the 'paint' material is drawn from (one per instance).
        rcs_dbsm: mean radar cross-section at 77 GHz in dBsm (typical published figures:
            car about 10, truck and bus 15-25, motorcycle 0-5, pedestrian about -10, cone
            below -10), set so that the real keyframe's detection rates by class and range are
            met (see radar_ars408, [KF]).
        variants: other nuScenes categories of the same detection class, as
            (category, probability, (length, width, height) scale of the size prior); the main
            category takes the remaining probability.
    """
    category: str
    size_mean: Tuple[float, float, float]
    size_std: Tuple[float, float, float]
    parts: Tuple[Part, ...]
    palette: Tuple[Tuple[int, int, int], ...]
    rcs_dbsm: float
    variants: Tuple[Tuple[str, float, Tuple[float, float, float]], ...] = ()


_CAR_COLOURS = ((200, 200, 200), (30, 30, 30), (60, 60, 170), (150, 90, 40), (110, 110, 110),
                (230, 230, 230), (40, 90, 40), (140, 140, 150))
_WORK_COLOURS = ((20, 180, 240), (30, 140, 230), (40, 200, 220))
_BIKE_COLOURS = ((40, 40, 180), (180, 60, 30), (30, 30, 30), (200, 200, 200))

CLASS_MODELS: Dict[str, ClassModel] = {
    'car': ClassModel(
        'vehicle.car', (4.6, 1.95, 1.7), (0.3, 0.1, 0.12),
        ((-0.5, 0.5, -0.5, 0.5, 0.20, 0.58, 'paint'),
         (-0.32, 0.18, -0.45, 0.45, 0.58, 1.0, 'glass'),
         (0.24, 0.40, -0.5, 0.5, 0.0, 0.20, 'tyre'),
         (-0.40, -0.24, -0.5, 0.5, 0.0, 0.20, 'tyre')),
        _CAR_COLOURS, 10.0),
    'truck': ClassModel(
        'vehicle.truck', (7.0, 2.5, 3.0), (1.2, 0.15, 0.4),
        ((0.28, 0.5, -0.5, 0.5, 0.15, 0.85, 'paint'),
         (-0.5, 0.26, -0.5, 0.5, 0.15, 1.0, 'metal'),
         (0.30, 0.42, -0.5, 0.5, 0.0, 0.15, 'tyre'),
         (-0.42, -0.22, -0.5, 0.5, 0.0, 0.15, 'tyre')),
        ((230, 230, 230), (40, 40, 160), (140, 80, 30)), 18.0),
    'trailer': ClassModel(
        'vehicle.trailer', (12.0, 2.6, 3.8), (1.5, 0.1, 0.3),
        ((-0.5, 0.5, -0.5, 0.5, 0.30, 1.0, 'metal'),
         (-0.45, -0.25, -0.5, 0.5, 0.0, 0.30, 'tyre'),
         (0.30, 0.34, -0.35, 0.35, 0.0, 0.30, 'pole')),
        ((210, 210, 210), (60, 120, 180), (90, 90, 90)), 20.0),
    'bus': ClassModel(
        'vehicle.bus.rigid', (11.5, 2.9, 3.4), (0.8, 0.1, 0.2),
        ((-0.5, 0.5, -0.5, 0.5, 0.12, 0.62, 'paint'),
         (-0.5, 0.5, -0.48, 0.48, 0.62, 1.0, 'glass'),
         (0.28, 0.38, -0.5, 0.5, 0.0, 0.12, 'tyre'),
         (-0.34, -0.24, -0.5, 0.5, 0.0, 0.12, 'tyre')),
        ((40, 40, 200), (30, 200, 230), (220, 220, 220), (60, 140, 40)), 20.0,
        (('vehicle.bus.bendy', 0.15, (1.55, 1.0, 1.0)),)),
    'construction_vehicle': ClassModel(
        'vehicle.construction', (6.5, 2.8, 3.2), (0.8, 0.2, 0.3),
        ((-0.5, 0.3, -0.5, 0.5, 0.25, 0.55, 'paint'),
         (-0.25, 0.15, -0.5, 0.1, 0.55, 1.0, 'glass'),
         (0.3, 0.5, -0.2, 0.2, 0.15, 0.85, 'metal'),
         (-0.5, 0.3, -0.5, 0.5, 0.0, 0.25, 'tyre')),
        _WORK_COLOURS, 18.0),
    'bicycle': ClassModel(
        'vehicle.bicycle', (1.75, 0.6, 1.3), (0.1, 0.05, 0.08),
        ((-0.5, 0.5, -0.15, 0.15, 0.0, 0.55, 'paint'),
         (0.25, 0.4, -0.5, 0.5, 0.55, 0.75, 'metal')),
        _BIKE_COLOURS, -5.0),
    'motorcycle': ClassModel(
        'vehicle.motorcycle', (2.1, 0.8, 1.3), (0.15, 0.06, 0.1),
        ((-0.5, 0.5, -0.18, 0.18, 0.0, 0.35, 'tyre'),
         (-0.35, 0.35, -0.35, 0.35, 0.35, 0.65, 'paint'),
         (0.3, 0.42, -0.5, 0.5, 0.65, 0.85, 'metal')),
        _BIKE_COLOURS, 3.0),
    'pedestrian': ClassModel(
        'human.pedestrian.adult', (0.72, 0.67, 1.75), (0.08, 0.06, 0.1),
        ((-0.25, 0.25, -0.3, 0.3, 0.0, 0.48, 'cloth'),
         (-0.4, 0.4, -0.5, 0.5, 0.48, 0.85, 'paint'),
         (-0.17, 0.17, -0.17, 0.17, 0.86, 1.0, 'skin')),
        ((40, 40, 150), (150, 60, 30), (60, 140, 60), (200, 200, 200), (40, 40, 40),
         (50, 170, 220)), -10.0,
        (('human.pedestrian.child', 0.08, (0.75, 0.75, 0.72)),
         ('human.pedestrian.construction_worker', 0.07, (1.0, 1.0, 1.0)))),
    'traffic_cone': ClassModel(
        'movable_object.trafficcone', (0.41, 0.41, 1.0), (0.03, 0.03, 0.08),
        ((-0.5, 0.5, -0.5, 0.5, 0.0, 0.06, 'cone_orange'),
         (-0.32, 0.32, -0.32, 0.32, 0.06, 0.45, 'cone_orange'),
         (-0.22, 0.22, -0.22, 0.22, 0.45, 0.7, 'cone_white'),
         (-0.12, 0.12, -0.12, 0.12, 0.7, 1.0, 'cone_orange')),
        ((20, 110, 245),), -24.0),
    'barrier': ClassModel(
        'movable_object.barrier', (0.5, 2.5, 0.98), (0.05, 0.2, 0.05),
        ((-0.5, 0.5, -0.5, 0.5, 0.0, 0.3, 'concrete'),
         (-0.25, 0.25, -0.5, 0.5, 0.3, 0.65, 'barrier_red'),
         (-0.25, 0.25, -0.5, 0.5, 0.65, 1.0, 'barrier_white')),
        # -5 dBsm: [KF]'s barriers return about as often at 20-40 m (0.55 points each) as
        # within 20 m (0.56); -9 gave 0.06 there once the work zones no longer kept barriers
        # near the ego (generator version 4)
        ((175, 175, 170),), -5.0),
}

# Cycles with a rider are taller and carry a rider torso and head (nuScenes annotates the
# cyclist inside the bicycle/motorcycle box and marks it with the 'cycle.with_rider' attribute).
RIDER_PARTS: Tuple[Part, ...] = (
    (-0.2, 0.15, -0.35, 0.35, 0.5, 0.86, 'rider'),
    (-0.1, 0.08, -0.15, 0.15, 0.86, 1.0, 'skin'),
)
RIDER_HEIGHT_M = 1.75
# Inset of parts relative to the annotation box (fraction of each half extent).
PART_INSET = 0.98


def sample_category(model: ClassModel, rng: np.random.Generator
                    ) -> Tuple[str, Tuple[float, float, float]]:
    """A nuScenes category of the class (main one or a variant) and its size scale."""
    u = rng.random()
    for category, probability, scale in model.variants:
        if u < probability:
            return category, scale
        u -= probability
    return model.category, (1.0, 1.0, 1.0)


def sample_size(model: ClassModel, rng: np.random.Generator, with_rider: bool = False,
                scale: Tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """(length, width, height) in metres: the (scaled) class mean +- up to 2.5 std."""
    mean = np.asarray(model.size_mean) * np.asarray(scale)
    std = np.asarray(model.size_std)
    size = np.clip(mean + rng.standard_normal(3) * std, mean - 2.5 * std, mean + 2.5 * std)
    if with_rider:
        size[2] = RIDER_HEIGHT_M + rng.normal(0.0, 0.05)
    return size


def instance_parts(model: ClassModel, size: np.ndarray, with_rider: bool = False):
    """Parts of one instance in its box frame (origin at the box centre, x along the heading).

    Returns:
        centers (P, 3) [m], half extents (P, 3) [m], materials list[str] of length P.
    """
    parts = list(model.parts)
    if with_rider:
        # the cycle itself occupies the lower part of the taller box
        frame_scale = 1.1 / size[2]
        parts = [(x0, x1, y0, y1, z0 * frame_scale, z1 * frame_scale, m)
                 for (x0, x1, y0, y1, z0, z1, m) in parts] + list(RIDER_PARTS)
    spec = np.array([p[:6] for p in parts], dtype=np.float64)
    length, width, height = size
    lo = np.stack([spec[:, 0] * length, spec[:, 2] * width, spec[:, 4] * height], axis=1)
    hi = np.stack([spec[:, 1] * length, spec[:, 3] * width, spec[:, 5] * height], axis=1)
    centers = (lo + hi) / 2.0
    centers[:, 2] -= height / 2.0  # box frame origin at the box centre
    half = (hi - lo) / 2.0 * PART_INSET
    return centers, half, [p[6] for p in parts]
