"""Upcycling clones the dense generalist into every expert kind."""
import pytest
import torch

from fusion_moe.models.moe import DenseFFN, GroupedFFNExperts, MoELayer, upcycle_experts
from fusion_moe.models.moe.upcycle import upcycle_layer


def _layer(kinds=None, **kwargs):
    num = len(kinds) if kinds else 4
    return MoELayer(6, 12, num, router=dict(type='TopKRouter', top_k=2, normalize_gates=True),
                    expert_kinds=kinds, generalist_hidden_channels=12, global_pool=2, **kwargs)


@pytest.mark.parametrize('kinds', [None, ('ffn', 'local', 'local', 'global')])
def test_exact_upcycling_makes_the_moe_layer_equal_the_dense_generalist(kinds):
    layer = _layer(kinds)
    layer.set_stage('dense')
    x = torch.randn(2, 6, 4, 5)
    dense_out, record = layer.forward_bev(x)
    assert record.experts is None  # dense stage: no routing
    upcycle_layer(layer, noise_std=0.0)
    assert layer.stage == 'moe'
    moe_out, record = layer.forward_bev(x)
    assert record.experts is not None
    torch.testing.assert_close(moe_out, dense_out, rtol=1e-5, atol=1e-5)


def test_noisy_upcycling_makes_experts_differ_slightly_and_is_seeded():
    dense = DenseFFN(6, 12, 6)
    a, b = GroupedFFNExperts(3, 6, 12, 6), GroupedFFNExperts(3, 6, 12, 6)
    upcycle_experts(dense, a, noise_std=0.01, generator=torch.Generator().manual_seed(1))
    upcycle_experts(dense, b, noise_std=0.01, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a.w1_EDF, b.w1_EDF)
    w1 = dense.fc1.weight.t()
    relative = ((a.w1_EDF - w1).std() / w1.std()).detach()
    assert 0.005 < float(relative) < 0.02
    assert not torch.allclose(a.w1_EDF[0], a.w1_EDF[1])


def test_upcycling_checks_shapes_and_needs_a_generalist():
    with pytest.raises(ValueError, match='does not match'):
        upcycle_experts(DenseFFN(6, 10, 6), GroupedFFNExperts(2, 6, 12, 6))
    with pytest.raises(ValueError, match='generalist'):
        upcycle_layer(MoELayer(6, 12, 4))
    with pytest.raises(ValueError, match='generalist'):
        MoELayer(6, 12, 4).set_stage('dense')


def test_stage_is_saved_in_the_state_dict():
    layer = _layer()
    layer.set_stage('dense')
    restored = _layer()
    restored.load_state_dict(layer.state_dict())
    assert restored.stage == 'dense'
