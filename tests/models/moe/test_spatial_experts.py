"""Local (3x3) and global (pooled context) experts on BEV tokens."""
import pytest
import torch
import torch.nn.functional as F

from fusion_moe.models.moe import GroupedFFNExperts, MoELayer, plan_dispatch
from fusion_moe.models.moe.spatial_features import global_context, local_neighbourhood


def _tokens(x_BDHW):
    b, d, h, w = x_BDHW.shape
    return x_BDHW.permute(0, 2, 3, 1).reshape(-1, d)


def test_local_expert_is_a_3x3_conv_then_1x1_conv_evaluated_at_the_routed_cells():
    x = torch.randn(2, 4, 5, 6)
    experts = GroupedFFNExperts(1, 9 * 4, 7, 3, activation='relu')
    w1 = experts.w1_EDF[0].detach()  # (9*D, F), rows ordered (tap, channel)
    conv1 = w1.t().reshape(7, 3, 3, 4).permute(0, 3, 1, 2)  # (F, D, kh, kw)
    hidden = F.relu(F.conv2d(x, conv1, experts.b1_EF[0].detach(), padding=1))
    conv_out = F.conv2d(hidden, experts.w2_EFD[0].detach().t()[:, :, None, None],
                        experts.b2_ED[0].detach())
    tokens = _tokens(x)
    ids = torch.tensor([0, 5, 17, 29, 30, 59])  # corners, borders, interior, both samples
    feats = local_neighbourhood(tokens, ids, (2, 5, 6))
    out = experts.forward_expert(0, feats)
    torch.testing.assert_close(out, _tokens(conv_out)[ids], rtol=1e-5, atol=1e-5)


def test_global_features_hold_token_block_mean_and_sample_mean():
    x = torch.randn(2, 3, 4, 4)
    tokens = _tokens(x)
    ids = torch.tensor([0, 21])  # sample 0 cell (0, 0); sample 1 cell (1, 1)
    feats = global_context(tokens, ids, (2, 4, 4), pool=2)
    torch.testing.assert_close(feats[:, :3], tokens[ids])
    torch.testing.assert_close(feats[0, 3:6], x[0, :, :2, :2].mean(dim=(1, 2)))
    torch.testing.assert_close(feats[1, 3:6], x[1, :, :2, :2].mean(dim=(1, 2)))
    torch.testing.assert_close(feats[1, 6:], x[1].mean(dim=(1, 2)))


@pytest.mark.parametrize('top_k', [1, 2])
def test_mixed_kinds_fast_path_equals_reference_loop(top_k):
    layer = MoELayer(4, 8, 6, expert_kinds=('ffn', 'ffn', 'local', 'local', 'global', 'global'),
                     router=dict(type='TopKRouter', top_k=top_k), global_pool=2).double()
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64, requires_grad=True)
    y, record = layer.forward_bev(x)
    ref = layer.reference_forward(_tokens(x), record.experts, record.gates,
                                  spatial_shape=(2, 3, 5))
    torch.testing.assert_close(_tokens(y), ref)
    g_fast = torch.autograd.grad(y.sum(), x, retain_graph=True)[0]
    g_ref = torch.autograd.grad(ref.sum(), x)[0]
    torch.testing.assert_close(g_fast, g_ref)


def test_expert_choice_runs_spatial_experts():
    layer = MoELayer(4, 8, 3, expert_kinds=('ffn', 'local', 'global'),
                     router=dict(type='ExpertChoiceRouter', capacity_factor=1.0), global_pool=2)
    y, record = layer.forward_bev(torch.randn(2, 4, 3, 4))
    assert y.shape == (2, 4, 3, 4) and torch.isfinite(y).all()


def test_spatial_kinds_need_bev_tokens_and_contiguous_groups():
    layer = MoELayer(4, 8, 2, expert_kinds=('ffn', 'local'),
                     router=dict(type='TopKRouter', top_k=2))
    with pytest.raises(ValueError, match='spatial_shape'):
        layer(torch.randn(10, 4))
    with pytest.raises(ValueError, match='contiguous'):
        MoELayer(4, 8, 3, expert_kinds=('ffn', 'local', 'ffn'))
    with pytest.raises(ValueError, match='soft MoE'):
        MoELayer(4, 8, 2, expert_kinds=('ffn', 'local'), router=dict(type='SoftMoERouter'))
    with pytest.raises(ValueError, match='spatial_shape'):
        local_neighbourhood(torch.randn(10, 4), torch.tensor([0]), (1, 3, 4))


def test_capacity_with_mixed_kinds_keeps_rows_aligned():
    layer = MoELayer(4, 8, 4, expert_kinds=('ffn', 'ffn', 'local', 'global'),
                     router=dict(type='TopKRouter', top_k=2), capacity_factor=0.5, global_pool=2)
    x = torch.randn(1, 4, 4, 4)
    y, record = layer.forward_bev(x)
    plan = plan_dispatch(record.experts, record.gates, 4, capacity_factor=0.5)
    assert record.stats['expert_load'].tolist() == plan.counts
    assert record.summary()['dropped_fraction'] > 0
