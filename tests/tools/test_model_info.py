"""tools/model_info.py: per-component parameters, active parameters and FLOPs on a generated
packed batch. A toy MoE fuser and its dense twin (hidden width = top_k x expert width) must
spend equal FLOPs in ``fusion`` while the MoE holds more parameters than a token uses."""
import importlib.util
import json
import os.path as osp
from typing import Dict, Optional, Tuple

import pytest
import torch
from mmengine.config import Config
from torch import Tensor, nn

from fusion_moe.analysis import model_cost, packed_batch, sizes_from_config
from fusion_moe.models.fusion.concat import ConcatConvFuser
from fusion_moe.models.moe import DenseFFN, MoELayer
from fusion_moe.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')
TOP_K, EXPERT_HIDDEN, NUM_EXPERTS = 2, 32, 8


@MODELS.register_module(force=True)
class ToyMoEFuserForModelInfo(nn.Module):
    """ConcatConvFuser, then ``x + MoE(x)`` on the fused cells, or ``x + FFN(x)`` with the
    MoE's active hidden width when ``moe`` is False (the dense twin)."""

    def __init__(self, in_channels: Dict[str, int], out_channels: int, moe: bool) -> None:
        super().__init__()
        self.fuse = ConcatConvFuser(in_channels, out_channels)
        self.out_channels = out_channels
        self.moe: Optional[MoELayer] = (MoELayer(
            out_channels, EXPERT_HIDDEN, NUM_EXPERTS, router=dict(type='TopKRouter', top_k=TOP_K))
            if moe else None)
        self.dense = None if moe else DenseFFN(out_channels, TOP_K * EXPERT_HIDDEN, out_channels)

    def forward(self, features: Dict[str, Tuple[Tensor, Tensor]]) -> Tensor:
        x = self.fuse(features)
        if self.moe is not None:
            return x + self.moe.forward_bev(x)[0]
        b, c, h, w = x.shape
        y = self.dense(x.permute(0, 2, 3, 1).reshape(-1, c))
        return x + y.view(b, h, w, c).permute(0, 3, 1, 2)


def _tool():
    spec = importlib.util.spec_from_file_location('fusion_tool_model_info',
                                                  osp.join(REPO, 'tools', 'model_info.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(tmp_path, moe: bool) -> str:
    path = tmp_path / f"toy_{'moe' if moe else 'dense'}.py"
    path.write_text(f'_base_ = [{DEMO!r}]\n'
                    f"model = dict(fuser=dict(_delete_=True, type='ToyMoEFuserForModelInfo', "
                    f'out_channels=32, moe={moe}))\n')
    return str(path)


@pytest.fixture(scope='module')
def toy_pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('model_info')
    tool = _tool()
    records = {}
    for moe in (True, False):
        out = tmp / f'{moe}.json'
        assert tool.main([_config(tmp, moe), '--json', str(out)]) == 0
        records['moe' if moe else 'dense'] = json.loads(out.read_text())
    return records


def test_the_json_has_total_and_the_four_components_each_with_params_active_and_flops(toy_pair):
    for record in toy_pair.values():
        assert list(record['components']) == ['encoders', 'fusion', 'trunk', 'head']
        for entry in [record['total'], *record['components'].values()]:
            assert set(entry) == {'params', 'active_params', 'flops'}
            assert entry['flops'] > 0 and entry['params'] > 0
        assert record['total']['flops'] == sum(c['flops'] for c in record['components'].values())
        assert record['total']['params'] == sum(c['params']
                                                for c in record['components'].values())


def test_moe_and_its_dense_twin_spend_equal_fusion_flops(toy_pair):
    moe, dense = (toy_pair[k]['components']['fusion']['flops'] for k in ('moe', 'dense'))
    assert moe / dense == pytest.approx(1.0, abs=0.05)
    # every other component is the same network
    for comp in ('encoders', 'trunk', 'head'):
        assert toy_pair['moe']['components'][comp] == toy_pair['dense']['components'][comp]


def test_a_token_uses_top_k_of_the_experts_and_the_dense_twin_uses_all_it_has(toy_pair):
    layers = toy_pair['moe']['moe_layers']
    assert list(layers) == ['fuser.moe']
    layer = layers['fuser.moe']
    assert layer['component'] == 'fusion' and layer['experts_per_token'] == pytest.approx(TOP_K)
    c = 32
    expert_params = 2 * c * EXPERT_HIDDEN + EXPERT_HIDDEN + c  # w1, w2, b1, b2 of one expert
    unused = (NUM_EXPERTS - TOP_K) * expert_params
    assert layer['params'] - layer['active_params'] == unused
    fusion = toy_pair['moe']['components']['fusion']
    assert fusion['params'] - fusion['active_params'] == unused
    assert toy_pair['dense']['moe_layers'] == {}
    dense = toy_pair['dense']['components']['fusion']
    assert dense['active_params'] == dense['params']
    # active parameters per token match too, but for the router and the extra output biases
    # (each of the top-k experts adds its own; the twin's FFN has one)
    router, extra_biases = c * NUM_EXPERTS, (TOP_K - 1) * c
    assert fusion['active_params'] - router - extra_biases == dense['active_params']


def test_flops_are_counted_on_the_batch_the_config_loads():
    cfg = Config.fromfile(DEMO)
    sizes = sizes_from_config(cfg)
    # the demo loads the keyframe + 1 sweep, 3 radar scans, images at 1/8 of 1600 x 900
    assert sizes.image_hw == (113, 200) and sizes.cameras == 6
    assert sizes.lidar_points == 2 * 34700 and sizes.radar_points == 3 * 100
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    one = model_cost(model, packed_batch(sizes, 1))['components']
    two = model_cost(model, packed_batch(sizes, 2))['components']
    # convolutions on the BEV grid and images scale with the batch
    for comp in ('fusion', 'trunk', 'head'):
        assert two[comp]['flops'] == 2 * one[comp]['flops']
    assert two['encoders']['flops'] > one['encoders']['flops']


def test_a_missing_config_is_named():
    with pytest.raises(FileNotFoundError, match='nope.py'):
        _tool().main(['nope.py'])
