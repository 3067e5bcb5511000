"""The realism statistics on tiny hand-made inputs whose answers are known, and on the real
fixture where the issue quotes its figures (fusion_moe/evaluation/realism)."""
import math

import cv2
import numpy as np
import pytest

from fusion_moe.evaluation.realism import Row, count_met, format_table
from fusion_moe.evaluation.realism.camera_images import (condition_of, flat_noise_sigma,
                                                         image_statistics)
from fusion_moe.evaluation.realism.distances import (abs_log_ratio, shares,
                                                     total_variation, wasserstein1)
from fusion_moe.evaluation.realism.lidar_scans import ground_mask, scan_statistics
from fusion_moe.evaluation.realism.radar_objects import (INTERIOR_DEPTH_M,
                                                         associate_returns, clutter_share,
                                                         object_counts,
                                                         visible_surface_distance)
from fusion_moe.evaluation.realism.radar_scans import (FIELD, decode_rms,
                                                       default_filter_mask)
from fusion_moe.evaluation.realism.radar_scans import scan_statistics as radar_statistics
from fusion_moe.evaluation.realism.sources import Keyframe, RadarScanRecord
from fusion_moe.structures import CLASSES


# ------------------------------------------------------------------ distances
def test_wasserstein_of_a_shift_is_the_shift_and_works_on_histograms():
    values = np.array([1.0, 2.0, 5.0, 9.0])
    assert wasserstein1(values + 3.0, values) == pytest.approx(3.0)
    centres = np.arange(4.0)
    assert wasserstein1(centres, centres, [0, 1, 0, 0], [0, 0, 0, 1]) == pytest.approx(2.0)
    assert math.isnan(wasserstein1([], values))


def test_total_variation_is_the_share_of_mass_that_changes_category():
    assert total_variation([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0
    assert total_variation([1, 0], [0, 1]) == 1.0
    assert total_variation([0.8, 0.2], [0.6, 0.4]) == pytest.approx(0.2)
    with pytest.raises(ValueError, match='different categories'):
        total_variation([1, 0], [1, 0, 0])


def test_shares_count_codes_and_refuse_unknown_ones():
    assert shares([0, 0, 1, 3], range(4)).tolist() == [0.5, 0.25, 0.0, 0.25]
    with pytest.raises(ValueError, match=r'\[9\]'):
        shares([0, 9], range(4))


def test_abs_log_ratio_is_symmetric_in_over_and_undershoot():
    assert abs_log_ratio(2.0, 1.0) == pytest.approx(math.log(2))
    assert abs_log_ratio(1.0, 2.0) == pytest.approx(math.log(2))
    assert abs_log_ratio(0.0, 1.0) == math.inf


# ------------------------------------------------------------------ radar scans
def _radar(n: int, **fields) -> np.ndarray:
    """(18, n) radar points, all passing the default filters unless fields say otherwise."""
    pts = np.zeros((18, n))
    pts[FIELD['x']] = np.arange(1, n + 1)
    pts[FIELD['ambig_state']] = 3
    pts[FIELD['dyn_prop']] = 1
    for name, values in fields.items():
        pts[FIELD[name]] = values
    return pts


def test_rms_codes_decode_to_the_ars408_geometric_scale():
    # the sensor's documented steps: code 0 < 0.005, 16 < 0.288, 19 < 0.616, 30 < 10
    assert decode_rms(np.array([0, 16, 19, 21, 30])) == pytest.approx(
        [0.005, 0.288, 0.616, 1.023, 10.0], rel=2e-3)
    assert np.isnan(decode_rms(np.array([31]))).all()


def test_default_filters_keep_what_the_devkit_keeps():
    pts = _radar(5, invalid_state=[0, 1, 0, 0, 0], dyn_prop=[0, 0, 7, 6, 1],
                 ambig_state=[3, 3, 3, 3, 4])
    assert default_filter_mask(pts).tolist() == [True, False, False, True, False]


def test_radar_scan_statistics_count_before_and_after_filters():
    a = _radar(4, invalid_state=[0, 0, 1, 1], rcs=[10, 20, -5, -5], x_rms=[16, 16, 0, 0])
    b = _radar(2)
    nan_marker = np.zeros((18, 1))
    nan_marker[FIELD['x']] = np.nan                        # nuScenes' empty scan
    stats = radar_statistics([RadarScanRecord(a), RadarScanRecord(b),
                              RadarScanRecord(nan_marker)])
    assert stats['points_per_scan'].tolist() == [4, 2, 0]
    assert stats['kept_per_scan'].tolist() == [2, 2, 0]
    assert sorted(stats['rcs'].tolist()) == [0, 0, 10, 20]
    assert stats['invalid_state'].tolist() == [0, 0, 1, 1, 0, 0]
    assert stats['x_rms_m'][:2] == pytest.approx([0.288, 0.288], rel=2e-3)


# ------------------------------------------------------------------ radar vs objects
def test_visible_surface_is_the_edge_facing_the_sensor():
    # a 4 m x 2 m footprint, the sensor 10 m ahead along its length: only the u = +2 face
    uv = np.array([[2.0, 0.0], [0.0, 0.0], [1.5, 0.9], [-2.0, 0.0]])
    d = visible_surface_distance(uv, np.array([10.0, 0.0]), 4.0, 2.0)
    assert d == pytest.approx([0.0, 2.0, 0.5, 4.0])
    # from a corner's side two faces are visible: the point near the side face is close
    d = visible_surface_distance(np.array([[0.0, 0.9]]), np.array([10.0, 10.0]), 4.0, 2.0)
    assert d == pytest.approx([0.1])


def _keyframe(points: np.ndarray, boxes: np.ndarray, lag: float = 0.0) -> Keyframe:
    return Keyframe(lidar_path='', image_paths={}, boxes=boxes,
                    labels=np.zeros(len(boxes), dtype=np.int64),
                    num_radar_pts=np.zeros(len(boxes), dtype=np.int64),
                    radar_scans=[RadarScanRecord(points, np.eye(4), lag)])


def test_returns_are_associated_placed_and_their_velocity_error_measured():
    # a car 4 m x 2 m at x = 10 m ahead of a sensor at the origin, moving +2 m/s along x
    box = np.array([[10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0, 2.0, 0.0]])
    xs = [8.0, 8.1, 10.0, 30.0]               # surface, near surface, interior, clutter
    pts = _radar(4, x=xs, y=[0.0, 0.5, 0.0, 0.0], vx_comp=[2.0, 2.5, 2.0, 0.0])
    got = associate_returns([_keyframe(pts, box)])
    assert got.kept_points == 4 and got.unassociated == 1
    assert got.surface_m == pytest.approx([0.0, 0.1, 2.0])
    assert got.interior.tolist() == [False, False, True]
    assert 2.0 > INTERIOR_DEPTH_M
    # the radial (line-of-sight) component of (vx_comp, vy_comp) minus the box's
    los = np.array([[1.0, 0.0], [8.1, 0.5], [1.0, 0.0]])
    los /= np.linalg.norm(los, axis=1, keepdims=True)
    expected = [0.0, 2.5 * los[1, 0] - 2.0 * los[1, 0], 0.0]
    assert got.radial_error_mps == pytest.approx(expected)


def test_boxes_are_moved_to_the_scan_time():
    box = np.array([[10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0, 10.0, 0.0]])
    pts = _radar(1, x=[7.0])   # 0.1 s before the keyframe the car's face was at 7 m
    assert associate_returns([_keyframe(pts, box, lag=0.1)]).surface_m == pytest.approx([0.0])


def test_no_calibrated_scan_means_no_association():
    kf = Keyframe('', {}, np.zeros((0, 9)), np.zeros(0, np.int64), np.zeros(0, np.int64),
                  [RadarScanRecord(_radar(3))])
    assert associate_returns([kf]) is None


def test_object_counts_and_clutter_share_read_num_radar_pts():
    kf = Keyframe('', {}, np.array([[3.0, 4.0, 0, 4, 2, 1.5, 0, 0, 0],
                                    [30.0, 40.0, 0, 0.7, 0.7, 1.7, 0, 0, 0]]),
                  np.array([CLASSES.index('car'), CLASSES.index('pedestrian')]),
                  np.array([3, 1]))
    assert object_counts([kf]) == {'car': [(3, 5.0)], 'pedestrian': [(1, 50.0)]}
    assert clutter_share(8.0, [kf]) == pytest.approx(0.5)


# ------------------------------------------------------------------ LiDAR
def _lidar_scan() -> np.ndarray:
    """A flat ground 1.8 m below the sensor (600 returns), a wall (400), 8 rays without a
    return at the origin."""
    rng = np.random.default_rng(0)
    ground = np.stack([rng.uniform(-20, 20, 600), rng.uniform(3, 20, 600),
                       np.full(600, -1.8), rng.uniform(0, 10, 600), np.zeros(600)], axis=1)
    wall = np.stack([rng.uniform(-5, 5, 400), np.full(400, 15.0), rng.uniform(-1.0, 3, 400),
                     np.full(400, 50.0), np.full(400, 31)], axis=1)
    none = np.zeros((8, 5))
    return np.concatenate([ground, wall, none]).astype(np.float32)


def test_lidar_ground_share_ring_counts_and_close_rays():
    stats = scan_statistics(_lidar_scan())
    assert int(stats['records']) == 1008 and int(stats['points']) == 1000
    assert stats['ring_counts'][0] == 600 and stats['ring_counts'][31] == 400
    # every ground return and none of the wall's (it starts 0.8 m above the ground)
    assert stats['ground'][:600].all() and not stats['ground'][600:].any()
    assert stats['intensity'].max() == 50.0


def test_lidar_ground_is_none_when_no_horizontal_plane():
    rng = np.random.default_rng(0)
    wall = np.stack([rng.uniform(-3, 3, 200), np.full(200, 5.0), rng.uniform(-3, -1.2, 200)],
                    axis=1)                              # a vertical plane below the sensor
    assert not ground_mask(wall).any()
    tilted = wall[:, [0, 2, 1]].copy()                   # the same plane laid flat ...
    tilted[:, 2] = -2.0 + 0.5 * tilted[:, 1]             # ... and tilted by 27 degrees
    assert not ground_mask(tilted).any()
    flat = tilted.copy()
    flat[:, 2] = -2.0
    assert ground_mask(flat).all()


def test_lidar_rings_outside_the_sensor_are_an_error():
    bad = _lidar_scan()
    bad[0, 4] = 40
    with pytest.raises(ValueError, match='ring'):
        scan_statistics(bad)


# ------------------------------------------------------------------ camera
def test_flat_region_noise_recovers_a_known_sigma_despite_edges():
    rng = np.random.default_rng(0)
    _, xx = np.mgrid[0:240, 0:320]
    img = 60 + 0.2 * xx + rng.normal(0.0, 3.0, xx.shape)
    img[:, 160:] += 90.0                                    # a strong edge
    img[100:140, 20:300] += rng.uniform(-40, 40, (40, 280))  # a textured band
    assert flat_noise_sigma(img) == pytest.approx(3.0, rel=0.15)
    assert flat_noise_sigma(np.full((64, 64), 128.0)) == 0.0


def test_image_statistics_pool_brightness_per_condition(tmp_path):
    paths = []
    for k, value in enumerate((40, 200)):
        path = str(tmp_path / f'{k}.png')
        cv2.imwrite(path, np.full((48, 64, 3), value, dtype=np.uint8))
        paths.append(path)
    stats = image_statistics([('night', paths[0]), ('day', paths[1])])
    assert stats['night']['brightness_hist'][40] == 48 * 64
    assert stats['day']['brightness_hist'][200] == 48 * 64 and stats['day']['images'] == 1
    assert condition_of('night', 'rain') == 'night' and condition_of('day', 'rain') == 'rain'


# ------------------------------------------------------------------ table
def test_rows_judge_their_target_and_unmeasurable_rows_are_not_judged():
    rows = [Row('radar', 'a', 1.0, 2.0, 'W1', 0.5, '<= 1'),
            Row('radar', 'b', 1.0, 2.0, 'W1', 2.0, '<= 1'),
            Row('lidar', 'c', 1.0, 2.0, 'ratio', 0.2, '>= 0.5'),
            Row('camera', 'd', None, 2.0, 'W1', float('nan'), '<= 1'),
            Row('camera', 'e', 1.0, 2.0, 'W1', 9.0)]
    assert [r.met for r in rows] == [True, False, False, None, None]
    assert count_met(rows) == {'judged': 3, 'met': 1, 'not_met': ['radar: b', 'lidar: c']}
    text = format_table(rows)
    assert 'NO' in text and len(text.splitlines()) == 2 + len(rows)


# ------------------------------------------------------------------ the real fixture
def test_real_fixture_figures_the_issue_quotes(real_fixture_root):
    from fusion_moe.evaluation.realism.sources import RealFixture
    real = RealFixture(real_fixture_root)
    kf, = list(real.keyframes())
    assert len(kf.boxes) == 69 and len(kf.image_paths) == 6 and not kf.radar_scans
    cars = [n for n, _ in object_counts([kf])['car']]
    assert np.mean(cars) == pytest.approx(1.25) and np.mean(np.array(cars) == 0) == 0.5
    scans = list(real.radar_scans())
    assert [s.points.shape for s in scans] == [(18, 125)] * 3
    assert all(s.sensor2lidar is None for s in scans)
    # the devkit's default filters keep 70 of 125 points on average
    assert radar_statistics(scans)['kept_per_scan'].mean() == pytest.approx(70.0)
