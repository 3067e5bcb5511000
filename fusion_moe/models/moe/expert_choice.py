"""Expert-choice routing (Zhou et al. 2022): each expert picks its top-C tokens.

Balanced by construction: every expert processes exactly C tokens, a token may be processed by
zero, one or several experts. The choice is made over all tokens of the batch (all samples
together), like batch-priority routing. Shapes: see router.py.
"""
import math
from typing import Optional

import torch
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from .router import BaseRouter, Routing
from .small_rows import softmax_rows


@MODELS.register_module()
class ExpertChoiceRouter(BaseRouter):
    """Linear scores, softmax over experts, then top-C tokens per expert.

    Args:
        in_channels: token channels D.
        num_experts: routed experts E.
        capacity_factor: average experts per token; capacity ``C = ceil(cf * T_valid / E)``,
            capped at the number of valid tokens.
        init_std: std of the initial gate weights.
    """
    kind = 'expert_choice'

    def __init__(self, in_channels: int, num_experts: int, capacity_factor: float = 2.0,
                 init_std: float = 0.02) -> None:
        super().__init__(in_channels, num_experts)
        if capacity_factor <= 0:
            raise ValueError(f'capacity_factor must be > 0, got {capacity_factor}')
        self.capacity_factor = capacity_factor
        self.gate = nn.Linear(in_channels, num_experts, bias=False)
        nn.init.normal_(self.gate.weight, std=init_std)

    @property
    def top_k(self) -> int:
        return self.num_experts

    def capacity(self, num_valid_tokens: int) -> int:
        """Tokens per expert C for ``num_valid_tokens`` valid tokens (at least 1 if any)."""
        if num_valid_tokens == 0:
            return 0
        return min(num_valid_tokens,
                   max(1, math.ceil(self.capacity_factor * num_valid_tokens / self.num_experts)))

    def compute_logits(self, x_TD: Tensor) -> Tensor:
        return self.gate(x_TD)

    def route(self, logits_TL: Tensor, sample_ids_T: Optional[Tensor] = None,
              valid_T: Optional[Tensor] = None,
              selection_bias_E: Optional[Tensor] = None) -> Routing:
        """Each expert takes the C valid tokens with the highest probability for it.

        Returns ``token_index`` (E, C) and ``expert_gates`` (E, C); ``experts`` / ``gates`` in the
        record are (T, E): expert e in column e if it picked the token, else -1 and gate 0.
        ``selection_bias_E`` is ignored: expert choice is balanced by construction.
        """
        num_tokens = logits_TL.shape[0]
        probs_TE = softmax_rows(logits_TL)
        num_valid = num_tokens if valid_T is None else int(valid_T.sum())
        capacity = self.capacity(num_valid)
        scores_ET = probs_TE.t()
        if valid_T is not None:
            scores_ET = scores_ET.masked_fill(~valid_T[None, :], -1.0)
        gates_EC, token_index_EC = torch.topk(scores_ET, capacity, dim=1)
        chosen_TE = torch.zeros_like(probs_TE, dtype=torch.bool)
        chosen_TE.scatter_(0, token_index_EC.t(), True)
        expert_ids_TE = torch.arange(self.num_experts, device=logits_TL.device).expand_as(probs_TE)
        experts_TE = torch.where(chosen_TE, expert_ids_TE, torch.full_like(expert_ids_TE, -1))
        gates_TE = torch.where(chosen_TE, probs_TE, torch.zeros_like(probs_TE))
        return Routing(kind='expert_choice', logits=logits_TL, probs=probs_TE,
                       experts=experts_TE, gates=gates_TE, selection_scores=probs_TE,
                       token_index=token_index_EC, expert_gates=gates_EC)
