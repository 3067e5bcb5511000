"""The sorted dispatch path: equal to the readable reference loop, permutation-equivariant,
deterministic, with correct gradients and a capacity that drops in batch-priority order."""
import pytest
import torch

from fusion_moe.models.moe import (GroupedFFNExperts, MoELayer, combine, dispatch,
                                   plan_dispatch)
from fusion_moe.models.moe.dispatch import stable_argsort


def _assignment(num_tokens, num_experts, top_k):
    logits = torch.randn(num_tokens, num_experts)
    gates, experts = torch.topk(torch.softmax(logits, -1), top_k, dim=-1)
    return experts, gates


@pytest.mark.parametrize('top_k', [1, 2, 3])
def test_sorted_path_equals_reference_loop_in_values_and_gradients(top_k):
    layer = MoELayer(8, 16, 5, router=dict(type='TopKRouter', top_k=top_k))
    x = torch.randn(37, 8, dtype=torch.float64, requires_grad=True)
    layer.double()
    experts, gates = _assignment(37, 5, top_k)
    gates = gates.double().requires_grad_(True)
    plan = plan_dispatch(experts, gates, 5)
    fast = combine(layer.experts['ffn'](dispatch(x, plan), plan.counts), gates, plan)
    ref = layer.reference_forward(x, experts, gates)
    torch.testing.assert_close(fast, ref)
    g_fast = torch.autograd.grad(fast.square().sum(), (x, gates, layer.experts['ffn'].w1_EDF))
    g_ref = torch.autograd.grad(ref.square().sum(), (x, gates, layer.experts['ffn'].w1_EDF))
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b)


def test_custom_autograd_functions_pass_gradcheck_with_drops_and_invalid_tokens():
    x = torch.randn(11, 3, dtype=torch.float64, requires_grad=True)
    experts, gates = _assignment(11, 4, 2)
    gates = gates.double().requires_grad_(True)
    valid = torch.ones(11, dtype=torch.bool)
    valid[[2, 7]] = False
    plan = plan_dispatch(experts, gates, 4, valid_T=valid, capacity_factor=0.6)
    assert plan.num_dropped > 0

    def fn(x_, g_):
        return combine(dispatch(x_, plan) * 1.5, g_, plan)
    assert torch.autograd.gradcheck(fn, (x, gates))


def test_invalid_tokens_are_not_dispatched_and_get_zero_output():
    layer = MoELayer(6, 12, 4, router=dict(type='TopKRouter', top_k=2))
    x = torch.randn(20, 6)
    valid = torch.rand(20) > 0.3
    y, record = layer(x, valid_mask=valid)
    assert torch.all(y[~valid] == 0)
    assert record.stats['tokens'] == valid.sum()
    assert record.stats['expert_load'].sum() == 2 * valid.sum()


@pytest.mark.parametrize('router', ['TopKRouter', 'ExpertChoiceRouter', 'SoftMoERouter',
                                    'CosineRouter', 'LaplaceRouter'])
def test_outputs_are_equivariant_to_a_permutation_of_tokens(router):
    layer = MoELayer(8, 16, 4, router=dict(type=router)).eval()
    x = torch.randn(64, 8)
    perm = torch.randperm(64)
    y, _ = layer(x)
    y_perm, _ = layer(x[perm])
    torch.testing.assert_close(y_perm, y[perm], rtol=1e-5, atol=1e-6)


def test_bev_local_and_global_experts_are_equivariant_to_a_permutation_of_samples():
    layer = MoELayer(4, 8, 3, expert_kinds=('ffn', 'local', 'global'), global_pool=2).eval()
    x = torch.randn(3, 4, 5, 6)
    y, _ = layer.forward_bev(x)
    y_swapped, _ = layer.forward_bev(x[[2, 0, 1]])
    torch.testing.assert_close(y_swapped, y[[2, 0, 1]], rtol=1e-5, atol=1e-6)


def test_combine_is_bitwise_deterministic():
    layer = MoELayer(16, 32, 8, router=dict(type='TopKRouter', top_k=2))
    x = torch.randn(500, 16, requires_grad=True)
    y1, _ = layer(x)
    g1 = torch.autograd.grad(y1.sum(), x)[0]
    y2, _ = layer(x)
    g2 = torch.autograd.grad(y2.sum(), x)[0]
    assert torch.equal(y1, y2) and torch.equal(g1, g2)


def test_rows_are_grouped_by_expert_in_token_order():
    experts = torch.tensor([[2, 0], [0, 1], [2, 1]])
    plan = plan_dispatch(experts, torch.ones(3, 2), 3)
    assert plan.counts == [2, 2, 2]
    assert plan.token_index_S.tolist() == [0, 1, 1, 2, 0, 2]


def test_capacity_keeps_first_choices_and_higher_priority_tokens_first():
    # All three tokens pick expert 0 first; capacity 1 per expert keeps the most confident.
    experts = torch.tensor([[0, 1], [0, 2], [0, 1]])
    gates = torch.tensor([[0.5, 0.3], [0.9, 0.05], [0.6, 0.3]])
    plan = plan_dispatch(experts, gates, 3, capacity_factor=0.5)  # ceil(0.5 * 6 / 3) = 1
    kept = {(int(a) // 2, int(a) % 2) for a in plan.order_S}
    assert (1, 0) in kept  # token 1 is the most confident first choice for expert 0
    assert max(plan.counts) == 1
    assert plan.num_dropped == 6 - plan.num_kept
    assert plan.dropped_fraction == pytest.approx(plan.num_dropped / 6)


def test_layer_reports_dropped_fraction_always():
    dropless = MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2))
    capped = MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2), capacity_factor=0.5)
    x = torch.randn(128, 8)
    assert dropless(x)[1].summary()['dropped_fraction'] == 0.0
    summary = capped(x)[1].summary()
    assert summary['dropped_fraction'] >= 0.5  # at most half the assignments fit
    assert max(capped(x)[1].stats['expert_load']) <= 32


def test_grouped_experts_batched_and_sorted_paths_agree():
    experts = GroupedFFNExperts(3, 5, 7, 4)
    x = torch.randn(3, 6, 5)
    batched = experts.forward_batched(x)
    sorted_rows = experts(x.reshape(18, 5), [6, 6, 6]).view(3, 6, 4)
    torch.testing.assert_close(batched, sorted_rows)
    with pytest.raises(ValueError, match='counts'):
        experts(x.reshape(18, 5), [6, 6, 5])


def test_nan_tokens_are_a_clear_error_not_silent_garbage():
    layer = MoELayer(4, 8, 2, router=dict(type='TopKRouter', top_k=1))
    x = torch.randn(10, 4)
    x[3, 1] = float('nan')
    with pytest.raises(ValueError, match=r'non-finite router logits .* rows \[3\]'):
        layer(x)
    with pytest.raises(ValueError, match=r'tokens \(T, 4\)'):
        layer(torch.randn(10, 5))


@pytest.mark.parametrize('dtype', [torch.uint8, torch.int16, torch.int32])
def test_stable_argsort_keeps_ties_in_input_order(dtype):
    keys = torch.randint(0, 5, (4099,)).to(dtype)
    order = stable_argsort(keys)
    assert order.dtype == torch.int64
    assert torch.equal(order, torch.sort(keys.long(), stable=True).indices)
