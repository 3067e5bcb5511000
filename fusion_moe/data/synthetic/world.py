"""The scene's geometry at one instant: every part (object parts and static structures) as a
yaw-aligned box, with its owner, colour and LiDAR reflectivity. Shared by all sensor models so
that LiDAR, cameras and radar see exactly the same world.
"""
from dataclasses import dataclass

import numpy as np

from .geometry import transform_points
from .object_models import MATERIAL_COLOUR_BGR, MATERIAL_REFLECTIVITY
from .scene_layout import ScenePlan

STATIC_OWNER = -1


@dataclass
class WorldParts:
    """P parts in some frame F (road frame, or a sensor frame after ``to_frame``).

    Attributes:
        centers: (P, 3) part centres in F [m].
        half: (P, 3) half extents along the part's own axes [m].
        yaw: (P,) part heading in F [rad] (parts are level in every frame used here).
        owner: (P,) int index into ``plan.tracks``, or STATIC_OWNER for buildings and poles.
        colours: (P, 3) uint8 BGR base colour.
        reflectivity: (P,) float32 in [0, 1].
    """
    centers: np.ndarray
    half: np.ndarray
    yaw: np.ndarray
    owner: np.ndarray
    colours: np.ndarray
    reflectivity: np.ndarray

    def to_frame(self, frame_T_road: np.ndarray) -> 'WorldParts':
        """The same parts expressed in another level frame (``frame_T_road``: a yaw pose)."""
        frame_yaw = np.arctan2(frame_T_road[1, 0], frame_T_road[0, 0])
        return WorldParts(transform_points(frame_T_road, self.centers), self.half,
                          self.yaw + frame_yaw, self.owner, self.colours, self.reflectivity)


class WorldModel:
    """Builds ``WorldParts`` of a scene at any time; part layouts are flattened once."""

    def __init__(self, plan: ScenePlan):
        self.plan = plan
        offsets, half, owner, colours, refl = [], [], [], [], []
        for k, track in enumerate(plan.tracks):
            offsets.append(track.part_centers)
            half.append(track.part_half)
            owner.append(np.full(len(track.part_half), k))
            for material in track.part_materials:
                if material == 'paint':
                    colour = track.paint_bgr
                elif material == 'cloth':  # trousers: a darker shade of the instance colour
                    colour = tuple(int(c * 0.45) for c in track.paint_bgr[::-1])
                else:
                    colour = MATERIAL_COLOUR_BGR[material]
                colours.append(colour)
                refl.append(MATERIAL_REFLECTIVITY[material])
        static = plan.static
        self._offsets = np.concatenate(offsets) if offsets else np.zeros((0, 3))
        self._obj_half = np.concatenate(half) if half else np.zeros((0, 3))
        self._obj_owner = np.concatenate(owner) if owner else np.zeros(0, dtype=int)
        self._obj_colours = np.array(colours, dtype=np.uint8).reshape(-1, 3)
        self._obj_refl = np.array(refl, dtype=np.float32)
        self._static_refl = np.array([MATERIAL_REFLECTIVITY[m] for m in static.materials],
                                     dtype=np.float32)
        self._start = np.array([t.start_xy for t in plan.tracks]).reshape(-1, 2)
        self._velocity = np.array([t.velocity_xy for t in plan.tracks]).reshape(-1, 2)
        self._heights = np.array([t.size[2] for t in plan.tracks])
        self._yaws = np.array([t.yaw for t in plan.tracks])

    def box_poses(self, t: float):
        """Annotation boxes at time t: centres (N, 3) [m], yaws (N,) [rad], road frame."""
        xy = self._start + self._velocity * t
        centers = np.concatenate([xy, self._heights[:, None] / 2.0], axis=1)
        return centers, self._yaws.copy()

    def parts_at(self, t: float) -> WorldParts:
        """All parts (objects first, then static structures) at scene time t [s], road frame."""
        centers, yaws = self.box_poses(t)
        own = self._obj_owner
        c, s = np.cos(yaws[own]), np.sin(yaws[own])
        off = self._offsets
        obj_centers = np.stack([centers[own, 0] + c * off[:, 0] - s * off[:, 1],
                                centers[own, 1] + s * off[:, 0] + c * off[:, 1],
                                centers[own, 2] + off[:, 2]], axis=1)
        static = self.plan.static
        return WorldParts(
            centers=np.concatenate([obj_centers, static.centers]),
            half=np.concatenate([self._obj_half, static.half]),
            yaw=np.concatenate([yaws[own], static.yaw]),
            owner=np.concatenate([own, np.full(len(static.yaw), STATIC_OWNER)]),
            colours=np.concatenate([self._obj_colours, static.colours]),
            reflectivity=np.concatenate([self._obj_refl, self._static_refl]))
