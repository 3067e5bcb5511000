"""Router auxiliary losses. Each is computed in float32 over valid tokens only.

- :func:`load_balance_loss`: Switch Transformer (Fedus et al. 2022) ``E * sum_e f_e P_e``; exactly
  1.0 when routing is perfectly balanced, up to E under collapse onto one expert.
- :func:`router_z_loss`: ST-MoE (Zoph et al. 2022) ``mean_t logsumexp(logits_t)^2``.
- :func:`routing_entropy`: mean per-token entropy of the router distribution; as a loss with a
  positive weight it sharpens routing (FuseMoE's entropy regulariser).
- :class:`UsageRegularizer`: MoVA-style weak global usage prior: KL(uniform || usage) on an EMA
  of expert usage, so it corrects long-run collapse without forcing every batch to be balanced.

Under DDP (``reduce_over_processes=True``, which ``MoELayer`` sets in training) the balance and
usage terms see the global batch: the per-expert assignment counts and the batch usage are
summed / averaged over processes (no gradient flows through the reduction), so a run on P
processes balances the experts over the same tokens as one process with the whole batch.
Every process must then run each MoE layer's forward the same number of times per step.

Shapes: see router.py.
"""
from typing import Optional

import torch
from mmengine.dist import all_reduce
from torch import Tensor, nn

from .small_rows import logsumexp_rows


def _valid_rows(t: Tensor, valid_T: Optional[Tensor]) -> Tensor:
    return t if valid_T is None else t[valid_T]


def _process_mean(t: Tensor) -> Tensor:
    """Mean of ``t`` over DDP processes, without gradient (``t`` itself without DDP)."""
    t = t.detach().clone()
    all_reduce(t, op='mean')
    return t


def load_balance_loss(probs_TE: Tensor, experts_TK: Tensor,
                      valid_T: Optional[Tensor] = None,
                      counts_E: Optional[Tensor] = None,
                      reduce_over_processes: bool = False) -> Tensor:
    """Switch load-balancing loss ``E * sum_e f_e * P_e``.

    Args:
        probs_TE: (T, E) router probabilities.
        experts_TK: (T, K) chosen experts; entries < 0 (not chosen, expert choice) are ignored.
        valid_T: (T,) bool, tokens to count; None = all.
        counts_E: (E,) assignments per expert over the valid tokens when the caller has them
            already (the dispatch plan's counts); None = counted here from ``experts_TK``.
        reduce_over_processes: take ``f_e`` from the counts pooled over DDP processes.
    Returns:
        Scalar float32. ``f_e`` is the fraction of assignments to expert e (no gradient),
        ``P_e`` the mean probability of e; both over valid tokens. 0 if there are none. With
        ``reduce_over_processes`` the mean of this value over processes is the global batch's
        (exactly so when the processes hold equally many tokens, as DDP's sampler gives).
    """
    probs_TE = _valid_rows(probs_TE.float(), valid_T)
    num_experts = probs_TE.shape[1]
    if counts_E is None:
        experts_A = _valid_rows(experts_TK, valid_T).reshape(-1)
        # Shift by one so that -1 (not chosen) lands in bin 0 and is dropped, without a mask copy.
        counts_E = torch.bincount(experts_A + 1, minlength=num_experts + 1)[1:]
    counts_E = counts_E.to(probs_TE)
    if reduce_over_processes:  # every process must take this branch (a collective)
        counts_E = _process_mean(counts_E)
    total = counts_E.sum()
    if probs_TE.shape[0] == 0 or float(total) == 0:
        return probs_TE.sum() * 0.0
    return num_experts * (counts_E / total * probs_TE.mean(0)).sum()


def router_z_loss(logits_TL: Tensor, valid_T: Optional[Tensor] = None) -> Tensor:
    """ST-MoE router z-loss ``mean_t (log sum_e exp(logit_te))^2`` (scalar float32)."""
    logits_TL = _valid_rows(logits_TL.float(), valid_T)
    if logits_TL.shape[0] == 0:
        return logits_TL.sum() * 0.0
    return logsumexp_rows(logits_TL).square().mean()


def routing_entropy(probs_TE: Tensor, valid_T: Optional[Tensor] = None) -> Tensor:
    """Mean per-token entropy ``-sum_e p log p`` in nats (scalar float32; 0 * log 0 = 0).

    The log is taken of p clamped to the smallest normal float, so saturated routing (p = 0
    exactly, e.g. from very large logits) has a finite gradient (xlogy's is -inf * 0 = NaN).
    """
    probs_TE = _valid_rows(probs_TE.float(), valid_T)
    if probs_TE.shape[0] == 0:
        return probs_TE.sum() * 0.0
    log_p = torch.log(probs_TE.clamp_min(torch.finfo(probs_TE.dtype).tiny))
    return -(probs_TE * log_p).sum(-1).mean()


class UsageRegularizer(nn.Module):
    """Weak global usage regulariser on an exponential moving average of expert usage.

    ``usage = m * ema + (1 - m) * mean_t p_t`` (the EMA part carries no gradient) and the loss is
    ``KL(uniform || usage) = -log E - mean_e log usage_e``. One unbalanced batch moves it only by
    its ``(1 - m)`` share, unlike per-batch balancing. The EMA is updated in training only.

    Args:
        num_experts: E.
        momentum: m in [0, 1).
        reduce_over_processes: in training, use the batch usage averaged over DDP processes
            (its value; each process's gradient still flows through its own tokens), so the
            EMA, and the loss, are those of the global batch and equal on every process.
    """

    def __init__(self, num_experts: int, momentum: float = 0.99,
                 reduce_over_processes: bool = True) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'momentum must be in [0, 1), got {momentum}')
        self.momentum = momentum
        self.reduce_over_processes = reduce_over_processes
        self.register_buffer('usage_ema_E', torch.full((num_experts,), 1.0 / num_experts))

    def forward(self, probs_TE: Tensor, valid_T: Optional[Tensor] = None) -> Tensor:
        """(T, E) probabilities -> scalar float32 loss."""
        probs_TE = _valid_rows(probs_TE.float(), valid_T)
        if probs_TE.shape[0] == 0:
            return probs_TE.sum() * 0.0
        batch_usage_E = probs_TE.mean(0)
        if self.training and self.reduce_over_processes:
            batch_usage_E = batch_usage_E + (_process_mean(batch_usage_E) - batch_usage_E).detach()
        usage_E = self.momentum * self.usage_ema_E + (1.0 - self.momentum) * batch_usage_E
        if self.training:
            with torch.no_grad():
                self.usage_ema_E.copy_(usage_E.detach())
        num_experts = usage_E.shape[0]
        return -torch.log(usage_E.clamp_min(1e-12)).mean() - torch.log(
            torch.tensor(float(num_experts), device=usage_E.device))
