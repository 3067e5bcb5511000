"""tools/model_info.py: per-component parameters, active parameters and FLOPs on a generated
packed batch. Every demo MoE placement and its dense twin (hidden width = top_k x expert width)
must spend equal FLOPs in ``fusion`` while the MoE holds more parameters than a token uses."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from fusion_moe.analysis import model_cost, packed_batch, sizes_from_config
from fusion_moe.registry import MODELS
from tool_scripts import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo')
PLACEMENTS = ('early', 'mid_before', 'mid_after', 'late')


@pytest.fixture(scope='module')
def records(tmp_path_factory):
    """``{(kind, placement): JSON record}`` for the eight demo configs, through the CLI."""
    tmp = tmp_path_factory.mktemp('model_info')
    tool = load_tool('model_info')
    out = {}
    for placement in PLACEMENTS:
        for kind in ('moe', 'dense'):
            path = tmp / f'{kind}_{placement}.json'
            assert tool.main([osp.join(DEMO, f'{kind}_{placement}.py'), '--json', str(path)]) == 0
            out[kind, placement] = json.loads(path.read_text())
    return out


def test_the_json_has_total_and_components_each_with_params_active_and_flops(records):
    for (kind, placement), record in records.items():
        components = record['components']
        expected = ['fusion', 'trunk', 'head'] if placement == 'early' else [
            'encoders', 'fusion', 'trunk', 'head']  # early encodes inside its placement
        assert list(components) == expected
        for entry in [record['total'], *components.values()]:
            assert set(entry) == {'params', 'active_params', 'flops'}
            assert entry['flops'] > 0 and entry['params'] > 0
        assert record['total']['flops'] == sum(c['flops'] for c in components.values())
        assert record['total']['params'] == sum(c['params'] for c in components.values())


@pytest.mark.parametrize('placement', PLACEMENTS)
def test_each_placement_and_its_dense_twin_spend_equal_fusion_flops(records, placement):
    moe, dense = records['moe', placement], records['dense', placement]
    ratio = moe['components']['fusion']['flops'] / dense['components']['fusion']['flops']
    assert ratio == pytest.approx(1.0, abs=0.05)
    assert moe['moe_layers'] and dense['moe_layers'] == {}
    # outside the placement the two models are the same network
    for comp in set(moe['components']) - {'fusion'}:
        assert moe['components'][comp] == dense['components'][comp]


def test_a_token_uses_top_k_of_the_experts_and_the_dense_twin_uses_all_it_has(records):
    cfg = Config.fromfile(osp.join(DEMO, 'moe_mid_after.py'))
    num_experts, top_k = cfg.moe_num_experts, cfg.moe_top_k
    hidden, c = cfg.moe_hidden_channels, cfg.model.fusion.fuser.out_channels
    layers = records['moe', 'mid_after']['moe_layers']
    assert len(layers) == 1
    layer = next(iter(layers.values()))
    assert layer['component'] == 'fusion' and layer['experts_per_token'] == pytest.approx(top_k)
    expert_params = 2 * c * hidden + hidden + c  # w1, w2, b1, b2 of one expert
    unused = (num_experts - top_k) * expert_params
    assert layer['params'] - layer['active_params'] == unused
    fusion = records['moe', 'mid_after']['components']['fusion']
    assert fusion['params'] - fusion['active_params'] == unused
    dense = records['dense', 'mid_after']['components']['fusion']
    assert dense['active_params'] == dense['params']
    # The rest of the placement is the same in both: the twin's FFN replaces the MoE layer.
    dense_ffn = 2 * c * cfg.moe_dense_hidden_channels + cfg.moe_dense_hidden_channels + c
    assert fusion['params'] - layer['params'] == dense['params'] - dense_ffn


def test_flops_are_counted_on_the_batch_the_config_loads():
    cfg = Config.fromfile(osp.join(DEMO, 'detector_cpu.py'))
    sizes = sizes_from_config(cfg)
    # the demo loads the keyframe + 1 sweep, 3 radar scans, images at 1/8 of 1600 x 900
    assert sizes.image_hw == (113, 200) and sizes.cameras == 6
    assert sizes.lidar_points == 2 * 34700 and sizes.radar_points == 3 * 100
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    one = model_cost(model, packed_batch(sizes, 1))['components']
    two = model_cost(model, packed_batch(sizes, 2))['components']
    # convolutions on the BEV grid scale with the batch; the encoders with the points too
    for comp in ('fusion', 'trunk', 'head'):
        assert two[comp]['flops'] == 2 * one[comp]['flops']
    assert two['encoders']['flops'] > one['encoders']['flops']


def test_a_missing_config_is_named():
    with pytest.raises(FileNotFoundError, match='nope.py'):
        load_tool('model_info').main(['nope.py'])
