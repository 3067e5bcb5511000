"""The camera encoder's image backbone starts from pretrained weights when they are at hand
(local file, or an URL / torchvision name already in the torch hub cache), keeping the field's
frozen stem and BatchNorm statistics; without weights it says so and freezes nothing."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger

from fusion_moe.models.encoders.camera.pretrained import hub_cache_path, remote_url
from fusion_moe.registry import MODELS

TINY_PCR = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]  # 16 x 16 cells of 1.6 m, LiDAR frame
TINY_CELL = 1.6

BACKBONE = dict(type='mmdet.ResNet', depth=18, num_stages=2, out_indices=(1, ), strides=(2, 2),
                dilations=(1, 1), base_channels=8, norm_cfg=dict(type='BN', requires_grad=True),
                frozen_stages=1, norm_eval=True, style='pytorch')


def _encoder(backbone: dict, **kwargs):
    return MODELS.build(dict(type='CameraSamplingEncoder', point_cloud_range=TINY_PCR,
                             cell_m=TINY_CELL, backbone=backbone, neck=None,
                             feature_channels=16, out_channels=8, heights_m=(0.0, 1.0),
                             **kwargs))


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """A ResNet-18 (8 base channels) state dict with recognisable weights, saved as a file."""
    torch.manual_seed(0)
    donor = MODELS.build(dict(BACKBONE, frozen_stages=-1))
    state = {k: torch.full_like(v, 0.125) if v.is_floating_point() else v
             for k, v in donor.state_dict().items()}
    path = tmp_path / 'resnet18_tiny.pth'
    torch.save({'state_dict': state}, path)
    return str(path), state


@pytest.fixture
def log_records():
    records = []

    class _Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = _Keep()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _is_frozen_stem(backbone) -> bool:
    return not any(p.requires_grad for p in backbone.conv1.parameters()) and \
        not any(p.requires_grad for p in backbone.layer1.parameters())


def test_a_local_checkpoint_is_loaded_and_the_field_freezing_is_kept(tiny_checkpoint):
    path, state = tiny_checkpoint
    encoder = _encoder(dict(BACKBONE, init_cfg=dict(type='Pretrained', checkpoint=path)))
    encoder.backbone.init_weights()
    loaded = encoder.backbone.state_dict()
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, msg=key)
    assert _is_frozen_stem(encoder.backbone)
    assert any(p.requires_grad for p in encoder.backbone.layer2.parameters())
    encoder.train()
    assert not encoder.backbone.bn1.training  # norm_eval: BatchNorm statistics stay frozen


def test_an_url_already_in_the_hub_cache_is_loaded_from_there(tiny_checkpoint, tmp_path,
                                                              monkeypatch):
    path, state = tiny_checkpoint
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    cached = hub_cache_path(remote_url('torchvision://resnet18'))
    assert cached.startswith(str(tmp_path / 'hub'))
    (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.save({'state_dict': state}, cached)
    encoder = _encoder(dict(BACKBONE, init_cfg=dict(type='Pretrained',
                                                    checkpoint='torchvision://resnet18')))
    assert encoder.backbone.init_cfg['checkpoint'] == cached
    encoder.backbone.init_weights()
    torch.testing.assert_close(encoder.backbone.conv1.weight, state['conv1.weight'])
    assert _is_frozen_stem(encoder.backbone)


def test_without_weights_training_starts_from_scratch_with_nothing_frozen(
        tmp_path, monkeypatch, log_records):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'empty_hub'))
    for init in (None, dict(type='Pretrained', checkpoint='torchvision://resnet50')):
        backbone = dict(BACKBONE) if init is None else dict(BACKBONE, init_cfg=init)
        encoder = _encoder(backbone)
        assert all(p.requires_grad for p in encoder.backbone.parameters())
        encoder.train()
        assert encoder.backbone.bn1.training and encoder.backbone.layer1[0].bn1.training
        assert not any(c.get('type') == 'Pretrained' for c in encoder.backbone.init_cfg)
    messages = [r.getMessage() for r in log_records if r.levelno == logging.WARNING]
    assert sum('training starts from scratch' in m for m in messages) == 2
    assert any('resnet50' in m and 'download' in m for m in messages)


def test_scratch_also_overrides_the_norm_eval_default_of_mmdet(log_records):
    backbone = {k: v for k, v in BACKBONE.items() if k not in ('frozen_stages', 'norm_eval')}
    encoder = _encoder(backbone)  # mmdet's ResNet defaults to norm_eval=True
    encoder.train()
    assert encoder.backbone.bn1.training


def test_a_missing_local_checkpoint_is_an_error_naming_it(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _encoder(dict(BACKBONE, init_cfg=dict(type='Pretrained', checkpoint=missing)))
