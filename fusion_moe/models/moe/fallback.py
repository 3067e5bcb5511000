"""Generalist fallback (Mixpert): uncertain routing goes to a dense expert trained on all tokens.

The router's confidence is the gate gap ``p_(1) - p_(2)`` between its best and second-best
expert. Tokens (``level='token'``) or whole samples (``level='sample'``, mean gap over the
sample's valid tokens) whose gap is *strictly below* the threshold are sent to the generalist
instead of the routed experts; a gap equal to the threshold stays routed.
"""
from typing import Literal, Optional

import torch
from torch import Tensor

from .context_bias import segment_mean
from .small_rows import topk_rows

FALLBACK_LEVELS = ('token', 'sample')


def gate_gap(scores_TE: Tensor) -> Tensor:
    """(T, E) router probabilities -> (T,) float32 top-1 minus top-2 (top-1 if E == 1)."""
    scores_TE = scores_TE.detach().float()
    if scores_TE.shape[1] == 1:
        return scores_TE[:, 0]
    top2 = topk_rows(scores_TE, 2)[0]
    return top2[:, 0] - top2[:, 1]


def fallback_mask(gap_T: Tensor, threshold: float,
                  level: Literal['token', 'sample'] = 'token',
                  sample_ids_T: Optional[Tensor] = None, num_samples: int = 1,
                  valid_T: Optional[Tensor] = None) -> Tensor:
    """(T,) bool: which tokens go to the generalist (``gap < threshold``, per token or sample).

    Invalid tokens are never marked.
    """
    if level not in FALLBACK_LEVELS:
        raise ValueError(f'fallback level must be one of {FALLBACK_LEVELS}, got {level!r}')
    if level == 'token':
        mask_T = gap_T < threshold
    else:
        if sample_ids_T is None:
            sample_ids_T = torch.zeros_like(gap_T, dtype=torch.long)
        mean_gap_B = segment_mean(gap_T[:, None], sample_ids_T, num_samples, valid_T)[:, 0]
        mask_T = (mean_gap_B < threshold)[sample_ids_T]
    if valid_T is not None:
        mask_T = mask_T & valid_T
    return mask_T
