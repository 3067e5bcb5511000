"""Routing statistics: additive sums per forward pass, summaries computed from the sums.

A layer returns *sums* (counts, summed entropy, ...) so that a hook can add them over
iterations and all-reduce them over DDP processes before dividing. :func:`summarize_statistics`
turns sums into the plotted quantities; its output is plain JSON (lists and floats), keyed so a
robustness report can plot per-expert load and per-context utilisation without the model.
"""
from typing import Dict, Mapping, Optional

import torch
from torch import Tensor

from fusion_moe.structures.context import FACTORS

SUM_KEYS = ('tokens', 'assignments', 'dropped', 'fallback', 'entropy_sum', 'gate_gap_sum')


@torch.no_grad()
def routing_statistics_sums(probs_TE: Tensor, experts_TK: Tensor, gap_T: Tensor,
                            valid_T: Optional[Tensor], routed_T: Optional[Tensor],
                            fallback_T: Optional[Tensor],
                            num_dropped: int, expert_load_E: Tensor,
                            sample_ids_T: Tensor,
                            context_ids: Optional[Mapping[str, Tensor]] = None
                            ) -> Dict[str, Tensor]:
    """Float64 sums for one forward pass.

    Args:
        probs_TE: (T, E) router probabilities. experts_TK: (T, K) chosen experts (-1 = none).
        gap_T: (T,) top-1 minus top-2 probability.
        valid_T: (T,) tokens that exist. routed_T: valid tokens sent to routed experts.
        fallback_T: valid tokens sent to the generalist. None means all / all / none.
        num_dropped: assignments dropped by the capacity limit.
        expert_load_E: (E,) assignments each expert processed.
        sample_ids_T: (T,) sample of each token; context_ids: ``{factor: (B,)}``.
    Returns:
        ``tokens, assignments, dropped, fallback, entropy_sum, gate_gap_sum`` (scalars),
        ``expert_load`` (E,), and ``context.<factor>`` (V_f, E): top-1 expert counts of routed
        tokens per context value (all zero when no context ids are known).
    """
    num_experts = probs_TE.shape[1]
    p = probs_TE.detach().float() if valid_T is None else probs_TE.detach().float()[valid_T]
    gap = gap_T if valid_T is None else gap_T[valid_T]
    sums = {
        'tokens': torch.tensor(float(p.shape[0]), dtype=torch.float64),
        'assignments': expert_load_E.sum().double() + num_dropped,
        'dropped': torch.tensor(float(num_dropped), dtype=torch.float64),
        'fallback': (fallback_T.sum().double() if fallback_T is not None
                     else torch.zeros((), dtype=torch.float64)),
        # Whole-tensor sums (no per-row reduction over short E rows, which is slow on CPU).
        # p * log(max(p, tiny)) is xlogy(p, p) (0 at p = 0) at half the cost on CPU.
        'entropy_sum': -(p * p.clamp_min(torch.finfo(p.dtype).tiny).log_()).sum(
            dtype=torch.float64),
        'gate_gap_sum': gap.sum(dtype=torch.float64),
        'expert_load': expert_load_E.double(),
    }
    # Context keys are always present (zeros without context ids), so every DDP process
    # all-reduces the same keys.
    top1_T = probs_TE.max(dim=-1).indices if context_ids else None
    for factor, vocab in FACTORS.items():
        if not context_ids or factor not in context_ids:
            sums[f'context.{factor}'] = torch.zeros(len(vocab), num_experts, dtype=torch.float64)
            continue
        ctx_T = context_ids[factor].to(sample_ids_T.device)[sample_ids_T]
        flat = ctx_T * num_experts + top1_T
        flat = flat if routed_T is None else flat[routed_T]
        sums[f'context.{factor}'] = torch.bincount(
            flat, minlength=len(vocab) * num_experts).double().view(len(vocab), num_experts)
    return {k: v.detach().cpu() for k, v in sums.items()}


def accumulate_statistics(total: Dict[str, Tensor], sums: Mapping[str, Tensor]) -> None:
    """Add ``sums`` into ``total`` in place (missing keys are created)."""
    for key, value in sums.items():
        total[key] = total[key] + value if key in total else value.clone()


def summarize_statistics(sums: Mapping[str, Tensor]) -> dict:
    """Turn summed statistics into JSON-ready means and fractions.

    Returns ``{num_tokens, expert_load (E fractions), routing_entropy (nats), gate_gap,
    fallback_rate, dropped_fraction, context_utilisation: {factor: {value: E fractions}}}``.
    """
    tokens = float(sums['tokens'])
    assignments = float(sums['assignments'])
    load = sums['expert_load']
    summary = {
        'num_tokens': int(tokens),
        'expert_load': (load / load.sum().clamp_min(1)).tolist(),
        'routing_entropy': float(sums['entropy_sum']) / max(tokens, 1.0),
        'gate_gap': float(sums['gate_gap_sum']) / max(tokens, 1.0),
        'fallback_rate': float(sums['fallback']) / max(tokens, 1.0),
        'dropped_fraction': float(sums['dropped']) / max(assignments, 1.0),
        'context_utilisation': {},
    }
    for factor, vocab in FACTORS.items():
        key = f'context.{factor}'
        if key not in sums:
            continue
        counts = sums[key]
        fractions = counts / counts.sum(-1, keepdim=True).clamp_min(1)
        summary['context_utilisation'][factor] = {
            value: {'tokens': int(counts[i].sum()), 'expert_load': fractions[i].tolist()}
            for i, value in enumerate(vocab)}
    return summary
