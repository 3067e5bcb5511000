"""Global 3D augmentation keeps the sensors consistent: after mmdet3d's GlobalRotScaleTrans and
BEVRandomFlip3D, PropagateLidarAugmentation moves radar points and velocities like the LiDAR
points and box velocities moved, and camera projections still send every augmented point to
the pixel it came from."""
import copy

import numpy as np
import pytest
from mmdet3d.registry import DATASETS, TRANSFORMS

from fusion_moe.data import lidar_augmentation_matrix

LOADING = [dict(type='LoadLidarSweeps', sweeps_num=10),
           dict(type='LoadCameraImages'),
           dict(type='LoadRadarSweeps', sweeps_num=6),
           dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True)]
AUGMENT = [dict(type='GlobalRotScaleTrans', rot_range=[-0.8, 0.8], scale_ratio_range=[0.9, 1.1],
                translation_std=[0.5, 0.5, 0.2]),
           dict(type='BEVRandomFlip3D', flip_ratio_bev_horizontal=1.0,
                flip_ratio_bev_vertical=1.0),
           dict(type='PropagateLidarAugmentation')]


def _apply(transforms, results):
    for cfg in transforms:
        results = TRANSFORMS.build(cfg)(results)
    return results


@pytest.fixture(scope='module')
def original_and_augmented(tiny_root):
    ds = DATASETS.build(dict(type='FusionNuScenesDataset', data_root=tiny_root,
                             ann_file='nuscenes_infos_train.pkl', pipeline=LOADING))
    original = ds.pipeline(ds.get_data_info(1))
    np.random.seed(3)
    augmented = _apply(AUGMENT, copy.deepcopy(original))
    assert augmented['transformation_3d_flow'] == ['R', 'S', 'T', 'HF', 'VF']
    return original, augmented


def _project(lidar2img, xyz):
    homogeneous = np.concatenate([xyz, np.ones((len(xyz), 1))], axis=1)
    uvd = homogeneous @ np.asarray(lidar2img).T
    depth = uvd[:, 2]
    return uvd[:, :2] / np.maximum(depth[:, None], 1e-6), depth


def test_the_augmentation_matrix_maps_original_to_augmented_lidar_points(original_and_augmented):
    original, augmented = original_and_augmented
    aug = augmented['lidar_aug_matrix']
    xyz = original['points'].tensor.numpy()[:, :3].astype(np.float64)
    moved = xyz @ aug[:3, :3].T + aug[:3, 3]
    np.testing.assert_allclose(moved, augmented['points'].tensor.numpy()[:, :3], atol=1e-3)
    assert not np.allclose(aug, np.eye(4))
    np.testing.assert_allclose(aug, lidar_augmentation_matrix(augmented))


def test_augmented_points_project_to_the_pixels_they_came_from(original_and_augmented):
    original, augmented = original_and_augmented
    xyz = original['points'].tensor.numpy()[:, :3].astype(np.float64)
    xyz_aug = augmented['points'].tensor.numpy()[:, :3].astype(np.float64)
    seen = 0
    for cam in range(6):
        uv, depth = _project(original['lidar2img'][cam], xyz)
        uv_aug, depth_aug = _project(augmented['lidar2img'][cam], xyz_aug)
        height, width = original['img'][cam].shape[:2]
        visible = (depth > 1.0) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & \
            (uv[:, 1] >= 0) & (uv[:, 1] < height)
        seen += int(visible.sum())
        np.testing.assert_allclose(uv_aug[visible], uv[visible], atol=0.05)  # pixels
        np.testing.assert_allclose(depth_aug, depth, atol=1e-3)  # metres
        np.testing.assert_allclose(
            augmented['lidar2img'][cam],
            augmented['cam2img'][cam] @ augmented['lidar2cam'][cam], atol=1e-6)
    assert seen > 1000


def test_radar_points_and_velocities_move_like_lidar_points_and_box_velocities(
        original_and_augmented):
    original, augmented = original_and_augmented
    aug = augmented['lidar_aug_matrix']
    radar, radar_aug = original['radar_points'], augmented['radar_points']
    assert radar_aug.dtype == np.float32 and radar_aug.shape == radar.shape
    np.testing.assert_allclose(radar_aug[:, :3], radar[:, :3] @ aug[:3, :3].T + aug[:3, 3],
                               atol=1e-3)
    # The same linear map turns box velocities in mmdet3d's box structure: radar agrees.
    boxes, boxes_aug = original['gt_bboxes_3d'].tensor.numpy(), \
        augmented['gt_bboxes_3d'].tensor.numpy()
    assert np.abs(boxes[:, 7:9]).max() > 0.5  # the sample has moving objects
    np.testing.assert_allclose(boxes[:, 7:9] @ aug[:2, :2].T, boxes_aug[:, 7:9], atol=1e-3)
    np.testing.assert_allclose(radar_aug[:, 4:6], radar[:, 4:6] @ aug[:2, :2].T, atol=1e-3)
    scale = float(augmented['pcd_scale_factor'])
    np.testing.assert_allclose(np.linalg.norm(radar_aug[:, 4:6], axis=1),
                               scale * np.linalg.norm(radar[:, 4:6], axis=1), atol=1e-3)
    # Channels that are not geometry are untouched.
    np.testing.assert_array_equal(radar_aug[:, [3, 6, 7]], radar[:, [3, 6, 7]])


def test_without_recorded_augmentation_nothing_changes(original_and_augmented):
    original, _ = original_and_augmented
    results = _apply([dict(type='PropagateLidarAugmentation')], copy.deepcopy(original))
    assert 'lidar_aug_matrix' not in results
    np.testing.assert_array_equal(results['radar_points'], original['radar_points'])
    for cam in range(6):
        np.testing.assert_array_equal(results['lidar2img'][cam], original['lidar2img'][cam])


def test_bev_flip_mirrors_points_and_boxes_but_never_the_images(original_and_augmented):
    original, _ = original_and_augmented
    results = _apply([dict(type='BEVRandomFlip3D', flip_ratio_bev_horizontal=1.0,
                           flip_ratio_bev_vertical=0.0)], copy.deepcopy(original))
    assert results['transformation_3d_flow'] == ['HF']
    assert results['pcd_horizontal_flip'] and not results['pcd_vertical_flip']
    pts, pts_flipped = original['points'].tensor.numpy(), results['points'].tensor.numpy()
    np.testing.assert_array_equal(pts_flipped[:, 1], -pts[:, 1])
    np.testing.assert_array_equal(pts_flipped[:, 0], pts[:, 0])
    np.testing.assert_allclose(results['gt_bboxes_3d'].tensor.numpy()[:, 1],
                               -original['gt_bboxes_3d'].tensor.numpy()[:, 1])
    for img, img_flipped in zip(original['img'], results['img']):
        np.testing.assert_array_equal(img_flipped, img)
    with pytest.raises(ValueError, match='flip_ratio_bev_vertical'):
        TRANSFORMS.build(dict(type='BEVRandomFlip3D', flip_ratio_bev_vertical=1.5))


def test_the_matrix_is_packed_with_the_sample(original_and_augmented):
    _, augmented = original_and_augmented
    packed = TRANSFORMS.build(dict(type='PackFusionInputs'))(copy.deepcopy(augmented))
    np.testing.assert_allclose(packed['data_samples'].metainfo['lidar_aug_matrix'],
                               augmented['lidar_aug_matrix'])
