"""The nuScenes training recipe's data side keeps camera, LiDAR and radar consistent on the
synthetic set: the GT database holds each box's LiDAR and radar points, GT sampling pastes
both (and clears the scene's points inside pasted boxes), image augmentation moves the
projection with the pixels, and after the whole training pipeline (GT sampling, image
augmentation, global 3D augmentation) LiDAR points still project onto the pixels that show them
and radar points still sit in their boxes."""
import copy
import os.path as osp

import mmengine
import numpy as np
import pytest
from mmdet3d.registry import DATASETS, TRANSFORMS
from mmdet3d.structures.ops import box_np_ops

from fusion_moe.data import create_gt_database
from fusion_moe.structures import CLASSES, RADAR_POINT_DIMS

LOADING = [dict(type='LoadLidarSweeps', sweeps_num=2),
           dict(type='LoadCameraImages'),
           dict(type='LoadRadarSweeps', sweeps_num=3),
           dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True)]
IMAGE_AUG = dict(type='MultiViewImageAug', final_hw=(64, 128), resize_range=(0.9, 1.3),
                 rotate_deg=(-8.0, 8.0), flip_ratio=0.5)
GLOBAL_AUG = [dict(type='GlobalRotScaleTrans', rot_range=[-0.8, 0.8],
                   scale_ratio_range=[0.9, 1.1], translation_std=[0.5, 0.5, 0.2]),
              dict(type='BEVRandomFlip3D', flip_ratio_bev_horizontal=0.5,
                   flip_ratio_bev_vertical=0.5),
              dict(type='PropagateLidarAugmentation')]


def _db_sampler(root: str, per_class: int = 6) -> dict:
    return dict(type='FusionDataBaseSampler', data_root=root,
                info_path=osp.join(root, 'nuscenes_dbinfos_train.pkl'), rate=1.0,
                prepare=dict(filter_by_difficulty=[-1],
                             filter_by_min_points={c: 3 for c in CLASSES}),
                classes=list(CLASSES), sample_groups={c: per_class for c in CLASSES},
                points_loader=dict(type='LoadPointsFromFile', coord_type='LIDAR', load_dim=6,
                                   use_dim=list(range(6))))


def _apply(transforms, results):
    for cfg in transforms:
        results = TRANSFORMS.build(copy.deepcopy(cfg))(results)
    return results


@pytest.fixture(scope='module')
def db_root(synth_root):
    create_gt_database(synth_root, lidar_sweeps=2, radar_sweeps=3)
    return synth_root


@pytest.fixture(scope='module')
def loaded(db_root):
    ds = DATASETS.build(dict(type='FusionNuScenesDataset', data_root=db_root,
                             ann_file='nuscenes_infos_train.pkl', pipeline=LOADING))
    return [ds.pipeline(ds.get_data_info(i)) for i in range(2)]


def _project(lidar2img, xyz):
    uvd = np.concatenate([xyz, np.ones((len(xyz), 1))], axis=1) @ np.asarray(lidar2img).T
    return uvd[:, :2] / np.maximum(uvd[:, 2:3], 1e-6), uvd[:, 2]


def _colours(img, uv):
    """BGR at the nearest pixel of each (u, v); NaN where outside the image."""
    h, w = img.shape[:2]
    col, row = np.round(uv[:, 0]).astype(int), np.round(uv[:, 1]).astype(int)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = np.full((len(uv), 3), np.nan)
    out[inside] = img[row[inside], col[inside]]
    return out


def _colour_error(original, augmented, xyz, xyz_aug, lidar2img_aug):
    """Median |BGR difference| between each object point's pixel before and after (over the
    points visible in both), and how many points that was."""
    errors = []
    for cam in range(len(original['img'])):
        uv, depth = _project(original['lidar2img'][cam], xyz)
        uv_aug, depth_aug = _project(lidar2img_aug[cam], xyz_aug)
        before = _colours(original['img'][cam], uv)
        after = _colours(augmented['img'][cam], uv_aug)
        seen = (depth > 1.0) & (depth_aug > 1.0) & ~np.isnan(before[:, 0]) & \
            ~np.isnan(after[:, 0])
        errors.append(np.abs(before[seen] - after[seen]).mean(1))
    errors = np.concatenate(errors)
    return float(np.median(errors)), len(errors)


def _in_each_box(points, boxes, margin_m: float = 0.0):
    """(N, G) bool: point (rows x, y, z, ...) inside box (enlarged by margin_m per side)."""
    boxes = np.array(boxes[:, :7], dtype=np.float64)
    boxes[:, 3:6] += 2 * margin_m
    boxes[:, 2] -= margin_m
    return box_np_ops.points_in_rbbox(np.asarray(points)[:, :3], boxes)


def _in_boxes(points, boxes, margin_m: float = 0.0):
    """(N,) bool: point inside any box (enlarged by margin_m per side)."""
    return _in_each_box(points, boxes, margin_m).any(1)


def _in_boxes_count(points, boxes, margin_m: float = 0.0):
    """(G,) points inside each box (enlarged by margin_m per side)."""
    return _in_each_box(points, boxes, margin_m).sum(0)


def _object_points(results, boxes=None):
    """(N, 3) LiDAR points inside the sample's (or the given) boxes, LiDAR frame."""
    xyz = results['points'].tensor.numpy()[:, :3]
    boxes = results['gt_bboxes_3d'].numpy() if boxes is None else boxes
    return box_np_ops.points_in_rbbox(xyz, boxes[:, :7]).any(1)


def test_the_database_holds_each_box_s_lidar_and_radar_points(db_root, loaded):
    db = mmengine.load(osp.join(db_root, 'nuscenes_dbinfos_train.pkl'))
    assert set(db) == set(CLASSES)  # the synthetic set has every class
    radar_total = 0
    for infos in db.values():
        for info in infos[:20]:
            box = info['box3d_lidar'][None]
            pts = np.fromfile(osp.join(db_root, info['path']), np.float32).reshape(-1, 6)
            assert len(pts) == info['num_points_in_gt']
            pts[:, :3] += box[0, :3]
            assert box_np_ops.points_in_rbbox(pts[:, :3], box[:, :7]).all()
            radar = np.fromfile(osp.join(db_root, info['radar_path']), np.float32)
            radar = radar.reshape(-1, len(RADAR_POINT_DIMS))
            assert len(radar) == info['num_radar_pts']
            radar[:, :3] += box[0, :3]
            assert box_np_ops.points_in_rbbox(radar[:, :3], box[:, :7]).all()
            radar_total += len(radar)
    assert radar_total > 0


def test_gt_sampling_pastes_lidar_and_radar_points_and_clears_the_pasted_boxes(
        db_root, loaded):
    original = loaded[0]
    np.random.seed(0)
    sampled = _apply([dict(type='FusionObjectSample', db_sampler=_db_sampler(db_root))],
                     copy.deepcopy(original))
    pasted = sampled['gt_sampled']
    n_orig = len(original['gt_labels_3d'])
    assert pasted.sum() >= 5 and not pasted[:n_orig].any()
    boxes = sampled['gt_bboxes_3d'].numpy()
    np.testing.assert_array_equal(boxes[:n_orig], original['gt_bboxes_3d'].numpy())
    new_boxes = boxes[pasted]
    for key in ('points', 'radar_points'):
        before, after = original[key], sampled[key]
        before = before.tensor.numpy() if hasattr(before, 'tensor') else before
        after = after.tensor.numpy() if hasattr(after, 'tensor') else after
        # the scene keeps its points except those inside the pasted boxes, after the pasted
        # objects' points
        cleared = _in_boxes(before, new_boxes)
        n_pasted = len(after) - int((~cleared).sum())
        assert n_pasted > 0, key
        np.testing.assert_array_equal(after[n_pasted:], before[~cleared])
        assert not _in_boxes(after[n_pasted:], new_boxes).any(), key
        # the pasted points lie in the pasted boxes (synthetic returns sit on the box faces,
        # hence the 1 cm margin for float32 rounding)
        assert _in_boxes(after[:n_pasted], new_boxes, margin_m=0.01).all(), key
    assert sampled['radar_points'].dtype == np.float32


def test_image_augmentation_moves_the_projection_with_the_pixels(loaded):
    original = loaded[0]
    np.random.seed(1)
    augmented = _apply([IMAGE_AUG], copy.deepcopy(original))
    assert all(img.shape == (64, 128, 3) for img in augmented['img'])
    for cam in range(6):
        np.testing.assert_allclose(augmented['lidar2img'][cam],
                                   augmented['cam2img'][cam] @ augmented['lidar2cam'][cam],
                                   atol=1e-6)
        np.testing.assert_allclose(augmented['lidar2img'][cam],
                                   augmented['img_aug_matrix'][cam] @ original['lidar2img'][cam])
    assert len({tuple(np.round(m[:2, :3].ravel(), 6)) for m in augmented['img_aug_matrix']}) > 1
    xyz = original['points'].tensor.numpy()[:, :3]
    objects = _object_points(original)
    error, seen = _colour_error(original, augmented, xyz[objects], xyz[objects],
                                augmented['lidar2img'])
    stale, _ = _colour_error(original, augmented, xyz[objects], xyz[objects],
                             original['lidar2img'])
    assert seen > 200
    assert error < 12 and stale > 2 * error, (error, stale)  # BGR levels of 255


def test_the_test_time_resize_is_fixed_and_centred(loaded):
    original = loaded[0]
    cfg = dict(IMAGE_AUG, training=False)
    first = _apply([cfg], copy.deepcopy(original))['img_aug_matrix']
    again = _apply([cfg], copy.deepcopy(original))['img_aug_matrix']
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
    assert np.allclose(first[0][:2, :2], first[0][0, 0] * np.eye(2))  # no rotation, no flip
    with pytest.raises(ValueError, match='final_hw'):
        TRANSFORMS.build(dict(IMAGE_AUG, final_hw=(64, )))


def test_after_the_whole_training_pipeline_every_sensor_agrees(db_root, loaded):
    original = loaded[1]
    sample = dict(type='FusionObjectSample', db_sampler=_db_sampler(db_root))
    np.random.seed(2)
    pasted_only = _apply([sample], copy.deepcopy(original))
    np.random.seed(2)  # the same draws, then image and global 3D augmentation
    augmented = _apply([sample, IMAGE_AUG, *GLOBAL_AUG], copy.deepcopy(original))
    assert augmented['transformation_3d_flow'][:3] == ['R', 'S', 'T']
    aug = augmented['lidar_aug_matrix']
    pasted = augmented['gt_sampled']
    assert pasted.any()
    np.testing.assert_array_equal(pasted, pasted_only['gt_sampled'])
    # camera: the scene's own object points (not those a paste cleared), moved by the 3D
    # augmentation, land on the pixels that showed them
    xyz = original['points'].tensor.numpy()[:, :3].astype(np.float64)
    boxes = original['gt_bboxes_3d'].numpy()
    kept = ~box_np_ops.points_in_rbbox(xyz, pasted_only['gt_bboxes_3d'].numpy()[pasted][:, :7]
                                       ).any(1)
    objects = box_np_ops.points_in_rbbox(xyz, boxes[:, :7]).any(1) & kept
    moved = xyz[objects] @ aug[:3, :3].T + aug[:3, 3]
    error, seen = _colour_error(original, augmented, xyz[objects], moved,
                                augmented['lidar2img'])
    assert seen > 200 and error < 12, (error, seen)
    # LiDAR and radar moved with the boxes: each box holds the same points as after pasting
    boxes_aug = augmented['gt_bboxes_3d'].numpy()
    boxes_pasted = pasted_only['gt_bboxes_3d'].numpy()
    for key in ('points', 'radar_points'):
        before, after = pasted_only[key], augmented[key]
        before = before.tensor.numpy() if hasattr(before, 'tensor') else before
        after = after.tensor.numpy() if hasattr(after, 'tensor') else after
        np.testing.assert_allclose(after[:, :3], before[:, :3] @ aug[:3, :3].T + aug[:3, 3],
                                   atol=1e-3)
        # returns sit on the box faces: count in boxes grown by 2 cm, scaled with the scene
        margin = 0.02 * float(augmented['pcd_scale_factor'])
        counts_before = _in_boxes_count(before, boxes_pasted, 0.02)
        counts_after = _in_boxes_count(after, boxes_aug, margin)
        np.testing.assert_array_equal(counts_after, counts_before, err_msg=key)
        assert counts_after[pasted].sum() > 0, key
