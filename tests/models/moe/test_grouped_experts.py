"""The grouped expert FFN's fused path (one output buffer, hand-written backward) equals
running each expert on its own slice with autograd, for every activation and for empty experts."""
import pytest
import torch

from fusion_moe.models.moe.experts import GroupedFFNExperts


@pytest.mark.parametrize('activation', ['gelu', 'relu', 'silu'])
def test_fused_grouped_ffn_matches_per_expert_autograd(activation):
    torch.manual_seed(0)
    experts = GroupedFFNExperts(4, 6, 10, 5, activation=activation)
    counts = [3, 0, 7, 2]  # expert 1 gets no rows
    x = torch.randn(sum(counts), 6, requires_grad=True)
    upstream = torch.randn(sum(counts), 5)

    fused = experts(x, counts)
    grads = torch.autograd.grad((fused * upstream).sum(), [x, *experts.parameters()])

    x_ref = x.detach().clone().requires_grad_(True)
    rows = torch.split(x_ref, counts)
    reference = torch.cat([experts.forward_expert(e, rows[e]) for e in range(4)])
    ref_grads = torch.autograd.grad((reference * upstream).sum(),
                                    [x_ref, *experts.parameters()])

    torch.testing.assert_close(fused, reference)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want)
    assert grads[1][1].abs().sum() == 0  # the empty expert's w1 gets no gradient
