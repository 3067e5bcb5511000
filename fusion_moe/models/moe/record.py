"""The routing record one :class:`~.layer.MoELayer` forward returns (DESIGN.md, "MoE layer").

Shapes: see router.py.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

from torch import Tensor

from .stats import summarize_statistics


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
