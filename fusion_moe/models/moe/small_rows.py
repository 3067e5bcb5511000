"""Softmax, log-sum-exp and top-k along short rows: (T, E) router tensors with E ~ 4-64.

PyTorch's CPU kernels for these ops pay a large per-row cost when rows are this short:
measured on one thread, ``torch.softmax`` on a (32768, 8) float32 tensor takes ~9.5 ms and
``torch.topk(k=2)`` ~4.5 ms, while the composite ops below (max, subtract, exp, sum as
whole-tensor elementwise passes) take ~2 ms and ~1 ms. Written by hand because no library
provides a short-row variant; the results equal the PyTorch ops (tested).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import cpu_kernels


class _SoftmaxRows(torch.autograd.Function):
    """softmax over the last dim; backward ``p * (g - sum(g * p))``."""

    @staticmethod
    def forward(ctx, logits_TE: Tensor) -> Tensor:
        shifted = logits_TE - logits_TE.amax(dim=-1, keepdim=True)
        probs = shifted.exp_()
        probs /= probs.sum(dim=-1, keepdim=True)
        ctx.save_for_backward(probs)
        return probs

    @staticmethod
    def backward(ctx, grad_TE: Tensor) -> Tensor:
        (probs,) = ctx.saved_tensors
        return probs * (grad_TE - (grad_TE * probs).sum(dim=-1, keepdim=True))


class _SoftmaxLogsumexpRows(torch.autograd.Function):
    """softmax and logsumexp over the last dim from one max / exp / sum pass; backward
    ``p * (g_p - sum(g_p * p) + g_lse)``."""

    @staticmethod
    def forward(ctx, logits_TE: Tensor) -> Tuple[Tensor, Tensor]:
        peak_T1 = logits_TE.amax(dim=-1, keepdim=True)
        probs = (logits_TE - peak_T1).exp_()
        total_T1 = probs.sum(dim=-1, keepdim=True)
        lse_T = (peak_T1 + total_T1.log()).squeeze(-1)
        probs /= total_T1
        ctx.save_for_backward(probs)
        return probs, lse_T

    @staticmethod
    def backward(ctx, grad_TE: Optional[Tensor], grad_lse_T: Optional[Tensor]) -> Tensor:
        (probs,) = ctx.saved_tensors
        if grad_TE is None:
            return probs * grad_lse_T[:, None]
        inner = grad_TE - (grad_TE * probs).sum(dim=-1, keepdim=True)
        if grad_lse_T is not None:
            inner += grad_lse_T[:, None]
        return probs * inner


def softmax_logsumexp_rows(logits_TE: Tensor) -> Tuple[Tensor, Tensor]:
    """``(torch.softmax(logits, -1), torch.logsumexp(logits, -1))`` for short rows."""
    return _SoftmaxLogsumexpRows.apply(logits_TE)


def softmax_rows(logits_TE: Tensor) -> Tensor:
    """``torch.softmax(logits, -1)`` for short rows."""
    return _SoftmaxRows.apply(logits_TE)


def logsumexp_rows(logits_TE: Tensor) -> Tensor:
    """``torch.logsumexp(logits, -1)`` for short rows: (T, E) -> (T,)."""
    peak_T = logits_TE.detach().amax(dim=-1)
    return peak_T + (logits_TE - peak_T[:, None]).exp().sum(dim=-1).log()


def topk_rows(scores_TE: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """``torch.topk(scores, k, -1)`` (values, indices), descending, for short rows.

    Small k is k passes of ``max``; the chosen entry is masked to -inf before the next pass.
    Larger k falls back to ``torch.topk``.
    """
    if k > 4:
        return torch.topk(scores_TE, k, dim=-1)
    indices = []
    masked = scores_TE.detach()
    for i in range(k):
        index_T = masked.max(dim=-1).indices  # faster than argmax on short rows (CPU)
        indices.append(index_T)
        if i + 1 < k:
            masked = (masked.scatter(-1, index_T[:, None], float('-inf')) if i == 0
                      else masked.scatter_(-1, index_T[:, None], float('-inf')))
    indices_TK = indices[0][:, None] if k == 1 else torch.stack(indices, dim=-1)
    # Gather (not stack of max values) so gradients flow to the chosen entries as with topk.
    return scores_TE.gather(-1, indices_TK), indices_TK


class _SoftmaxTopKRows(torch.autograd.Function):
    """softmax, logsumexp and the top-k probabilities of short rows from two fused CPU loops
    around one vectorised ``exp_`` (cpu_kernels.shift_rows_top_k, normalize_rows_gather);
    outputs ``(probs_TE, lse_T, gates_TK, experts_TK)``."""

    @staticmethod
    def forward(ctx, logits_TE: Tensor, top_k: int):
        num_tokens = logits_TE.shape[0]
        probs_TE = torch.empty_like(logits_TE, memory_format=torch.contiguous_format)
        peak_T = logits_TE.new_empty(num_tokens)
        experts_TK = torch.empty(num_tokens, top_k, dtype=torch.long)
        cpu_kernels.shift_rows_top_k(logits_TE.numpy(), top_k, probs_TE.numpy(),
                                     peak_T.numpy(), experts_TK.numpy())
        probs_TE.exp_()
        total_T = logits_TE.new_empty(num_tokens)
        gates_TK = logits_TE.new_empty(num_tokens, top_k)
        cpu_kernels.normalize_rows_gather(probs_TE.numpy(), experts_TK.numpy(), total_T.numpy(),
                                          gates_TK.numpy())
        lse_T = peak_T.add_(total_T.log_())
        ctx.save_for_backward(probs_TE, experts_TK)
        ctx.mark_non_differentiable(experts_TK)
        return probs_TE, lse_T, gates_TK, experts_TK

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_probs_TE, grad_lse_T, grad_gates_TK, _grad_experts):
        probs_TE, experts_TK = ctx.saved_tensors

        def as_array(grad, ndim):  # absent gradients: an empty array and a False flag
            if grad is None:
                return probs_TE.new_empty((0,) * ndim).numpy(), False
            return grad.to(probs_TE.dtype).numpy(), True

        grad_logits_TE = torch.empty_like(probs_TE)
        cpu_kernels.softmax_top_k_backward(probs_TE.numpy(), experts_TK.numpy(),
                                           *as_array(grad_probs_TE, 2),
                                           *as_array(grad_lse_T, 1),
                                           *as_array(grad_gates_TK, 2), grad_logits_TE.numpy())
        return grad_logits_TE, None


def softmax_top_k_rows(logits_TE: Tensor, k: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``probs = softmax(logits)``, ``lse = logsumexp(logits)`` and ``gates, experts =
    topk(probs, k)`` over the last dim, for short rows: (T, E) -> (T, E), (T,), (T, K), (T, K).

    On CPU float32/float64 (``cpu_kernels.usable``) two fused loops around one ``exp_``
    forward and one loop backward; elsewhere the composite ops above. Both give the same values
    and gradients (ties go to the lower expert id).
    """
    if not 1 <= k <= logits_TE.shape[1]:
        raise ValueError(f'k={k} must be in [1, {logits_TE.shape[1]}] (experts per row)')
    if cpu_kernels.usable(logits_TE):
        return _SoftmaxTopKRows.apply(logits_TE, k)
    probs_TE, lse_T = softmax_logsumexp_rows(logits_TE)
    gates_TK, experts_TK = topk_rows(probs_TE, k)
    return probs_TE, lse_T, gates_TK, experts_TK
