"""The synthetic set as the nuScenes devkit sees it: it loads unmodified, its ground truth
scores mAP = NDS = 1 with DetectionEval on the validation split, and its annotations agree with
its sensor data (point counts, velocities, radar Doppler, attributes, visibility, context)."""
import json
import os
import sys

import cv2
import numpy as np
import pytest
from nuscenes import NuScenes
from nuscenes.eval.common.loaders import load_gt
from nuscenes.eval.detection.config import config_factory
from nuscenes.eval.detection.data_classes import DetectionBox
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.utils.data_classes import LidarPointCloud, RadarPointCloud
from nuscenes.utils.geometry_utils import points_in_box
from pyquaternion import Quaternion

from fusion_moe.data.synthetic.tables import TABLE_NAMES
from fusion_moe.structures import CLASSES, context_from_description
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # synth_fixtures
from synth_fixtures import EVAL_SET, make_set  # noqa: E402

CLASS_RANGE = config_factory('detection_cvpr_2019').class_range


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth_eval'))
    version = make_set(root, seed=11, **EVAL_SET)
    return root, version, NuScenes(version, root, verbose=False)


def _global_points(nusc, sd_token, points_xyz):
    sd = nusc.get('sample_data', sd_token)
    cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
    pose = nusc.get('ego_pose', sd['ego_pose_token'])
    pts = points_xyz @ Quaternion(cs['rotation']).rotation_matrix.T + cs['translation']
    return pts @ Quaternion(pose['rotation']).rotation_matrix.T + pose['translation']


def test_devkit_loads_all_13_tables_and_the_map(synth):
    root, version, nusc = synth
    assert version == 'v1.0-mini'
    for table in TABLE_NAMES:
        assert os.path.isfile(os.path.join(root, version, f'{table}.json')), table
        assert len(getattr(nusc, table)) > 0, table
    assert len(nusc.scene) == EVAL_SET['num_scenes']
    assert all(s['nbr_samples'] == EVAL_SET['samples_per_scene'] for s in nusc.scene)
    for m in nusc.map:
        assert os.path.isfile(os.path.join(root, m['filename']))
    names = {s['name'] for s in nusc.scene}
    assert names & {'scene-0103', 'scene-0916'}, 'no mini_val scene'
    assert names - {'scene-0103', 'scene-0916'}, 'no mini_train scene'


def test_ground_truth_submitted_as_predictions_scores_perfectly(synth, tmp_path):
    _, _, nusc = synth
    gt = load_gt(nusc, 'mini_val', DetectionBox)
    results, score = {}, 1.0
    for token in gt.sample_tokens:
        results[token] = []
        for box in gt[token]:
            if box.num_pts <= 0:  # the devkit drops such ground truth; they would be FPs
                continue
            score -= 1e-4  # distinct scores: equal scores hide TP errors in the devkit
            results[token].append({
                'sample_token': token, 'translation': list(box.translation),
                'size': list(box.size), 'rotation': list(box.rotation),
                'velocity': list(box.velocity), 'detection_name': box.detection_name,
                'detection_score': score, 'attribute_name': box.attribute_name})
    path = tmp_path / 'results.json'
    path.write_text(json.dumps({'meta': {'use_camera': True, 'use_lidar': True,
                                         'use_radar': True, 'use_map': False,
                                         'use_external': False}, 'results': results}))
    metrics = DetectionEval(nusc, config_factory('detection_cvpr_2019'), str(path), 'mini_val',
                            str(tmp_path / 'eval'), verbose=False).main(render_curves=False)
    assert set(metrics['mean_dist_aps']) == set(CLASSES)
    assert metrics['mean_ap'] >= 0.99, metrics['mean_dist_aps']
    assert metrics['nd_score'] >= 0.99, metrics['tp_errors']


def test_every_scene_has_every_class_within_eval_range_with_points(synth):
    _, _, nusc = synth
    for scene in nusc.scene:
        seen = set()
        token = scene['first_sample_token']
        while token:
            sample = nusc.get('sample', token)
            pose = nusc.get('ego_pose', nusc.get('sample_data', sample['data']['LIDAR_TOP'])[
                'ego_pose_token'])
            for ann_token in sample['anns']:
                ann = nusc.get('sample_annotation', ann_token)
                name = category_to_detection_name(ann['category_name'])
                dist = np.hypot(*(np.array(ann['translation'][:2]) - pose['translation'][:2]))
                if dist < CLASS_RANGE[name] and ann['num_lidar_pts'] + ann['num_radar_pts'] > 0:
                    seen.add(name)
            token = sample['next']
        assert seen == set(CLASSES), (scene['name'], set(CLASSES) - seen)


def test_num_lidar_pts_equals_the_devkit_recount_on_the_keyframe_scan(synth):
    root, _, nusc = synth
    checked = mismatched = 0
    for sample in nusc.sample[::3]:
        sd_token = sample['data']['LIDAR_TOP']
        pc = LidarPointCloud.from_file(os.path.join(root, nusc.get('sample_data',
                                                                   sd_token)['filename']))
        pts = _global_points(nusc, sd_token, pc.points[:3].T).T
        for ann_token in sample['anns']:
            ann = nusc.get('sample_annotation', ann_token)
            count = int(points_in_box(nusc.get_box(ann_token), pts).sum())
            checked += 1
            mismatched += count != ann['num_lidar_pts']
    assert checked > 100
    assert mismatched == 0


def test_lidar_scans_look_like_an_hdl32e(synth):
    root, _, nusc = synth
    sd = nusc.get('sample_data', nusc.sample[0]['data']['LIDAR_TOP'])
    raw = np.fromfile(os.path.join(root, sd['filename']), dtype=np.float32)
    assert raw.size % 5 == 0
    pts = raw.reshape(-1, 5)
    assert 25_000 < len(pts) < 40_000
    assert np.isfinite(pts).all()
    assert set(np.unique(pts[:, 4]).astype(int)) == set(range(32))
    assert pts[:, 3].min() >= 0 and pts[:, 3].max() <= 255


def test_moving_tracks_have_devkit_velocities_and_parked_ones_do_not(synth):
    _, _, nusc = synth
    speeds = {'vehicle.moving': [], 'vehicle.parked': [], 'pedestrian.moving': [],
              'pedestrian.standing': []}
    for ann in nusc.sample_annotation:
        attrs = [nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']]
        if attrs and attrs[0] in speeds:
            speeds[attrs[0]].append(np.linalg.norm(nusc.box_velocity(ann['token'])[:2]))
    assert min(speeds['vehicle.moving']) > 0.5
    assert max(speeds['vehicle.parked']) < 1e-6
    assert 0.9 < np.median(speeds['pedestrian.moving']) < 1.7
    assert max(speeds['pedestrian.standing']) < 1e-6


def test_attributes_visibility_and_categories_are_nuscenes(synth):
    _, _, nusc = synth
    visibilities, pedestrian_categories = set(), set()
    for ann in nusc.sample_annotation:
        name = category_to_detection_name(ann['category_name'])
        assert name in CLASSES, ann['category_name']
        attrs = [nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']]
        if name in ('traffic_cone', 'barrier'):
            assert attrs == []
        else:
            assert len(attrs) == 1
            prefix = {'pedestrian': 'pedestrian.', 'bicycle': 'cycle.',
                      'motorcycle': 'cycle.'}.get(name, 'vehicle.')
            assert attrs[0].startswith(prefix), (name, attrs)
        visibilities.add(ann['visibility_token'])
        if name == 'pedestrian':
            pedestrian_categories.add(ann['category_name'])
    assert {'1', '4'} <= visibilities
    # several official categories map to one detection class (adult, child, worker, ...)
    assert 'human.pedestrian.adult' in pedestrian_categories
    assert len(pedestrian_categories) > 1


def test_radar_returns_carry_radial_ego_compensated_velocities(synth):
    """Returns flagged moving inside a moving box carry that box's radial velocity along the
    line of sight, as a Doppler radar measures it: with noise (never exact), and a small share
    of outliers (returns of another object or false alarms falling into the box)."""
    root, _, nusc = synth
    errors = []
    RadarPointCloud.disable_filters()
    try:
        for sample in nusc.sample[::2]:
            boxes = [(nusc.get_box(t), nusc.box_velocity(t)[:2]) for t in sample['anns']]
            for channel in ('RADAR_FRONT', 'RADAR_FRONT_LEFT', 'RADAR_BACK_RIGHT'):
                sd_token = sample['data'][channel]
                sd = nusc.get('sample_data', sd_token)
                pc = RadarPointCloud.from_file(os.path.join(root, sd['filename'])).points
                pts = _global_points(nusc, sd_token, pc[:3].T)
                cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
                pose = nusc.get('ego_pose', sd['ego_pose_token'])
                rot = (Quaternion(pose['rotation']).rotation_matrix
                       @ Quaternion(cs['rotation']).rotation_matrix)[:2, :2]
                sensor = _global_points(nusc, sd_token, np.zeros((1, 3)))[0, :2]
                v_comp = pc[8:10].T @ rot.T
                for box, velocity in boxes:
                    if not np.isfinite(velocity).all() or np.linalg.norm(velocity) < 1.0:
                        continue
                    # returns flagged moving (0) or oncoming (2): Doppler of a moving object
                    moving = np.isin(pc[3], (0, 2))
                    inside = points_in_box(box, pts.T, wlh_factor=1.3) & moving
                    for p in np.flatnonzero(inside):
                        los = pts[p, :2] - sensor
                        los /= np.linalg.norm(los)
                        # the velocity is a vector along the line of sight
                        assert abs(np.cross(los, v_comp[p])) < 1e-3 * (
                            1.0 + np.linalg.norm(v_comp[p]))
                        # a point sees the object at the radar time, the box is at the sample
                        errors.append(abs(v_comp[p] @ los - velocity @ los))
    finally:
        RadarPointCloud.default_filters()
    errors = np.array(errors)
    assert len(errors) > 20
    assert np.mean(errors < 0.5) > 0.7
    assert np.median(errors) < 0.3
    assert np.median(errors) > 0.01  # measured with noise, not copied from the ground truth


def test_default_devkit_radar_filters_keep_object_returns(synth):
    root, _, nusc = synth
    sample = nusc.sample[len(nusc.sample) // 2]
    sd = nusc.get('sample_data', sample['data']['RADAR_FRONT'])
    pc = RadarPointCloud.from_file(os.path.join(root, sd['filename']))
    assert pc.points.shape[0] == 18 and pc.points.shape[1] > 5
    assert sum(a['num_radar_pts'] for a in map(
        lambda t: nusc.get('sample_annotation', t), sample['anns'])) > 5


def test_images_decode_at_the_requested_size(synth):
    root, _, nusc = synth
    sample = nusc.sample[0]
    for channel in ('CAM_FRONT', 'CAM_BACK_LEFT'):
        sd = nusc.get('sample_data', sample['data'][channel])
        img = cv2.imread(os.path.join(root, sd['filename']))
        w, h = EVAL_SET['image_size']
        assert img.shape == (h, w, 3)
        assert img.std() > 10  # not a blank frame


def test_scene_descriptions_give_the_generated_context(synth):
    root, _, nusc = synth
    with open(os.path.join(root, 'SYNTHETIC.json')) as f:
        meta = {s['name']: s for s in json.load(f)['scenes']}
    for scene in nusc.scene:
        ctx = context_from_description(scene['description'])
        assert ctx['lighting'] == meta[scene['name']]['lighting']
        assert ctx['weather'] == meta[scene['name']]['weather']
