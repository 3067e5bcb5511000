"""Radar returns against the annotated objects: how many per object (by class and range),
where on the object they fall, how far off they are in position and radial velocity, and the
share of returns from no object (clutter, ghosts).

Frames: boxes and points in the keyframe's LiDAR frame (x right, y forward; metres, m/s);
box-local coordinates ``(u, v)`` have u along the box length and v along its width. The
geometry is 2-D (bird's eye view): nuScenes radar points have z = 0 in the sensor frame.

Definitions (each one is applied alike to every data set that has the input):

- *per-object count*: the annotation's ``num_radar_pts`` (nuScenes: radar points of the
  sample's radar sweeps inside the box, all five radars, no filter).
- *association*: a point (after the devkit's default filters) belongs to the box whose
  footprint, grown by ``ASSOCIATION_MARGIN_M``, holds it (the nearest footprint if several);
  boxes are moved to the scan's time with their velocity.
- *visible surface*: the footprint edges that face the sensor. A point's *surface distance*
  is its distance to the nearest point of those edges; a point *inside* the footprint and
  more than ``INTERIOR_DEPTH_M`` from every visible edge is an *interior* return (the ARS 408
  measures reflections off the near surface, so real returns are rarely there).
- *radial velocity error*: the point's ego-motion compensated radial velocity
  ((vx_comp, vy_comp) on the line of sight) minus the box velocity on that line.
"""
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from fusion_moe.structures import CLASSES

from .radar_scans import FIELD, default_filter_mask
from .sources import Keyframe

ASSOCIATION_MARGIN_M = 1.0
INTERIOR_DEPTH_M = 0.5
#: Range bins [m] of the per-object counts (horizontal distance from the LiDAR).
RANGE_BINS_M: Tuple[Tuple[float, float], ...] = ((0.0, 20.0), (20.0, 40.0), (40.0, np.inf))


def object_counts(keyframes: Sequence[Keyframe]) -> Dict[str, List[Tuple[int, float]]]:
    """``{class: [(num_radar_pts, range_m), ...]}`` of every annotated object."""
    out: Dict[str, List[Tuple[int, float]]] = defaultdict(list)
    for kf in keyframes:
        ranges = np.hypot(kf.boxes[:, 0], kf.boxes[:, 1])
        for label, n, r in zip(kf.labels, kf.num_radar_pts, ranges):
            out[CLASSES[int(label)]].append((int(n), float(r)))
    return dict(out)


def to_box_frame(xy: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(M, 2) LiDAR-frame points -> box-local (u along length, v along width) for a box
    ``(x, y, z_bottom, l, w, h, yaw, ...)``."""
    c, s = np.cos(box[6]), np.sin(box[6])
    rel = xy - box[:2]
    return np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]], axis=1)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M,) distance of points p (M, 2) to the segment a-b."""
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def visible_surface_distance(uv: np.ndarray, sensor_uv: np.ndarray, length: float,
                             width: float) -> np.ndarray:
    """(M,) distance [m] of box-local points to the footprint edges that face the sensor.

    The rectangle ``|u| <= length/2, |v| <= width/2``; an edge faces the sensor when the
    sensor lies on the outer side of its line (one or two edges for a sensor outside the box).
    """
    hl, hw = length / 2, width / 2
    edges = (((hl, -hw), (hl, hw), np.array([1.0, 0.0]), hl),
             ((-hl, -hw), (-hl, hw), np.array([-1.0, 0.0]), hl),
             ((-hl, hw), (hl, hw), np.array([0.0, 1.0]), hw),
             ((-hl, -hw), (hl, -hw), np.array([0.0, -1.0]), hw))
    best = np.full(len(uv), np.inf)
    for a, b, normal, offset in edges:
        if float(sensor_uv @ normal) > offset:
            best = np.minimum(best, _segment_distance(uv, np.array(a), np.array(b)))
    return best


@dataclass
class AssociatedReturns:
    """The default-filtered radar points of the keyframes that fell near an annotated box.

    Attributes (one entry per associated point unless noted):
        label: class index; surface_m: distance to the visible surface [m];
        inside: inside the footprint; interior: inside and deeper than INTERIOR_DEPTH_M;
        radial_error_mps: measured minus true radial velocity [m/s];
        kept_points, unassociated: default-filtered points in all, and those near no box
        (both counts over all keyframes).
    """
    label: np.ndarray
    surface_m: np.ndarray
    inside: np.ndarray
    interior: np.ndarray
    radial_error_mps: np.ndarray
    kept_points: int
    unassociated: int


def associate_returns(keyframes: Sequence[Keyframe]) -> Optional[AssociatedReturns]:
    """Associate every keyframe's radar points with its boxes (see the module docstring);
    None when no keyframe has calibrated radar scans (the real fixture)."""
    cols = defaultdict(list)
    kept_total, unassociated, seen = 0, 0, False
    for kf in keyframes:
        for scan in kf.radar_scans:
            if scan.sensor2lidar is None:
                continue
            seen = True
            pts = scan.points[:, default_filter_mask(scan.points)]
            pts = pts[:, np.isfinite(pts[:2]).all(axis=0)]
            if pts.shape[1] == 0:
                continue
            rot, origin = scan.sensor2lidar[:2, :2], scan.sensor2lidar[:2, 3]
            xy = pts[:2].T @ rot.T + origin
            vel = pts[[FIELD['vx_comp'], FIELD['vy_comp']]].T @ rot.T
            los = xy - origin
            los /= np.maximum(np.linalg.norm(los, axis=1, keepdims=True), 1e-9)
            kept_total += len(xy)
            owner = np.full(len(xy), -1)
            owner_gap = np.full(len(xy), np.inf)
            for j, box in enumerate(kf.boxes):
                moved = box.copy()
                moved[:2] -= box[7:9] * scan.time_lag_s           # the box at the scan's time
                uv = to_box_frame(xy, moved)
                gap = np.hypot(np.maximum(np.abs(uv[:, 0]) - box[3] / 2, 0.0),
                               np.maximum(np.abs(uv[:, 1]) - box[4] / 2, 0.0))
                closer = (gap <= ASSOCIATION_MARGIN_M) & (gap < owner_gap)
                owner[closer], owner_gap[closer] = j, gap[closer]
            unassociated += int((owner < 0).sum())
            for j in np.unique(owner[owner >= 0]):
                sel = owner == j
                box = kf.boxes[j].copy()
                box[:2] -= kf.boxes[j, 7:9] * scan.time_lag_s
                uv = to_box_frame(xy[sel], box)
                sensor_uv = to_box_frame(origin[None], box)[0]
                surface = visible_surface_distance(uv, sensor_uv, box[3], box[4])
                inside = (np.abs(uv[:, 0]) <= box[3] / 2) & (np.abs(uv[:, 1]) <= box[4] / 2)
                cols['label'].append(np.full(int(sel.sum()), kf.labels[j]))
                cols['surface_m'].append(surface)
                cols['inside'].append(inside)
                cols['interior'].append(inside & (surface > INTERIOR_DEPTH_M))
                radial = np.einsum('ij,ij->i', vel[sel], los[sel])
                cols['radial_error_mps'].append(radial - los[sel] @ kf.boxes[j, 7:9])
    if not seen:
        return None
    empty = {'label': np.int64, 'surface_m': float, 'inside': bool, 'interior': bool,
             'radial_error_mps': float}
    arrays = {k: (np.concatenate(cols[k]) if cols[k] else np.zeros(0, dtype=t))
              for k, t in empty.items()}
    return AssociatedReturns(**arrays, kept_points=kept_total, unassociated=unassociated)


def clutter_share(points_per_sample: float, keyframes: Sequence[Keyframe]) -> float:
    """Share of a sample's radar points (all radars, no filter) inside no annotated box:
    1 - mean(sum of num_radar_pts) / points_per_sample."""
    in_boxes = np.mean([float(kf.num_radar_pts.sum()) for kf in keyframes])
    return float(1.0 - in_boxes / points_per_sample) if points_per_sample > 0 else float('nan')
