"""A camera lost to CameraDropout and a camera missing on disk reach the model the same way.

The real keyframe's six images (decoded at 1/8 size) go through the loader, then either the
loader finds CAM_BACK missing (``on_missing='mark_absent'``) or CameraDropout drops it; both
are packed and encoded by a tiny camera-only detector (eval mode, one thread).
"""
import copy
import os.path as osp
import pickle

import pytest
import torch
from mmdet3d.registry import MODELS

from fusion_moe.data import LoadCameraImages
from fusion_moe.data.pack import PackFusionInputs
from fusion_moe.data.real_fixture import REAL_FIXTURE_ROOT
from fusion_moe.degradation import build_degradation
from fusion_moe.structures import CAMERAS

LOST = 'CAM_BACK'


def _info():
    with open(osp.join(REAL_FIXTURE_ROOT, 'n015-2018-07-24-11-22-45+0800.pkl'), 'rb') as f:
        info = pickle.load(f)['data_list'][0]
    images = {cam: dict(img, img_path=osp.join(REAL_FIXTURE_ROOT, 'cameras', img['img_path']))
              for cam, img in info['images'].items()}
    return dict(token=info['token'], images=images, degradations=[],
                modality_present={'lidar': False, 'radar': False})


def _loaded(missing=None, tmp_path=None):
    results = _info()
    if missing:
        results['images'][missing]['img_path'] = str(tmp_path / 'gone.jpg')
    return LoadCameraImages(downscale=8, on_missing='mark_absent')(results)


def _dropout_losing(view: str, results: dict) -> dict:
    """CameraDropout at severity 1 (one view), for the first sample index that drops LOST."""
    for idx in range(200):
        trial = dict(copy.deepcopy(results), sample_idx=idx)
        out = build_degradation('camera_dropout', 1, seed=0, view=view)(trial)
        if out['degradations'][-1]['params']['dropped_cameras'] == [LOST]:
            return out
    raise AssertionError(f'no sample index in 0..199 drops {LOST}')


def _camera_bev(model, results):
    results = dict(results, points=None, radar_points=None, sample_idx=0)
    packed = PackFusionInputs().transform(results)
    batch = {'inputs': {k: [v] for k, v in packed['inputs'].items()},
             'data_samples': [packed['data_samples']]}
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        metas = [s.metainfo for s in data['data_samples']]
        return model.encode(data['inputs'], metas)['camera'][0]


@pytest.fixture
def camera_model(det):
    torch.manual_seed(0)
    return MODELS.build(det.tiny_model_cfg(modalities=('camera',))).eval()


def test_dropped_and_missing_on_disk_views_give_the_same_inputs(real_fixture_root, tmp_path):
    on_disk = _loaded(LOST, tmp_path)
    dropped = _dropout_losing('absent', _loaded())
    assert dropped['cameras_present'] == on_disk['cameras_present'] == [
        cam != LOST for cam in CAMERAS]
    assert dropped['modality_present']['camera'] is on_disk['modality_present']['camera'] is True
    for a, b in zip(dropped['img'], on_disk['img']):
        assert (a == b).all()


def test_the_camera_encoder_sees_a_dropped_view_as_a_missing_one(real_fixture_root, camera_model,
                                                                tmp_path):
    on_disk = _camera_bev(camera_model, _loaded(LOST, tmp_path))
    absent = _camera_bev(camera_model, _dropout_losing('absent', _loaded()))
    black = _camera_bev(camera_model, _dropout_losing('black', _loaded()))
    assert torch.equal(absent, on_disk)
    # a black frame the model is not told about is averaged in: the cells CAM_BACK sees change
    changed = (black - on_disk).abs().amax(dim=1)[0] > 1e-6
    assert 0 < int(changed.sum()) < changed.numel()
