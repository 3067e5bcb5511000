"""Additive context bias for router logits: ``logits = router(x) + bias(context)``.

The bias is a sum over context factors (lighting, weather; vocabulary from
``fusion_moe.structures.context``) of learned per-modality vectors over experts:
``bias[t] = sum_f table_f[modality(t), context_f(sample(t))]`` with ``table_f`` of shape
(M, V_f, E), zero-initialised so a new bias starts as a no-op. It is added, never multiplied.

Modes:
- ``'off'``: no bias.
- ``'oracle'``: context ids come with the data (scene metadata or the degradation injector).
- ``'estimated'``: a small classifier on the pooled tokens of each sample predicts every factor;
  the bias is the expectation of the table under its predicted distribution, so deployment needs
  no metadata. When labels are given (training) the classifier is trained with cross-entropy,
  returned as ``loss_context`` for the layer's loss dict.
"""
from typing import Dict, Literal, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion_moe.structures.context import FACTORS

CONTEXT_BIAS_MODES = ('off', 'oracle', 'estimated')


def segment_mean(x_TD: Tensor, segment_ids_T: Tensor, num_segments: int,
                 valid_T: Optional[Tensor] = None) -> Tensor:
    """Mean of the (valid) rows of each segment: (T, D) -> (B, D); empty segments give 0."""
    weight_T = torch.ones_like(segment_ids_T, dtype=x_TD.dtype)
    if valid_T is not None:
        weight_T = weight_T * valid_T.to(x_TD.dtype)
    sums_BD = x_TD.new_zeros(num_segments, x_TD.shape[1]).index_add(
        0, segment_ids_T, x_TD * weight_T[:, None])
    counts_B = x_TD.new_zeros(num_segments).index_add(0, segment_ids_T, weight_T)
    return sums_BD / counts_B.clamp_min(1.0)[:, None]


class ContextEstimator(nn.Module):
    """Per-sample context classifier: pooled tokens (B, D) -> logits per factor (B, V_f).

    Args:
        in_channels: D.
        hidden_channels: width of the one hidden layer.
        detach_input: stop the estimation loss from shaping the trunk's features.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64,
                 detach_input: bool = True) -> None:
        super().__init__()
        self.detach_input = detach_input
        self.trunk = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.ReLU())
        self.heads = nn.ModuleDict(
            {factor: nn.Linear(hidden_channels, len(vocab)) for factor, vocab in FACTORS.items()})

    def forward(self, x_TD: Tensor, sample_ids_T: Tensor, num_samples: int,
                valid_T: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Returns float32 logits ``{factor: (B, V_f)}``."""
        x_TD = x_TD.detach() if self.detach_input else x_TD
        with torch.autocast(device_type=x_TD.device.type, enabled=False):
            pooled_BD = segment_mean(x_TD.float(), sample_ids_T, num_samples, valid_T)
            h_BH = self.trunk(pooled_BD)
            return {factor: head(h_BH) for factor, head in self.heads.items()}


class ContextBias(nn.Module):
    """Learned additive router bias from the driving context.

    Args:
        num_modalities: M (1 when the layer has a single router).
        num_experts: E.
        mode: one of ``CONTEXT_BIAS_MODES``.
        in_channels: D, needed by the estimator in ``'estimated'`` mode.
        estimator_hidden_channels: hidden width of the estimator.
    """

    def __init__(self, num_modalities: int, num_experts: int,
                 mode: Literal['off', 'oracle', 'estimated'] = 'oracle',
                 in_channels: Optional[int] = None,
                 estimator_hidden_channels: int = 64) -> None:
        super().__init__()
        if mode not in CONTEXT_BIAS_MODES:
            raise ValueError(f'context bias mode must be one of {CONTEXT_BIAS_MODES}, '
                             f'got {mode!r}')
        self.mode = mode
        self.num_modalities = num_modalities
        self.num_experts = num_experts
        self.tables = nn.ParameterDict({
            factor: nn.Parameter(torch.zeros(num_modalities, len(vocab), num_experts))
            for factor, vocab in FACTORS.items()})
        self.estimator = None
        if mode == 'estimated':
            if in_channels is None:
                raise ValueError("context bias mode 'estimated' needs in_channels")
            self.estimator = ContextEstimator(in_channels, estimator_hidden_channels)

    def forward(self, x_TD: Tensor, modality_ids_T: Tensor, sample_ids_T: Tensor,
                num_samples: int, context_ids: Optional[Mapping[str, Tensor]] = None,
                valid_T: Optional[Tensor] = None) -> Tuple[Optional[Tensor], Dict[str, Tensor],
                                                           Dict[str, Tensor]]:
        """Compute the (T, E) float32 bias.

        Args:
            x_TD: tokens (used by the estimator only).
            modality_ids_T: (T,) int64 in [0, M).
            sample_ids_T: (T,) int64 in [0, B).
            num_samples: B.
            context_ids: ``{factor: (B,) int64}`` ids from ``context_to_ids``; required in
                oracle mode, optional labels for the estimator otherwise.
        Returns:
            ``(bias_TE or None, losses, context_ids_used)``; ``losses`` holds ``loss_context``
            when the estimator was trained on labels, ``context_ids_used`` the per-sample ids the
            bias used (argmax of the estimate in estimated mode) for the routing statistics.
        """
        if self.mode == 'off':
            return None, {}, dict(context_ids or {})
        if context_ids is not None:
            self._check_ids(context_ids, num_samples)
        if self.mode == 'oracle':
            if context_ids is None:
                raise ValueError("context bias mode 'oracle' needs context_ids "
                                 f'{{factor: (B,) ids}} for factors {tuple(FACTORS)}')
            bias_BME = sum(self.tables[f][:, context_ids[f]].transpose(0, 1) for f in FACTORS)
            return bias_BME[sample_ids_T, modality_ids_T], {}, dict(context_ids)
        logits = self.estimator(x_TD, sample_ids_T, num_samples, valid_T)
        losses = {}
        if context_ids is not None:
            losses['loss_context'] = sum(
                F.cross_entropy(logits[f], context_ids[f]) for f in FACTORS) / len(FACTORS)
        bias_BME = sum(torch.einsum('bv,mve->bme', logits[f].softmax(-1), self.tables[f])
                       for f in FACTORS)
        estimated_ids = {f: logits[f].argmax(-1) for f in FACTORS}
        return bias_BME[sample_ids_T, modality_ids_T], losses, estimated_ids

    @staticmethod
    def _check_ids(context_ids: Mapping[str, Tensor], num_samples: int) -> None:
        for factor, vocab in FACTORS.items():
            if factor not in context_ids:
                raise ValueError(f'context_ids is missing factor {factor!r} '
                                 f'(got keys {sorted(context_ids)})')
            ids = context_ids[factor]
            if ids.shape != (num_samples,):
                raise ValueError(f'context_ids[{factor!r}] must have shape ({num_samples},), '
                                 f'got {tuple(ids.shape)}')
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(vocab)):
                raise ValueError(f'context_ids[{factor!r}] outside [0, {len(vocab)}): {ids}')
        unknown = set(context_ids) - set(FACTORS)
        if unknown:
            raise ValueError(f'context_ids has unknown factors {sorted(unknown)}; '
                             f'expected {tuple(FACTORS)}')
