"""The sparse voxel LiDAR encoder (mmdet3d's SparseEncoder over spconv) is a drop-in for the
pillar encoder: same inputs, a BEV map on the shared grid plus presence, zero when absent, and
it trains on CPU (forward and backward through spconv)."""
import copy

import pytest
import torch
from mmdet3d.registry import MODELS

from fusion_moe.models.encoders import LidarSparseEncoder
from fusion_moe.structures import BEVGrid

TINY_PCR = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
TINY_CELL = 1.6  # 16 x 16 BEV cells; voxels of 0.2 m, 8x downsampled, give exactly these
GRID = BEVGrid.from_config(TINY_PCR, TINY_CELL)
SMALL = dict(voxel_m=(0.2, 0.2, 0.2), base_channels=4, output_channels=8,
             encoder_channels=((4, ), (8, 8), (8, 8), (8, )),
             encoder_paddings=((1, ), (1, 1), (1, 1), ((0, 1, 1), )),
             block_type='conv_module', max_voxels=(2000, 2000))


def _cell_of(x: float, y: float):
    """(row iy, column ix) of the BEV cell containing LiDAR-frame point (x, y)."""
    return (int((y - TINY_PCR[1]) // TINY_CELL), int((x - TINY_PCR[0]) // TINY_CELL))


def _blob(x: float, y: float, n: int = 200, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    pts = torch.zeros(n, 6)
    pts[:, 0] = x + 0.3 * torch.rand(n, generator=g)
    pts[:, 1] = y + 0.3 * torch.rand(n, generator=g)
    pts[:, 2] = -1.0 + 1.5 * torch.rand(n, generator=g)
    pts[:, 3] = 255 * torch.rand(n, generator=g)
    return pts


def test_points_light_up_their_own_cell_and_its_neighbourhood_only():
    torch.manual_seed(0)
    enc = LidarSparseEncoder(TINY_PCR, TINY_CELL, **SMALL).eval()
    bev, present = enc([_blob(5.0, -3.0)], torch.tensor([True]))
    assert bev.shape == (1, enc.out_channels, GRID.H, GRID.W)
    assert present.tolist() == [True]
    row, col = _cell_of(5.1, -2.9)
    active = bev[0].abs().sum(0).nonzero().tolist()
    assert [row, col] in active
    # each stride-2 sparse convolution may add one neighbour: the output stays local
    assert all(abs(r - row) <= 1 and abs(c - col) <= 1 for r, c in active), active


def test_absent_empty_or_out_of_range_samples_give_zero_maps_and_false_flags():
    enc = LidarSparseEncoder(TINY_PCR, TINY_CELL, **SMALL).eval()
    far = _blob(100.0, 0.0)
    bev, present = enc([_blob(1.0, 1.0), _blob(1.0, 1.0), torch.zeros(0, 6), far],
                       torch.tensor([True, False, True, True]))
    assert present.tolist() == [True, False, False, False]
    assert bev[0].abs().sum() > 0 and torch.all(bev[1:] == 0)
    bev, present = enc([torch.zeros(0, 6)], torch.tensor([True]))
    assert bev.shape == (1, enc.out_channels, GRID.H, GRID.W) and torch.all(bev == 0)


def test_forward_and_backward_run_on_cpu_through_spconv():
    torch.manual_seed(0)
    enc = LidarSparseEncoder(TINY_PCR, TINY_CELL, **SMALL).train()
    bev, _ = enc([_blob(5.0, -3.0, seed=1), _blob(-4.0, 6.0, seed=2)],
                 torch.tensor([True, True]))
    (bev ** 2).mean().backward()
    grads = [p.grad for p in enc.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert enc.encoder.conv_input[0].weight.grad.abs().sum() > 0


def test_the_voxel_size_must_land_on_the_bev_grid():
    with pytest.raises(ValueError, match='cell_m'):
        LidarSparseEncoder(TINY_PCR, TINY_CELL, **dict(SMALL, voxel_m=(0.075, 0.075, 0.2)))
    with pytest.raises(ValueError, match='height bins'):
        LidarSparseEncoder(TINY_PCR, TINY_CELL, **dict(SMALL, voxel_m=(0.2, 0.2, 0.4)))


def test_nuscenes_defaults_are_bevfusion_voxels_on_a_0_6_m_grid():
    enc = LidarSparseEncoder([-54.0, -54.0, -5.0, 54.0, 54.0, 3.0], 0.6)
    assert enc.sparse_shape == [41, 1440, 1440]  # CenterPoint / BEVFusion 0.075 m
    assert enc.out_channels == 256


def test_the_detector_takes_it_in_place_of_the_pillars_and_trains(det):
    cfg = copy.deepcopy(det.tiny_model_cfg(modalities=('lidar', 'radar')))
    cfg['encoders']['lidar'] = dict(type='LidarSparseEncoder', **SMALL)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    losses = model(**model.data_preprocessor(det.make_batch(), True), mode='loss')
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.encoders['lidar'].parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
