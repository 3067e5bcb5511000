"""The routing record one :class:`~.layer.MoELayer` forward returns (DESIGN.md, "MoE layer"),
and how a routed pass builds it: the weighted auxiliary losses and the statistics computed on
first read.

Shapes: see router.py.
"""
import functools
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional

import torch
from torch import Tensor

from .expert_paths import routing_gate_gap
from .losses import UsageRegularizer, load_balance_loss, router_z_loss, routing_entropy
from .router import Routing
from .stats import routing_statistics_sums, summarize_statistics


@dataclass
class MoERecord:
    """The routing record of one forward pass (DESIGN.md, "MoE layer").

    Attributes:
        experts: (T, K) int64 chosen experts (see :class:`Routing` for expert choice / soft);
            None in the dense stage.
        gates: (T, K) float32 combine weights.
        probs: (T, E) float32 router probabilities.
        logits: (T, E*S) float32 logits after context bias and group masking.
        aux_losses: weighted auxiliary losses, keys ``loss_<prefix>_<name>`` (only the
            non-zero-weighted ones), to be added to the detector's loss dict.
        fallback_mask: (T,) bool tokens sent to the generalist (None without fallback).
        context_ids: per-sample context ids the bias used (estimated ones in estimated mode).
        stats_fn: returns the additive statistics sums (see stats.py) of this pass, computed
            from detached tensors on its first call and cached (shared with the layer's
            ``last_stats``).
    """
    experts: Optional[Tensor]
    gates: Optional[Tensor]
    probs: Optional[Tensor]
    logits: Optional[Tensor]
    aux_losses: Dict[str, Tensor] = field(default_factory=dict)
    fallback_mask: Optional[Tensor] = None
    context_ids: Dict[str, Tensor] = field(default_factory=dict)
    stats_fn: Optional[Callable[[], Dict[str, Tensor]]] = field(default=None, repr=False)

    @property
    def stats(self) -> Dict[str, Tensor]:
        """Additive statistics sums of this pass (stats.py); {} in the dense stage.

        Computed on first access, not in every forward: training steps that nobody inspects
        do not pay for them (entropy, gate gap, bincounts, host copies).
        """
        return self.stats_fn() if self.stats_fn is not None else {}

    def summary(self) -> dict:
        """JSON-ready statistics (per-expert load, entropy, gate gap, fallback, dropped)."""
        stats = self.stats
        return summarize_statistics(stats) if stats else {}


def weighted_aux_losses(raw: Dict[str, Tensor], weights: Mapping[str, float], prefix: str,
                        routing: Routing, logits_TL: Tensor, routed_T: Optional[Tensor],
                        load_E: Tensor, num_dropped: int, usage_regularizer: UsageRegularizer,
                        training: bool) -> Dict[str, Tensor]:
    """The ``aux_losses`` of a record: ``{'loss_<prefix>_<name>': weight * loss}``.

    Args:
        raw: losses computed before routing (the context bias's ``context``), unweighted.
        weights: ``{name: weight}`` for every name in ``AUX_LOSS_NAMES``; a loss of weight 0 is
            neither computed nor returned.
        routing: the plan of the pass; logits_TL: (T, E*S) fp32 logits it was taken from.
        routed_T: (T,) bool tokens sent to routed experts, None = all.
        load_E: (E,) assignments each expert processed; num_dropped: capacity drops.
        usage_regularizer: the layer's usage EMA (updated when the ``usage`` loss is computed).
        training: the balance loss is all-reduced over processes in training only.
    """
    raw = dict(raw)
    loss_fns = {
        # Token choice without drops: the plan's per-expert counts are the assignments.
        'balance': lambda: load_balance_loss(
            routing.probs, routing.experts, routed_T,
            load_E if routing.kind == 'token_choice' and num_dropped == 0 else None,
            reduce_over_processes=training),
        'z': lambda: (routing.logsumexp.square().mean()
                      if routed_T is None and routing.logsumexp is not None
                      and routing.logits is logits_TL and logits_TL.shape[0] > 0
                      and logits_TL.dtype == torch.float32
                      else router_z_loss(logits_TL, routed_T)),
        'entropy': lambda: routing_entropy(routing.probs, routed_T),
        'usage': lambda: usage_regularizer(routing.probs, routed_T),
    }
    for name, fn in loss_fns.items():
        if weights[name] > 0:
            raw[name] = fn()
    return {f'loss_{prefix}_{name}': weights[name] * value
            for name, value in raw.items() if weights[name] > 0}


def build_record(routing: Routing, logits_TL: Tensor, aux_losses: Dict[str, Tensor], *,
                 fallback_T: Optional[Tensor], any_fallback: bool, gap_T: Optional[Tensor],
                 valid_T: Optional[Tensor], routed_T: Optional[Tensor], num_dropped: int,
                 load_E: Tensor, sample_ids_T: Tensor,
                 context_ids: Optional[Mapping[str, Tensor]],
                 context_used: Dict[str, Tensor]) -> MoERecord:
    """The record of one routed pass, its statistics computed when first read.

    Statistics are computed from detached tensors only (the closure must not keep the autograd
    graph alive). Per-context utilisation is reported against the true context when it is known
    (``context_ids``), else against the estimated one (``context_used``).

    Args:
        fallback_T: (T,) bool tokens sent to the generalist, or None without fallback;
            any_fallback: whether any token was.
        gap_T: (T,) gate gap if the fallback computed it (else computed on read).
        valid_T: (T,) bool existing tokens, None = all; routed_T: as in
            :func:`weighted_aux_losses`; the rest as in ``stats.routing_statistics_sums``.
    """
    probs_TE = routing.probs.detach()
    detached = Routing(kind=routing.kind, logits=logits_TL.detach(), probs=probs_TE,
                       experts=routing.experts, gates=routing.gates.detach(),
                       selection_scores=(probs_TE if routing.selection_scores is routing.probs
                                         else routing.selection_scores.detach()))
    stats_args = (valid_T, routed_T, fallback_T if any_fallback else None, num_dropped, load_E,
                  sample_ids_T, context_ids or context_used)

    @functools.cache  # computed once, shared by the record and the layer
    def stats_fn() -> Dict[str, Tensor]:
        gap = gap_T if gap_T is not None else routing_gate_gap(detached)
        return routing_statistics_sums(detached.probs, detached.experts, gap, *stats_args)

    return MoERecord(experts=routing.experts, gates=routing.gates, probs=routing.probs,
                     logits=logits_TL, aux_losses=aux_losses, fallback_mask=fallback_T,
                     context_ids=context_used, stats_fn=stats_fn)
