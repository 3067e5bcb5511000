"""Scene layout: a straight street with lanes, sidewalks, buildings and lamp posts, the ego's
drive along it, and the tracks of all annotated objects.

Everything is planned in a per-scene *road frame* (x along the street, y to the left of the
ego's driving direction, z up; metres; ground at z = 0) and mapped to the global frame by one
per-scene 2D pose (``global_T_road``). Objects move on straight tracks at constant velocity, so
annotations sampled 0.5 s apart give the devkit exact velocities.

Objects live in *rows* parallel to the street (lanes, parking strips, a work zone, bike and
walking strips, a strip of standing pedestrians and parked cycles). All objects of a row move
together, so rows never collide, and the lateral spacing keeps rows apart for every class size.
Every scene first places one or more objects of every class near the ego's mid-scene position
(within the devkit's class ranges), then fills the rows at random.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from .geometry import yaw_pose
from .object_models import CLASS_MODELS, MATERIAL_COLOUR_BGR, instance_parts, sample_category, \
    sample_size

KEYFRAME_PERIOD_S = 0.5
EGO_LANE_Y_M = -1.75
ROAD_HALF_WIDTH_M = 7.0
SIDEWALK_OUTER_Y_M = 13.0
BUILDING_FRONT_Y_M = 14.0
LAMP_Y_M = 12.4
LAMP_HEIGHT_M = 6.0
VIEW_MARGIN_M = 55.0
EGO_CLEARANCE_M = 9.0   # free space kept in the ego lane in front of and behind the ego
MOVING_SPEED_MPS = 0.5  # nuScenes-style threshold between moving and stopped
WORK_ZONE_Y_M = (-5.2, -4.2)  # cones and barriers closing a parking strip (right; left mirrored)
# Layout priors: a detector can learn where objects stand from the street's layout alone, and
# would then "detect" them without any sensor evidence (a radar-only demo model found cones and
# pedestrians that gave it no return). So every scene draws its own cross-section (all rows off
# the two driving lanes, sidewalks' rows, lamps and buildings scaled by one factor), its own
# work zone (side, start, cone spacing and count) and shifts the objects placed near the ego.
# Cones gave a radar-only model its best class (AP 0.23 with radar returns on 7 % of them)
# while every scene had one work zone near the ego on one of two lines: now a work zone is
# in only some scenes, anywhere along the street and at a drawn lateral offset, and single
# cones stand at random on parking strips and sidewalks (as on real streets: a cone guarding
# a parking spot, a manhole, a loading bay), so that no line of the street predicts a cone.
# (a street narrower than 1.0 leaves no room for a bus beside a parked bus)
CROSS_SECTION_SCALE = (1.0, 1.3)
WORK_ZONE_SHARE = 0.6          # scenes with a work zone
WORK_ZONE_START_M = (-30.0, 20.0)  # its first cone along the street, from the ego at mid-scene
LOOSE_CONES = (0, 4)           # single cones per scene (at least one without a work zone)
LOOSE_CONE_ROWS = ('parking_right', 'parking_left', 'standing_right', 'standing_left')
LOOSE_CONE_RANGE_M = 45.0      # along the street, from the ego at mid-scene (uniform +-)
# a scene without a work zone still has a cone within the devkit's 30 m cone range: its first
# loose cone stands within this distance along the street (the required objects' promise)
NEAR_CONE_RANGE_M = 18.0
ROW_JITTER_M = 0.15     # lateral position of an object within its row (uniform +-)
PARKED_CORNER_SHIFT_M = 0.1  # how far a parked object's heading noise may swing a corner
# along-street shift of each object placed near the ego (uniform +-): at 6 m a radar-only model
# still found pedestrians (AP 0.10 with radar returns on 5 % of them) at the places the
# required objects take relative to the ego; 15 m keeps each within its class's devkit range
REQUIRED_SHIFT_M = 15.0


@dataclass
class Track:
    """One annotated object on a straight constant-velocity track (road frame).

    Attributes:
        name: detection class name (e.g. 'car').
        category: nuScenes category (e.g. 'human.pedestrian.child').
        size: (length, width, height) [m].
        start_xy: (2,) box centre at scene time 0 [m].
        velocity_xy: (2,) [m/s].
        yaw: heading [rad] (x axis of the box).
        attribute: nuScenes attribute name or '' (cones, barriers).
        with_rider: cycles only.
        part_centers, part_half, part_materials: shape parts in the box frame (see
            object_models.instance_parts).
        paint_bgr: instance colour.
    """
    name: str
    category: str
    size: np.ndarray
    start_xy: np.ndarray
    velocity_xy: np.ndarray
    yaw: float
    attribute: str
    with_rider: bool
    part_centers: np.ndarray
    part_half: np.ndarray
    part_materials: List[str]
    paint_bgr: Tuple[int, int, int]

    def center_at(self, t: float) -> np.ndarray:
        """(3,) box centre at scene time t [s] (z = half height: boxes stand on the ground)."""
        xy = self.start_xy + self.velocity_xy * t
        return np.array([xy[0], xy[1], self.size[2] / 2.0])


@dataclass
class StaticParts:
    """Unannotated static geometry (buildings, lamp posts): yaw-aligned boxes in the road frame."""
    centers: np.ndarray      # (S, 3) [m]
    half: np.ndarray         # (S, 3) [m]
    yaw: np.ndarray          # (S,) [rad]
    materials: List[str]
    colours: np.ndarray      # (S, 3) uint8 BGR


@dataclass
class ScenePlan:
    """Everything needed to simulate one scene's sensors and write its annotations."""
    index: int
    name: str
    description: str
    lighting: str
    weather: str
    location: str
    log_name: str
    start_us: int
    num_samples: int
    global_T_road: np.ndarray
    ego_speed_mps: float
    tracks: List[Track]
    static: StaticParts
    lamp_heads: np.ndarray   # (L, 3) lamp light positions in the road frame [m]
    road_x_range: Tuple[float, float]

    @property
    def duration_s(self) -> float:
        return (self.num_samples - 1) * KEYFRAME_PERIOD_S

    def road_T_ego(self, t: float) -> np.ndarray:
        """4x4 ego pose in the road frame at scene time t [s] (ego drives along +x)."""
        return yaw_pose(0.0, (self.ego_speed_mps * t, EGO_LANE_Y_M, 0.0))

    def global_T_ego(self, t: float) -> np.ndarray:
        return self.global_T_road @ self.road_T_ego(t)


@dataclass
class _Row:
    name: str
    y: float
    direction: int                     # +1 along x, -1 against x, 0 static
    speed: float                       # [m/s], >= 0
    classes: Dict[str, float]          # class name -> weight
    gap_m: Tuple[float, float]         # random free space between objects
    occupied: List[Tuple[float, float]] = field(default_factory=list)  # x intervals at t=0


def _make_rows(rng: np.random.Generator, ego_speed: float, cross: float,
               work_side: int) -> Dict[str, _Row]:
    """Rows of the street; ``cross`` scales the lateral position of every row but the two
    driving lanes, ``work_side`` (-1 right, +1 left) is the parking strip the work zone
    closes."""
    oncoming = 0.0 if rng.random() < 0.25 else float(rng.uniform(4.0, 12.0))
    vehicles = {'car': 0.62, 'truck': 0.13, 'bus': 0.1, 'motorcycle': 0.1,
                'construction_vehicle': 0.05}
    parked = {'car': 0.6, 'truck': 0.12, 'trailer': 0.12, 'construction_vehicle': 0.08,
              'bus': 0.08}
    standing = {'pedestrian': 0.45, 'bicycle': 0.25, 'motorcycle': 0.15, 'barrier': 0.15}
    rows = [
        _Row('ego_lane', EGO_LANE_Y_M, 1, ego_speed, vehicles, (6.0, 25.0)),
        _Row('oncoming_lane', -EGO_LANE_Y_M, -1, oncoming, vehicles, (4.0, 20.0)),
        _Row('work_zone', -work_side * float(rng.uniform(*WORK_ZONE_Y_M)) * cross, 0, 0.0, {},
             (0.0, 0.0)),
        _Row('parking_right', -5.4 * cross, 0, 0.0, parked, (1.0, 14.0)),
        _Row('parking_left', 5.4 * cross, 0, 0.0, parked, (1.0, 14.0)),
    ]
    for side in (-1, 1):
        tag = 'right' if side < 0 else 'left'
        walk = float(rng.uniform(1.0, 1.6))
        rows += [
            _Row(f'bike_{tag}', side * 7.6 * cross, -side, float(rng.uniform(3.0, 5.0)),
                 {'bicycle': 1.0}, (20.0, 80.0)),
            _Row(f'walk_{tag}', side * 8.7 * cross, -side, walk, {'pedestrian': 1.0},
                 (8.0, 35.0)),
            _Row(f'walk2_{tag}', side * 9.9 * cross, side, float(rng.uniform(1.0, 1.6)),
                 {'pedestrian': 1.0}, (8.0, 35.0)),
            _Row(f'standing_{tag}', side * 11.1 * cross, 0, 0.0, standing, (6.0, 30.0)),
        ]
    return {row.name: row for row in rows}


def _attribute(name: str, moving: bool, in_lane: bool, with_rider: bool) -> str:
    if name in ('car', 'truck', 'trailer', 'bus', 'construction_vehicle'):
        if moving:
            return 'vehicle.moving'
        return 'vehicle.stopped' if in_lane else 'vehicle.parked'
    if name in ('bicycle', 'motorcycle'):
        return 'cycle.with_rider' if with_rider else 'cycle.without_rider'
    if name == 'pedestrian':
        return 'pedestrian.moving' if moving else 'pedestrian.standing'
    return ''


class _Placer:
    """Places objects into rows without overlap (intervals along x at scene time 0)."""

    def __init__(self, rng: np.random.Generator, rows: Dict[str, _Row]):
        self.rng = rng
        self.rows = rows
        self.tracks: List[Track] = []

    @staticmethod
    def _footprint_x(size: np.ndarray, yaw: float) -> float:
        """Extent along the street [m] of a (length, width, height) box turned by yaw."""
        return abs(np.cos(yaw)) * size[0] + abs(np.sin(yaw)) * size[1]

    def _yaw(self, name: str, row: _Row, length: float) -> float:
        rng = self.rng
        if name == 'barrier':
            return float(np.pi / 2 + rng.normal(0.0, 0.05))
        if name == 'traffic_cone':
            return float(rng.uniform(-np.pi, np.pi))
        if row.direction != 0:
            return 0.0 if row.direction > 0 else float(np.pi)
        if name == 'pedestrian':
            return float(rng.uniform(-np.pi, np.pi))
        base = 0.0 if row.y < 0 else np.pi  # parked with the traffic of that side
        # a little off the curb, but no corner more than 0.1 m out of the strip
        limit = PARKED_CORNER_SHIFT_M / max(length / 2.0, 1e-3)
        return float(base + np.clip(rng.normal(0.0, 0.04), -limit, limit))

    def try_place(self, row_name: str, name: str, x0: float) -> Optional[Track]:
        """Place ``name`` with its centre at x0 (time 0) in a row; None if it overlaps."""
        row = self.rows[row_name]
        moving = row.speed > MOVING_SPEED_MPS
        with_rider = name in ('bicycle', 'motorcycle') and row.direction != 0
        model = CLASS_MODELS[name]
        category, scale = sample_category(model, self.rng)
        size = sample_size(model, self.rng, with_rider, scale)
        yaw = self._yaw(name, row, float(size[0]))
        half_len = self._footprint_x(size, yaw) / 2.0 + 0.3
        lo, hi = x0 - half_len, x0 + half_len
        if any(lo < b and a < hi for a, b in row.occupied):
            return None
        row.occupied.append((lo, hi))
        centers, half, materials = instance_parts(model, size, with_rider)
        paint = model.palette[int(self.rng.integers(len(model.palette)))]
        track = Track(
            name=name, category=category, size=size,
            start_xy=np.array([x0, row.y + self.rng.uniform(-ROW_JITTER_M, ROW_JITTER_M)]),
            velocity_xy=np.array([row.direction * row.speed, 0.0]),
            yaw=yaw, attribute=_attribute(name, moving, row.direction != 0, with_rider),
            with_rider=with_rider, part_centers=centers, part_half=half,
            part_materials=materials, paint_bgr=tuple(int(c) for c in paint))
        self.tracks.append(track)
        return track

    def fill(self, row_name: str, x_lo: float, x_hi: float) -> None:
        row = self.rows[row_name]
        if not row.classes:
            return
        names = list(row.classes)
        weights = np.array([row.classes[n] for n in names])
        weights = weights / weights.sum()
        x = x_lo + self.rng.uniform(*row.gap_m)
        while x < x_hi:
            name = names[int(self.rng.choice(len(names), p=weights))]
            length = CLASS_MODELS[name].size_mean[0] if name != 'barrier' else 0.6
            track = self.try_place(row_name, name, x + length / 2.0)
            x += (length if track is not None else 1.0) + self.rng.uniform(*row.gap_m)


def _row_range(row: _Row, ego_speed: float, duration: float) -> Tuple[float, float]:
    """x range at time 0 whose objects come within VIEW_MARGIN_M of the ego during the scene."""
    v = row.direction * row.speed
    ends = [ego_speed * t - v * t for t in (0.0, duration)]
    return min(ends) - VIEW_MARGIN_M, max(ends) + VIEW_MARGIN_M


def _required_objects(placer: _Placer, ego_speed: float, t_mid: float,
                      work_side: int) -> None:
    """At least one object of every class close to the ego at mid-scene (within eval ranges),
    each shifted along the street at random; in WORK_ZONE_SHARE of the scenes a work zone on
    the ``work_side`` parking strip (-1 right, +1 left) with its own start, cone spacing and
    count; and LOOSE_CONES single cones on random static rows."""
    focus = ego_speed * t_mid
    rows = placer.rows
    rng = placer.rng
    work_strip = 'parking_right' if work_side < 0 else 'parking_left'
    free_strip = 'parking_left' if work_side < 0 else 'parking_right'

    def at_mid(row_name: str, dx: float) -> float:
        row = rows[row_name]
        return focus + dx - row.direction * row.speed * t_mid

    wanted = [('ego_lane', 'car', 15.0), (free_strip, 'truck', 6.0),
              (work_strip, 'trailer', -18.0), ('oncoming_lane', 'bus', 22.0),
              (free_strip, 'construction_vehicle', -10.0), ('bike_right', 'bicycle', -5.0),
              ('standing_left', 'motorcycle', 2.0), ('walk_right', 'pedestrian', 3.0),
              ('walk2_left', 'pedestrian', -4.0), ('standing_right', 'barrier', -8.0),
              ('standing_right', 'pedestrian', 5.0)]
    # keep the oncoming lane clear beside the left-side objects at mid-scene, so that a stopped
    # bus or truck there cannot hide them from the ego for the whole scene
    rows['oncoming_lane'].occupied.append((at_mid('oncoming_lane', -16.0),
                                           at_mid('oncoming_lane', 12.0)))
    for row_name, name, dx in wanted:
        dx += float(rng.uniform(-REQUIRED_SHIFT_M, REQUIRED_SHIFT_M))
        for shift in (0.0, 3.0, -3.0, 6.0, -6.0, 9.0, -9.0, 12.0, -12.0, 16.0, -16.0, 20.0):
            if placer.try_place(row_name, name, at_mid(row_name, dx + shift)) is not None:
                break
    with_work_zone = False
    if rng.random() < WORK_ZONE_SHARE:  # a line of cones closed by two barriers on one strip
        for _ in range(10):  # drawn again where it would overlap an object of that strip
            start = focus + float(rng.uniform(*WORK_ZONE_START_M))
            spacing = float(rng.uniform(2.5, 6.0))
            count = int(rng.integers(3, 8))
            end = start + spacing * (count - 1)
            if not any(start - 6.0 < b and a < end + 6.0 for a, b in rows[work_strip].occupied):
                with_work_zone = True
                break
    if with_work_zone:
        rows[work_strip].occupied.append((start - 6.0, end + 6.0))
        for k in range(count):
            placer.try_place('work_zone', 'traffic_cone', start + spacing * k)
        placer.try_place('work_zone', 'barrier', start - 4.0)
        placer.try_place('work_zone', 'barrier', end + 4.0)
    loose = int(rng.integers(LOOSE_CONES[0] if with_work_zone else 1, LOOSE_CONES[1] + 1))
    placed = 0
    for _ in range(20 * loose):  # a draw that overlaps a placed object is drawn again
        if placed == loose:
            break
        row_name = LOOSE_CONE_ROWS[int(rng.integers(len(LOOSE_CONE_ROWS)))]
        reach = NEAR_CONE_RANGE_M if placed == 0 and not with_work_zone else LOOSE_CONE_RANGE_M
        x = at_mid(row_name, float(rng.uniform(-reach, reach)))
        placed += placer.try_place(row_name, 'traffic_cone', x) is not None


def _static_world(rng: np.random.Generator, x_lo: float, x_hi: float, cross: float
                  ) -> Tuple[StaticParts, np.ndarray]:
    """Buildings and lamp posts on both sides; ``cross`` scales their lateral position."""
    centers, half, materials, colours, lamps = [], [], [], [], []
    for side in (-1, 1):
        x = x_lo + rng.uniform(0.0, 10.0)
        while x < x_hi:
            length = rng.uniform(10.0, 30.0)
            depth = rng.uniform(8.0, 16.0)
            height = rng.uniform(6.0, 28.0)
            y = side * (BUILDING_FRONT_Y_M * cross + rng.uniform(0.0, 2.0) + depth / 2.0)
            centers.append((x + length / 2.0, y, height / 2.0))
            half.append((length / 2.0, depth / 2.0, height / 2.0))
            materials.append('building')
            tone = rng.integers(90, 200)
            tint = rng.integers(-25, 25, size=3)
            colours.append(np.clip(tone + tint, 0, 255))
            x += length + rng.uniform(3.0, 12.0)
        for x in np.arange(x_lo + rng.uniform(0.0, 10.0), x_hi, 28.0):
            y = side * LAMP_Y_M * cross
            centers.append((x, y, LAMP_HEIGHT_M / 2.0))
            half.append((0.1, 0.1, LAMP_HEIGHT_M / 2.0))
            materials.append('pole')
            colours.append(MATERIAL_COLOUR_BGR['pole'])
            lamps.append((x, y - side * 1.0, LAMP_HEIGHT_M))
    static = StaticParts(np.array(centers, dtype=np.float64), np.array(half, dtype=np.float64),
                         np.zeros(len(centers)), materials,
                         np.array(colours, dtype=np.uint8).reshape(-1, 3))
    return static, np.array(lamps, dtype=np.float64).reshape(-1, 3)


def plan_scene(index: int, name: str, description: str, lighting: str, weather: str,
               location: str, log_name: str, start_us: int, num_samples: int,
               rng: np.random.Generator) -> ScenePlan:
    """Lay out one scene (road, ego drive, static world, object tracks) from ``rng``."""
    duration = (num_samples - 1) * KEYFRAME_PERIOD_S
    ego_speed = 0.0 if rng.random() < 0.2 else float(rng.uniform(3.0, 10.0))
    cross = float(rng.uniform(*CROSS_SECTION_SCALE))
    work_side = -1 if rng.random() < 0.6 else 1
    rows = _make_rows(rng, ego_speed, cross, work_side)
    placer = _Placer(rng, rows)
    ego_row = rows['ego_lane']
    ego_row.occupied.append((-EGO_CLEARANCE_M, EGO_CLEARANCE_M))  # the ego itself
    _required_objects(placer, ego_speed, duration / 2.0, work_side)
    for row_name, row in rows.items():
        placer.fill(row_name, *_row_range(row, ego_speed, duration))
    x_lo = -VIEW_MARGIN_M - 50.0
    x_hi = ego_speed * duration + VIEW_MARGIN_M + 50.0
    static, lamps = _static_world(rng, x_lo, x_hi, cross)
    yaw = float(rng.uniform(-np.pi, np.pi))
    origin = (float(rng.uniform(60.0, 140.0)), float(rng.uniform(60.0, 140.0)), 0.0)
    return ScenePlan(index=index, name=name, description=description, lighting=lighting,
                     weather=weather, location=location, log_name=log_name, start_us=start_us,
                     num_samples=num_samples, global_T_road=yaw_pose(yaw, origin),
                     ego_speed_mps=ego_speed, tracks=placer.tracks, static=static,
                     lamp_heads=lamps, road_x_range=(x_lo, x_hi))
