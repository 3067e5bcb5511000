"""Soft MoE routing (Puigcerver et al. 2024, "From Sparse to Soft Mixtures of Experts").

Each expert owns S slots. Slot inputs are convex combinations of the tokens of one sample
(softmax over that sample's tokens), each expert runs on its slots, and every token reads a
convex combination of all slot outputs of its sample (softmax over slots). Nothing is dropped
and no token is discarded, but slots mix tokens, so only token-wise (FFN) experts apply.
Shapes: see router.py.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from .router import BaseRouter, Routing
from .small_rows import softmax_rows, topk_rows


def segment_softmax(logits_TL: Tensor, segment_ids_T: Tensor, num_segments: int) -> Tensor:
    """Softmax over dim 0 separately inside each segment (sample) of tokens.

    Args:
        logits_TL: (T, L) float32.
        segment_ids_T: (T,) int64 in [0, num_segments).
    Returns:
        (T, L) weights; for every segment and column they sum to 1 over the segment's tokens.
    """
    index_TL = segment_ids_T[:, None].expand_as(logits_TL)
    max_BL = torch.full((num_segments, logits_TL.shape[1]), float('-inf'),
                        dtype=logits_TL.dtype, device=logits_TL.device)
    max_BL = max_BL.scatter_reduce(0, index_TL, logits_TL.detach(), reduce='amax')
    exp_TL = torch.exp(logits_TL - max_BL[segment_ids_T])
    sum_BL = torch.zeros_like(max_BL).index_add(0, segment_ids_T, exp_TL)
    return exp_TL / sum_BL[segment_ids_T]


@MODELS.register_module()
class SoftMoERouter(BaseRouter):
    """Slot logits ``scale * <normalize(x), normalize(phi_s)>`` with phi (E*S, D).

    Args:
        in_channels: token channels D.
        num_experts: routed experts E.
        slots_per_expert: S.
        top_k: how many experts the routing record lists per token (by summed combine weight);
            it does not change the computation.
    """
    kind = 'soft'

    def __init__(self, in_channels: int, num_experts: int, slots_per_expert: int = 1,
                 top_k: int = 1) -> None:
        super().__init__(in_channels, num_experts)
        if slots_per_expert < 1 or not 1 <= top_k <= num_experts:
            raise ValueError(f'need slots_per_expert >= 1 and 1 <= top_k <= E, got '
                             f'{slots_per_expert}, {top_k}')
        self._slots = slots_per_expert
        self._top_k = top_k
        self.slot_embeddings = nn.Parameter(
            torch.randn(num_experts * slots_per_expert, in_channels) / math.sqrt(in_channels))
        self.scale = nn.Parameter(torch.tensor(1.0))

    @property
    def slots_per_expert(self) -> int:
        return self._slots

    @property
    def top_k(self) -> int:
        return self._top_k

    def compute_logits(self, x_TD: Tensor) -> Tensor:
        slots_LD = F.normalize(self.slot_embeddings, dim=-1)
        return self.scale * F.normalize(x_TD, dim=-1) @ slots_LD.t()

    def route(self, logits_TL: Tensor, sample_ids_T: Optional[Tensor] = None,
              valid_T: Optional[Tensor] = None,
              selection_bias_E: Optional[Tensor] = None) -> Routing:
        """Dispatch weights: softmax over each sample's valid tokens; combine: over slots.

        Invalid tokens get zero dispatch weight (they do not feed any slot); their combine
        weights are still defined, and the layer zeroes their output.
        """
        num_tokens = logits_TL.shape[0]
        if sample_ids_T is None:
            sample_ids_T = torch.zeros(num_tokens, dtype=torch.long, device=logits_TL.device)
        num_samples = int(sample_ids_T.max()) + 1 if num_tokens else 1
        dispatch_logits = logits_TL
        if valid_T is not None:
            dispatch_logits = logits_TL.masked_fill(~valid_T[:, None], -1e9)
        dispatch_TL = segment_softmax(dispatch_logits, sample_ids_T, num_samples)
        if valid_T is not None:
            dispatch_TL = dispatch_TL * valid_T[:, None]
        combine_TL = softmax_rows(logits_TL)
        probs_TE = combine_TL.view(num_tokens, self.num_experts, self._slots).sum(-1)
        gates_TK, experts_TK = topk_rows(probs_TE, self._top_k)
        return Routing(kind='soft', logits=logits_TL, probs=probs_TE, experts=experts_TK,
                       gates=gates_TK, selection_scores=probs_TE,
                       dispatch_weights=dispatch_TL, combine_weights=combine_TL)
