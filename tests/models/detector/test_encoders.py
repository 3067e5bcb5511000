"""Encoders put each modality on the shared BEV grid, in the right cell, and zero when absent."""
import numpy as np
import torch

from fusion_moe.models.encoders import LidarPillarEncoder, RadarPointEncoder
from fusion_moe.models.encoders.camera.view_transform import (
    bev_points_lidar, sample_cameras_to_bev)
from fusion_moe.structures import BEVGrid

TINY_PCR = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
TINY_CELL = 1.6
TINY_IMG_HW = (64, 112)
GRID = BEVGrid.from_config(TINY_PCR, TINY_CELL)  # 16 x 16 cells of 1.6 m


def _cell_of(x: float, y: float):
    """(row iy, column ix) of the cell containing LiDAR-frame point (x, y)."""
    return (int((y - TINY_PCR[1]) // TINY_CELL), int((x - TINY_PCR[0]) // TINY_CELL))


def test_lidar_points_land_in_their_cell_rows_y_columns_x():
    enc = LidarPillarEncoder(TINY_PCR, TINY_CELL, out_channels=4, max_pillars=(100, 100)).eval()
    pts = torch.tensor([[5.0, -3.0, 0.0, 100.0, 3.0, 0.0]] * 3)
    bev, present = enc([pts], torch.tensor([True]))
    assert bev.shape == (1, 4, GRID.H, GRID.W)
    nonzero = bev[0].abs().sum(0).nonzero().tolist()
    assert nonzero == [list(_cell_of(5.0, -3.0))]
    assert present.tolist() == [True]


def test_lidar_absent_or_empty_sample_gives_zero_map_and_false_flag():
    enc = LidarPillarEncoder(TINY_PCR, TINY_CELL, out_channels=4, max_pillars=(100, 100)).eval()
    pts = torch.tensor([[1.0, 1.0, 0.0, 10.0, 0.0, 0.0]])
    out_of_range = torch.tensor([[100.0, 0.0, 0.0, 10.0, 0.0, 0.0]])
    bev, present = enc([pts, pts, torch.zeros(0, 6), out_of_range],
                       torch.tensor([True, False, True, True]))
    assert present.tolist() == [True, False, False, False]
    assert bev[0].abs().sum() > 0
    assert torch.all(bev[1:] == 0)


def test_camera_sampling_reads_the_projected_pixel_and_ignores_points_behind(det):
    """Feature = pixel column u; a BEV point must receive the u its lidar2img projects to."""
    h, w = TINY_IMG_HW
    u = torch.arange(w, dtype=torch.float32).expand(h, w)
    feats = u[None, None, None]  # (B=1, N=1, C=1, h, w), feature map = image resolution
    l2i = torch.from_numpy(det.front_camera_lidar2img(TINY_IMG_HW)).float()[None, None]
    pts = torch.tensor([[[[6.0, 1.0, 0.0], [-6.0, 1.0, 0.0]]]])  # (Z=1, H=1, W=2, 3)
    mean, seen = sample_cameras_to_bev(feats, l2i, pts, (h, w))
    proj = l2i[0, 0] @ torch.tensor([6.0, 1.0, 0.0, 1.0])
    expected_u = float(proj[0] / proj[2])
    assert seen[0, 0, 0].tolist() == [1.0, 0.0]  # the point behind the camera is not seen
    assert abs(float(mean[0, 0, 0, 0, 0]) - expected_u) < 1e-3
    assert float(mean[0, 0, 0, 0, 1]) == 0.0


def test_camera_sampling_averages_over_the_cameras_that_see_a_point(det):
    h, w = TINY_IMG_HW
    l2i = torch.from_numpy(det.front_camera_lidar2img(TINY_IMG_HW)).float()
    feats = torch.stack([torch.full((1, h, w), 2.0), torch.full((1, h, w), 4.0)])[None]
    pts = torch.tensor([[[[6.0, 0.0, 0.0]]]])
    mean, seen = sample_cameras_to_bev(feats, torch.stack([l2i, l2i])[None], pts, (h, w))
    assert float(seen) == 2.0 and abs(float(mean) - 3.0) < 1e-5


def test_bev_sampling_points_are_cell_centres_in_the_lidar_frame():
    pts = bev_points_lidar(GRID, heights_m=(0.5, ))
    assert pts.shape == (1, GRID.H, GRID.W, 3)
    assert torch.allclose(pts[0, 0, 0], torch.tensor([-12.0, -12.0, 0.5]))
    assert torch.allclose(pts[0, 2, 5], torch.tensor([-12.8 + 5.5 * 1.6, -12.8 + 2.5 * 1.6, 0.5]))


def test_radar_keeps_mean_velocity_of_its_cell_and_count():
    enc = RadarPointEncoder(TINY_PCR, TINY_CELL, mlp_channels=(4, )).eval()
    radar = torch.tensor([[3.5, 3.6, 0.0, 5.0, 2.0, -1.0, 0.0, 0.0],
                          [3.9, 4.0, 0.0, 5.0, 4.0, -3.0, 0.1, 0.0],
                          [-7.0, 0.5, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]])
    bev, present = enc([radar], torch.tensor([True]))
    assert bev.shape == (1, enc.out_channels, GRID.H, GRID.W) and enc.out_channels == 7
    iy, ix = _cell_of(3.5, 3.6)
    assert torch.allclose(bev[0, 4:6, iy, ix], torch.tensor([3.0, -2.0]))
    assert torch.isclose(bev[0, 6, iy, ix], torch.log1p(torch.tensor(2.0)))
    occupied = (bev[0].abs().sum(0) > 0).sum()
    assert int(occupied) == 2


def test_radar_absent_sample_is_zero_even_if_points_were_given():
    enc = RadarPointEncoder(TINY_PCR, TINY_CELL, mlp_channels=(4, ))
    radar = torch.tensor([[3.0, 3.1, 0.0, 5.0, 2.0, -1.0, 0.0, 0.0]])
    bev, present = enc([radar, radar], torch.tensor([False, True]))
    assert present.tolist() == [False, True]
    assert torch.all(bev[0] == 0) and bev[1].abs().sum() > 0


def test_radar_cost_is_linear_many_points_in_one_cell_is_fine():
    enc = RadarPointEncoder(TINY_PCR, TINY_CELL, mlp_channels=(4, ))
    radar = torch.zeros(20000, 8)
    radar[:, 4] = torch.from_numpy(np.linspace(0, 2, 20000)).float()
    bev, _ = enc([radar], torch.tensor([True]))
    iy, ix = _cell_of(0.0, 0.0)
    assert torch.isclose(bev[0, 4, iy, ix], torch.tensor(1.0), atol=1e-4)


def test_camera_sampling_leaves_missing_views_out_of_the_average(det):
    h, w = TINY_IMG_HW
    l2i = torch.from_numpy(det.front_camera_lidar2img(TINY_IMG_HW)).float()
    feats = torch.stack([torch.full((1, h, w), 2.0), torch.full((1, h, w), 4.0)])[None]
    pts = torch.tensor([[[[6.0, 0.0, 0.0]]]])
    mean, seen = sample_cameras_to_bev(feats, torch.stack([l2i, l2i])[None], pts, (h, w),
                                       view_present=torch.tensor([[False, True]]))
    assert float(seen) == 1.0 and abs(float(mean) - 4.0) < 1e-5
