"""The fixture itself follows fusion_moe/structures/sensors.py, and bad input is refused."""
import numpy as np
import pytest
from mmdet3d.structures import LiDARInstance3DBoxes
from mmdet3d.structures.points import LiDARPoints

from fusion_moe.degradation import build_degradation
from fusion_moe.structures import CAMERAS, LIDAR_POINT_DIMS, RADAR_POINT_DIMS, validate_context


def test_fixture_has_the_contract_layout(real_results):
    r = real_results
    assert isinstance(r['points'], LiDARPoints)
    assert r['points'].tensor.shape == (34688, len(LIDAR_POINT_DIMS))
    assert len(r['img']) == len(CAMERAS)
    assert all(i.shape == (900, 1600, 3) and i.dtype == np.uint8 for i in r['img'])
    for key in ('cam2img', 'lidar2cam', 'lidar2img'):
        assert len(r[key]) == len(CAMERAS)
        assert all(m.shape == (4, 4) and m.dtype == np.float64 for m in r[key])
    assert r['radar_points'].shape == (210, len(RADAR_POINT_DIMS))
    assert r['radar_points'].dtype == np.float32
    assert isinstance(r['gt_bboxes_3d'], LiDARInstance3DBoxes)
    assert r['gt_bboxes_3d'].tensor.shape == (69, 9)
    assert r['gt_labels_3d'].dtype == np.int64
    validate_context(r['context'])
    assert r['degradations'] == []


def test_lidar_projects_into_the_front_camera(real_results):
    """Calibration sanity: many keyframe points land inside CAM_FRONT."""
    pts = real_results['points'].tensor.numpy()[:, :3]
    uvw = np.c_[pts, np.ones(len(pts))] @ real_results['lidar2img'][0].T
    front = uvw[:, 2] > 1
    u, v = uvw[front, 0] / uvw[front, 2], uvw[front, 1] / uvw[front, 2]
    inside = (u >= 0) & (u < 1600) & (v >= 0) & (v < 900)
    assert inside.sum() > 3000


@pytest.mark.parametrize('key,name', [('points', 'lidar_fog'), ('radar_points', 'radar_fog')])
def test_nan_points_are_refused_with_the_key(key, name, small_results):
    if key == 'points':
        arr = small_results['points'].tensor.numpy().copy()
        arr[5, 0] = np.nan
        small_results['points'] = small_results['points'].new_point(arr)
    else:
        small_results['radar_points'][3, 3] = np.nan
    with pytest.raises(ValueError, match=f"results\\['{key}'\\] has 1 rows with NaN"):
        build_degradation(name, 3)(small_results)
