"""The fused CPU loops (cpu_kernels.py) give what the PyTorch-op path gives: the same routing,
plans, outputs and gradients, so switching them off (FUSION_MOE_NUMBA=0) changes no result."""
import pytest
import torch

from fusion_moe.models.moe import MoELayer, combine, cpu_kernels, dispatch, plan_dispatch
from fusion_moe.models.moe.small_rows import softmax_top_k_rows


@pytest.fixture
def torch_ops_path(monkeypatch):
    """Run the body with the loops off; yields a function that flips them back on."""
    monkeypatch.setattr(cpu_kernels, 'ENABLED', False)
    return lambda: monkeypatch.setattr(cpu_kernels, 'ENABLED', True)


def _both_paths(fn, torch_ops_path):
    """``fn()`` on the PyTorch-op path, then with the fused loops."""
    reference = fn()
    torch_ops_path()
    assert cpu_kernels.usable(torch.zeros(1))
    return reference, fn()


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('k', [1, 2, 3])
def test_softmax_top_k_matches_the_composite_ops(dtype, k, torch_ops_path):
    torch.manual_seed(k)
    logits = (torch.randn(64, 6, dtype=dtype) * 4)
    logits[3, 2] = -1e9  # a masked expert (MoMa groups)
    weights = [torch.randn(64, 6, dtype=dtype), torch.randn(64, dtype=dtype),
               torch.randn(64, k, dtype=dtype)]

    def run():
        leaf = logits.clone().requires_grad_(True)
        probs, lse, gates, experts = softmax_top_k_rows(leaf, k)
        loss = sum((out * w).sum() for out, w in zip((probs, lse, gates), weights))
        return probs, lse, gates, experts, torch.autograd.grad(loss, leaf)[0]

    reference, fused = _both_paths(run, torch_ops_path)
    assert torch.equal(reference[3], fused[3])
    for ref, out in zip(reference[:3] + reference[4:], fused[:3] + fused[4:]):
        torch.testing.assert_close(out, ref)


def test_softmax_top_k_gradient_passes_gradcheck_for_each_output_alone():
    logits = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    assert cpu_kernels.usable(logits)
    for index in range(3):  # probs, logsumexp, gates: absent gradients must count as zero
        assert torch.autograd.gradcheck(lambda x: softmax_top_k_rows(x, 2)[index], (logits,))


def test_top_k_ties_go_to_the_lower_expert_id_on_both_paths(torch_ops_path):
    logits = torch.zeros(4, 5)
    logits[:, 3] = 1.0
    _, _, _, experts = softmax_top_k_rows(logits, 3)
    torch_ops_path()
    _, _, _, fused_experts = softmax_top_k_rows(logits, 3)
    assert torch.equal(experts, fused_experts)
    assert fused_experts.tolist() == [[3, 0, 1]] * 4


def test_softmax_top_k_refuses_k_beyond_the_experts():
    with pytest.raises(ValueError, match='k=5 must be in'):
        softmax_top_k_rows(torch.randn(3, 4), 5)


@pytest.mark.parametrize('top_k', [1, 2])
def test_counting_sort_plan_equals_the_sort_based_plan(top_k, torch_ops_path):
    torch.manual_seed(0)
    experts = torch.stack([torch.randperm(6)[:top_k] for _ in range(50)])
    gates = torch.rand(50, top_k)
    valid = torch.rand(50) > 0.2
    reference, fused = _both_paths(lambda: plan_dispatch(experts, gates, 6, valid), torch_ops_path)
    for name in ('order_S', 'token_index_S', 'inverse_A'):
        assert torch.equal(getattr(reference, name), getattr(fused, name)), name
    assert reference.counts == fused.counts
    assert reference.num_valid_assignments == fused.num_valid_assignments == top_k * valid.sum()


def test_counting_sort_refuses_expert_ids_out_of_range():
    with pytest.raises(ValueError, match='expert id outside'):
        plan_dispatch(torch.tensor([[0], [7]]), torch.ones(2, 1), 4)


@pytest.mark.parametrize('top_k', [1, 3])
@pytest.mark.parametrize('strided_gradient', [False, True])
def test_dispatch_and_combine_match_the_torch_ops_in_values_and_gradients(
        top_k, strided_gradient, torch_ops_path):
    torch.manual_seed(top_k)
    x = torch.randn(30, 8, dtype=torch.float64)
    rows_scale = torch.randn(1, 8, dtype=torch.float64)
    experts = torch.stack([torch.randperm(5)[:top_k] for _ in range(30)])
    gates = torch.rand(30, top_k, dtype=torch.float64)
    valid = torch.ones(30, dtype=torch.bool)
    valid[[4, 11]] = False  # undispatched tokens: zero output, zero gradient

    def run():
        x_leaf, g_leaf = x.clone().requires_grad_(True), gates.clone().requires_grad_(True)
        plan = plan_dispatch(experts, g_leaf, 5, valid)
        out = combine(dispatch(x_leaf, plan) * rows_scale, g_leaf, plan)
        # out.sum() gives a stride-0 gradient, the case the loops must copy before reading.
        loss = out.sum() if strided_gradient else (out * torch.arange(8.0)).sum()
        return (out, *torch.autograd.grad(loss, (x_leaf, g_leaf)))

    reference, fused = _both_paths(run, torch_ops_path)
    for ref, out in zip(reference, fused):
        torch.testing.assert_close(out, ref)
    assert torch.all(fused[0][~valid] == 0) and torch.all(fused[1][~valid] == 0)


def test_moe_layer_trains_the_same_with_and_without_the_loops(torch_ops_path):
    def train():
        torch.manual_seed(0)
        layer = MoELayer(8, 16, 4, router=dict(type='TopKRouter', top_k=2))
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
        x = torch.randn(64, 8)
        for _ in range(3):
            y, record = layer(x)
            loss = y.square().mean() + sum(record.aux_losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return [p.detach().clone() for p in layer.parameters()]

    reference, fused = _both_paths(train, torch_ops_path)
    for ref, out in zip(reference, fused):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_loops_compile_in_memory_with_a_logged_warning_where_no_cache_is_writable(monkeypatch):
    import numba.core.dispatcher

    def no_locator(self):  # what numba raises when neither __pycache__ nor home is writable
        raise RuntimeError(f'cannot cache function {self.py_func.__name__!r}: no locator '
                           'available for file')

    monkeypatch.setattr(numba.core.dispatcher.Dispatcher, 'enable_caching', no_locator)
    messages = []
    monkeypatch.setattr(cpu_kernels, 'print_log', lambda msg, **kw: messages.append(msg))

    @cpu_kernels.compile_cached(nogil=True)
    def add_one(values):
        return values + 1

    assert add_one(41) == 42
    assert len(messages) == 1 and 'add_one' in messages[0] and 'no locator' in messages[0]
