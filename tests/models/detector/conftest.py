"""Tiny detector configs and hand-made packed batches for the detector tests (one thread)."""
import copy
import sys

import numpy as np
import pytest
import torch
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
from mmengine.structures import InstanceData

import fusion_moe  # noqa: F401  (registration)
from fusion_moe.structures import CLASSES

torch.set_num_threads(1)

#: 16 x 16 cells of 1.6 m over +-12.8 m (LiDAR frame)
TINY_PCR = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
TINY_CELL = 1.6
TINY_IMG_HW = (64, 112)


def tiny_model_cfg(modalities=('camera', 'lidar', 'radar'), out_size_factor: int = 1) -> dict:
    """A FusionDetector config small enough for unit tests (a few M-flops per sample)."""
    pcr, cell = TINY_PCR, TINY_CELL
    grid = [round((pcr[3] - pcr[0]) / cell), round((pcr[4] - pcr[1]) / cell), 1]
    post = [pcr[0] - 5, pcr[1] - 5, -10.0, pcr[3] + 5, pcr[4] + 5, 10.0]
    encoders = dict(
        camera=dict(type='CameraSamplingEncoder',
                    backbone=dict(type='mmdet.ResNet', depth=18, num_stages=2,
                                  out_indices=(1, ), strides=(2, 2), dilations=(1, 1),
                                  base_channels=8, norm_cfg=dict(type='BN')),
                    neck=None, feature_channels=16, out_channels=8,
                    heights_m=(0.0, 1.0)),
        lidar=dict(type='LidarPillarEncoder', out_channels=8, max_points_per_pillar=8,
                   max_pillars=(500, 500)),
        radar=dict(type='RadarPointEncoder', mlp_channels=(8, )))
    stride = 2 if out_size_factor == 2 else 1
    return dict(
        type='FusionDetector',
        bev_grid=dict(point_cloud_range=pcr, cell_m=cell),
        encoders={m: encoders[m] for m in modalities},
        fuser=dict(type='ConcatConvFuser', out_channels=16),
        backbone=dict(type='SECOND', in_channels=16, out_channels=[16], layer_nums=[1],
                      layer_strides=[stride]),
        neck=None,
        bbox_head=dict(
            type='CenterHead', in_channels=16,
            tasks=[dict(num_class=10, class_names=list(CLASSES))],
            common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
            share_conv_channel=16,
            bbox_coder=dict(type='CenterPointBBoxCoder', post_center_range=post, max_num=50,
                            score_threshold=0.0, out_size_factor=out_size_factor,
                            voxel_size=[cell, cell], pc_range=pcr[:2], code_size=9),
            separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=3),
            loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
            loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
            norm_bbox=True,
            train_cfg=dict(grid_size=grid, voxel_size=[cell, cell, 8.0],
                           out_size_factor=out_size_factor, dense_reg=1, gaussian_overlap=0.1,
                           max_objs=50, min_radius=2, point_cloud_range=pcr,
                           code_weights=[1.0] * 8 + [0.2, 0.2]),
            test_cfg=dict(post_center_limit_range=post, max_per_img=50, max_pool_nms=False,
                          min_radius=[4], score_threshold=0.0, pc_range=pcr[:2],
                          out_size_factor=out_size_factor, voxel_size=[cell, cell],
                          nms_type='rotate', pre_max_size=100, post_max_size=30,
                          nms_thr=0.2)))


def front_camera_lidar2img(img_hw=TINY_IMG_HW) -> np.ndarray:
    """A pinhole camera at the LiDAR origin looking along +x (camera z = LiDAR x)."""
    h, w = img_hw
    f = w / 2.0
    cam2img = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    # camera axes: x right = -y_lidar, y down = -z_lidar, z forward = x_lidar
    lidar2cam = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
    return cam2img @ lidar2cam


def make_sample(seed: int, present=None, num_cams: int = 2) -> tuple:
    """One packed sample: (inputs dict, Det3DDataSample) with a car at (5, 2) in the LiDAR frame."""
    rng = np.random.default_rng(seed)
    present = present or {'camera': True, 'lidar': True, 'radar': True}
    car = np.array([[5.0, 2.0, -1.0, 4.5, 1.9, 1.6, 0.3, 1.0, 0.0]], dtype=np.float32)
    n = 300
    pts = np.zeros((n, 6), dtype=np.float32)
    pts[:, 0] = car[0, 0] + rng.uniform(-2, 2, n)
    pts[:, 1] = car[0, 1] + rng.uniform(-0.9, 0.9, n)
    pts[:, 2] = rng.uniform(-1, 0.6, n)
    pts[:, 3] = rng.uniform(0, 255, n)
    pts[:, 4] = rng.integers(0, 32, n)
    radar = np.array([[5.0, 2.0, 0.0, 10.0, 1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    inputs = {
        'points': torch.from_numpy(pts) if present['lidar'] else torch.zeros(0, 6),
        'img': (torch.from_numpy(rng.integers(0, 255, (num_cams, 3, *TINY_IMG_HW)).astype(
            np.uint8)) if present['camera'] else torch.zeros(num_cams, 3, *TINY_IMG_HW,
                                                             dtype=torch.uint8)),
        'radar_points': torch.from_numpy(radar) if present['radar'] else torch.zeros(0, 8),
    }
    sample = Det3DDataSample()
    sample.set_metainfo(dict(
        lidar2img=[front_camera_lidar2img()] * num_cams, modality_present=dict(present),
        box_type_3d=LiDARInstance3DBoxes, sample_idx=seed, token=f'tok{seed}',
        context={'lighting': 'day', 'weather': 'clear', 'source': 'metadata'}))
    gt = InstanceData()
    gt.bboxes_3d = LiDARInstance3DBoxes(torch.from_numpy(car), box_dim=9)
    gt.labels_3d = torch.tensor([0])
    sample.gt_instances_3d = gt
    return inputs, sample


def make_batch(seeds=(0, 1), presents=None) -> dict:
    presents = presents or [None] * len(seeds)
    pairs = [make_sample(s, p) for s, p in zip(seeds, presents)]
    return {'inputs': {k: [p[0][k] for p in pairs] for k in pairs[0][0]},
            'data_samples': [p[1] for p in pairs]}


@pytest.fixture
def tiny_cfg():
    return copy.deepcopy(tiny_model_cfg())


@pytest.fixture
def det():
    """The helpers of this conftest (tiny_model_cfg, make_batch, ...), for the test modules."""
    return sys.modules[__name__]


#: a tiny MoE layer config for the placement tests (4 token-wise experts, top-2, width 8)
TINY_MOE = dict(type='MoELayer', hidden_channels=8, num_experts=4,
                router=dict(type='TopKRouter', top_k=2, normalize_gates=True),
                context_bias='off', aux_loss_weights=dict(balance=0.01, z=0.001))
TINY_DENSE_HIDDEN = 16  # top_k * hidden_channels


def tiny_placement_cfg(placement: str, moe=True, **moe_options) -> dict:
    """``tiny_model_cfg`` with ``model.fusion`` = the placement (``moe=False``: its dense twin)."""
    cfg = tiny_model_cfg()
    cfg.pop('fuser')
    moe_cfg = dict(TINY_MOE, **moe_options) if moe else None
    common = dict(moe=moe_cfg, dense_hidden_channels=TINY_DENSE_HIDDEN)
    fuser = dict(type='ConcatConvFuser', out_channels=16)
    if placement == 'early':
        cfg['encoders'] = None
        cfg['fusion'] = dict(type='EarlyFusion', pillar_channels=16, out_channels=16,
                             max_points_per_pillar=8, max_pillars=(500, 500), **common)
    elif placement == 'mid_before':
        cfg['fusion'] = dict(type='MidBeforeFusion', fuser=fuser, moe_channels=16, **common)
    elif placement == 'mid_after':
        cfg['fusion'] = dict(type='MidAfterFusion', fuser=fuser, **common)
    elif placement == 'late':
        cfg['fusion'] = dict(type='LateFusion', moe_channels=16, **common)
    else:
        raise KeyError(placement)
    return cfg
