"""Routers: one interface for every routing rule the MoE literature compares.

Shape legend (used in every file of this package, as torchtitan's ``moe.py`` does):
``T`` tokens, ``D`` token channels, ``F`` expert hidden channels, ``E`` routed experts,
``K`` experts per token (top-k), ``C`` tokens per expert (capacity), ``S`` slots per expert
(soft MoE), ``B`` samples, ``M`` modalities.

A router is split in two steps so that the MoE layer can run per-modality routers, add the
context bias and mask expert groups between them:

1. ``router(x_TD) -> logits_TL`` in float32 (``L = E * slots_per_expert``), computed with
   autocast disabled, so router maths stays fp32 under bf16/fp16 autocast.
2. ``router.route(logits_TL, ...) -> Routing``: turns (biased, masked) logits into a dispatch
   plan. Its ``kind`` tells the layer which dispatcher to use:

   - ``'token_choice'``: each token picks its top-k experts (``experts_TK``, ``gates_TK``).
   - ``'expert_choice'``: each expert picks its top-C tokens (``token_index_EC``, ``gates_EC``).
   - ``'soft'``: each slot is a convex mix of the tokens of one sample (soft MoE).

This file holds the base class, the routing record, token-choice top-k (plain and noisy) and
:func:`per_modality_logits` (step 1 with one router per modality).
Distance-based scores (Laplace, cosine) are in ``metric_routers.py``; expert choice and soft MoE
in their own files.
"""
import abc
import math
from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from .small_rows import softmax_logsumexp_rows, softmax_top_k_rows, topk_rows

ROUTING_KINDS = ('token_choice', 'expert_choice', 'soft')


@dataclass
class Routing:
    """A dispatch plan plus the fp32 tensors the routing record exposes.

    Attributes:
        kind: one of ``ROUTING_KINDS``.
        logits: (T, L) float32 router logits after context bias and group masking.
        probs: (T, E) float32 router probabilities per expert (for soft MoE: the combine weight
            summed over an expert's slots).
        experts: (T, K) int64 chosen experts (token choice); for expert choice (T, E) with -1
            where the expert did not pick the token; for soft MoE the top-k of ``probs``.
        gates: (T, K) float32 combine weights matching ``experts`` (0 where ``experts`` is -1).
        selection_scores: (T, E) float32 scores the top-k was taken over (``probs`` unless an
            expert bias or noise changed the selection); used for the top-1 minus top-2 gap.
        token_index: (E, C) int64 tokens each expert picked (expert choice only).
        expert_gates: (E, C) float32 weights of those tokens (expert choice only).
        dispatch_weights: (T, E*S) float32 slot-input weights, softmax over each sample's tokens
            (soft MoE only).
        combine_weights: (T, E*S) float32 slot-output weights, softmax over slots (soft only).
        logsumexp: (T,) logsumexp of ``logits`` over experts when the router computed it along
            with the softmax (token choice); lets the z-loss skip a second pass.
    """
    kind: str
    logits: Tensor
    probs: Tensor
    experts: Tensor
    gates: Tensor
    selection_scores: Tensor
    token_index: Optional[Tensor] = None
    expert_gates: Optional[Tensor] = None
    dispatch_weights: Optional[Tensor] = None
    combine_weights: Optional[Tensor] = None
    logsumexp: Optional[Tensor] = None


class BaseRouter(nn.Module, metaclass=abc.ABCMeta):
    """Scores tokens against experts in fp32; subclasses define ``compute_logits`` and ``route``.

    Args:
        in_channels: token channels D.
        num_experts: routed experts E.
    """
    kind: ClassVar[str] = 'token_choice'

    def __init__(self, in_channels: int, num_experts: int) -> None:
        super().__init__()
        if in_channels < 1 or num_experts < 1:
            raise ValueError(f'in_channels ({in_channels}) and num_experts ({num_experts}) '
                             'must be positive')
        self.in_channels = in_channels
        self.num_experts = num_experts

    @property
    def slots_per_expert(self) -> int:
        """Logit columns per expert (S); 1 for all routers but soft MoE."""
        return 1

    @property
    def top_k(self) -> int:
        """Experts per token recorded in the routing record."""
        return 1

    @abc.abstractmethod
    def compute_logits(self, x_TD: Tensor) -> Tensor:
        """(T, D) float32 -> (T, E * slots_per_expert) float32 logits."""

    def forward(self, x_TD: Tensor) -> Tensor:
        """(T, D) tokens in any dtype -> (T, E * S) float32 logits, autocast disabled.

        Routers whose parameters are float64 (e.g. in gradient checks) compute in float64.
        """
        param = next(self.parameters(), None)
        dtype = torch.float64 if param is not None and param.dtype == torch.float64 \
            else torch.float32
        with torch.autocast(device_type=x_TD.device.type, enabled=False):
            return self.compute_logits(x_TD.to(dtype))

    @abc.abstractmethod
    def route(self, logits_TL: Tensor, sample_ids_T: Optional[Tensor] = None,
              valid_T: Optional[Tensor] = None,
              selection_bias_E: Optional[Tensor] = None) -> Routing:
        """Turn float32 logits into a :class:`Routing` (see subclasses)."""


class TokenChoiceRouter(BaseRouter):
    """Base of token-choice routers: softmax over experts, then each token takes its top-k.

    Args:
        in_channels: token channels D.
        num_experts: routed experts E.
        top_k: experts per token K (1 <= K <= E).
        normalize_gates: renormalise the K chosen probabilities to sum to 1 (Mixtral). Off by
            default: with K=1 normalised gates are constant 1 and the router gets no gradient
            through the output (Switch keeps the raw probability).
    """

    def __init__(self, in_channels: int, num_experts: int, top_k: int = 2,
                 normalize_gates: bool = False) -> None:
        super().__init__(in_channels, num_experts)
        if not 1 <= top_k <= num_experts:
            raise ValueError(f'top_k={top_k} must be in [1, num_experts={num_experts}]')
        self._top_k = top_k
        self.normalize_gates = normalize_gates

    @property
    def top_k(self) -> int:
        return self._top_k

    def route(self, logits_TL: Tensor, sample_ids_T: Optional[Tensor] = None,
              valid_T: Optional[Tensor] = None,
              selection_bias_E: Optional[Tensor] = None) -> Routing:
        """Top-k over ``softmax(logits)``.

        ``selection_bias_E`` (aux-loss-free balancing, DeepSeek-V3) shifts only which experts
        are selected, never the gate values. ``valid_T`` and ``sample_ids_T`` are not needed by
        token choice (invalid tokens are dropped by the dispatcher).
        """
        if selection_bias_E is None:
            probs_TE, logsumexp_T, gates_TK, experts_TK = softmax_top_k_rows(logits_TL,
                                                                             self.top_k)
            scores_TE = probs_TE
        else:
            probs_TE, logsumexp_T = softmax_logsumexp_rows(logits_TL)
            scores_TE = probs_TE + selection_bias_E.to(probs_TE.dtype)
            experts_TK = topk_rows(scores_TE.detach(), self.top_k)[1]
            gates_TK = probs_TE.gather(1, experts_TK)
        if self.normalize_gates:
            gates_TK = gates_TK / gates_TK.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        return Routing(kind='token_choice', logits=logits_TL, probs=probs_TE,
                       experts=experts_TK, gates=gates_TK, selection_scores=scores_TE,
                       logsumexp=logsumexp_T)


@MODELS.register_module()
class TopKRouter(TokenChoiceRouter):
    """Token-choice top-k softmax router with a linear score (Shazeer 2017, GShard, Switch).

    ``logits = x W`` with W (D, E), no bias, initialised small so routing starts near uniform.
    """

    def __init__(self, in_channels: int, num_experts: int, top_k: int = 2,
                 normalize_gates: bool = False, init_std: float = 0.02) -> None:
        super().__init__(in_channels, num_experts, top_k, normalize_gates)
        self.gate = nn.Linear(in_channels, num_experts, bias=False)
        nn.init.normal_(self.gate.weight, std=init_std)

    def compute_logits(self, x_TD: Tensor) -> Tensor:
        return self.gate(x_TD)


@MODELS.register_module()
class NoisyTopKRouter(TopKRouter):
    """Noisy top-k gating (Shazeer et al. 2017): in training, logits get Gaussian noise with a
    learned, token-dependent scale ``softplus(x W_noise)``; evaluation is noise-free.

    Args:
        noise_std_init: initial noise scale (the W_noise weights start at zero and its bias at
            ``softplus^-1(noise_std_init)``).
    """

    def __init__(self, in_channels: int, num_experts: int, top_k: int = 2,
                 normalize_gates: bool = False, init_std: float = 0.02,
                 noise_std_init: float = 1.0) -> None:
        super().__init__(in_channels, num_experts, top_k, normalize_gates, init_std)
        if noise_std_init <= 0:
            raise ValueError(f'noise_std_init must be > 0, got {noise_std_init}')
        self.noise = nn.Linear(in_channels, num_experts)
        nn.init.zeros_(self.noise.weight)
        nn.init.constant_(self.noise.bias, math.log(math.expm1(noise_std_init)))

    def compute_logits(self, x_TD: Tensor) -> Tensor:
        logits_TE = self.gate(x_TD)
        if self.training:
            noise_scale_TE = F.softplus(self.noise(x_TD))
            logits_TE = logits_TE + torch.randn_like(logits_TE) * noise_scale_TE
        return logits_TE


def per_modality_logits(routers: Sequence[BaseRouter], x_TD: Tensor,
                        modality_ids_T: Tensor) -> Tensor:
    """(T, E*S) logits, each token scored by its modality's router (``routers[m]`` scores the
    tokens with ``modality_ids_T == m``)."""
    if len(routers) == 1:
        return routers[0](x_TD)
    num_tokens = x_TD.shape[0]
    if num_tokens < 2 or bool((modality_ids_T[1:] >= modality_ids_T[:-1]).all()):
        # Modality-major tokens (forward_maps, placements): contiguous blocks, so split /
        # cat instead of a gather and a scatter per router (whose backward would be one
        # zero-filled (T, D) gradient and a scatter-add per router).
        counts = torch.bincount(modality_ids_T, minlength=len(routers)).tolist()
        return torch.cat([router(part) for router, part in
                          zip(routers, torch.split(x_TD, counts))])
    parts = []
    for m, router in enumerate(routers):
        ids = torch.nonzero(modality_ids_T == m).squeeze(1)
        parts.append((ids, router(x_TD.index_select(0, ids))))
    logits_TL = parts[0][1].new_zeros(x_TD.shape[0], parts[0][1].shape[1])
    for ids, logits in parts:
        logits_TL = logits_TL.index_put((ids,), logits)
    return logits_TL
