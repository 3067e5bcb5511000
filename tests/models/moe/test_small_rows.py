"""The short-row softmax / log-sum-exp / top-k equal PyTorch's ops, in values and gradients."""
import pytest
import torch

from fusion_moe.models.moe.small_rows import logsumexp_rows, softmax_rows, topk_rows


@pytest.mark.parametrize('num_experts', [2, 4, 8, 33])
def test_softmax_and_logsumexp_match_torch_with_gradients(num_experts):
    logits = (torch.randn(50, num_experts, dtype=torch.float64) * 5).requires_grad_(True)
    torch.testing.assert_close(softmax_rows(logits), torch.softmax(logits, -1))
    torch.testing.assert_close(logsumexp_rows(logits), torch.logsumexp(logits, -1))
    assert torch.autograd.gradcheck(softmax_rows, (logits,))
    assert torch.autograd.gradcheck(logsumexp_rows, (logits,))
    big = torch.full((3, num_experts), 1e4)
    big[:, 0] = -1e9  # masked expert
    assert torch.isfinite(softmax_rows(big)).all() and torch.isfinite(logsumexp_rows(big)).all()


@pytest.mark.parametrize('k', [1, 2, 3, 6])
def test_topk_matches_torch_in_values_indices_and_gradients(k):
    scores = torch.randn(40, 8, dtype=torch.float64, requires_grad=True)
    values, indices = topk_rows(scores, k)
    ref_values, ref_indices = torch.topk(scores, k, dim=-1)
    torch.testing.assert_close(values, ref_values)
    assert torch.equal(indices, ref_indices)
    g, = torch.autograd.grad((values * torch.arange(1.0, k + 1)).sum(), scores)
    g_ref, = torch.autograd.grad((ref_values * torch.arange(1.0, k + 1)).sum(), scores)
    torch.testing.assert_close(g, g_ref)
