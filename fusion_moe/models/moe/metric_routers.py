"""Token-choice routers that score tokens by a distance to learned expert embeddings.

- :class:`LaplaceRouter` (FuseMoE, Han et al. 2024): logits are the negative Euclidean
  distance between the token and each expert embedding, so the gate is the Laplace kernel
  ``softmax(-||m_e - x||_2)`` and experts own regions of feature space instead of half-spaces.
  ``distance='squared'`` gives the Gaussian-kernel variant ``-||m_e - x||_2^2``.
- :class:`CosineRouter` (X-MoE, "On the Representation Collapse of Sparse Mixture of Experts",
  Chi et al. 2022): tokens are projected to a low-dimensional hypersphere and scored by cosine
  similarity to expert embeddings divided by a learnable temperature, clamped to a range.

Both reuse the softmax + top-k selection of :class:`TokenChoiceRouter`. Shapes: see router.py.
"""
import math
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from .router import TokenChoiceRouter


@MODELS.register_module()
class LaplaceRouter(TokenChoiceRouter):
    """``logits_e = -scale * ||x - m_e||_2`` (FuseMoE's Laplace gating), expert embeddings ``m``
    of shape (E, D); with ``distance='squared'``, ``-scale * ||x - m_e||_2^2`` (a Gaussian kernel).

    Args:
        distance: ``'l2'`` (default, the paper's Laplace kernel) or ``'squared'``.
        scale: multiplies the distance. Default for ``'l2'``: 1 (the paper's gate, no scale);
            for ``'squared'``: ``1 / sqrt(D)``, so logits stay O(1) for unit-variance channels.
        init_std: std of the initial expert embeddings.
    """
    DISTANCES = ('l2', 'squared')
    # sqrt has an infinite derivative at 0; a token sitting exactly on an expert embedding
    # gets the gradient of sqrt(eps) instead (distance error <= 1e-6).
    _SQ_DIST_EPS = 1e-12

    def __init__(self, in_channels: int, num_experts: int, top_k: int = 2,
                 normalize_gates: bool = False, distance: Literal['l2', 'squared'] = 'l2',
                 scale: Optional[float] = None, init_std: float = 0.02) -> None:
        super().__init__(in_channels, num_experts, top_k, normalize_gates)
        if distance not in self.DISTANCES:
            raise ValueError(f'LaplaceRouter distance must be one of {self.DISTANCES}, '
                             f'got {distance!r}')
        self.distance = distance
        self.expert_embeddings = nn.Parameter(torch.randn(num_experts, in_channels) * init_std)
        default_scale = 1.0 if distance == 'l2' else 1.0 / math.sqrt(in_channels)
        self.scale = float(scale) if scale is not None else default_scale
        if self.scale <= 0:
            raise ValueError(f'scale must be > 0, got {self.scale}')

    def compute_logits(self, x_TD: Tensor) -> Tensor:
        # ||x - m||^2 = ||x||^2 - 2 x.m + ||m||^2, as one matmul (no (T, E, D) difference tensor).
        m_ED = self.expert_embeddings
        sq_dist_TE = ((x_TD * x_TD).sum(-1, keepdim=True) - 2.0 * x_TD @ m_ED.t()
                      + (m_ED * m_ED).sum(-1)[None, :])
        if self.distance == 'squared':
            return -self.scale * sq_dist_TE.clamp_min(0.0)
        return -self.scale * sq_dist_TE.clamp_min(self._SQ_DIST_EPS).sqrt()


@MODELS.register_module()
class CosineRouter(TokenChoiceRouter):
    """``logits_e = cos(P x, m_e) / tau`` with P (D -> d_r), m (E, d_r) and a learnable tau.

    Args:
        routing_dim: d_r, the dimension of the routing hypersphere (X-MoE uses 8-16).
        init_temperature: initial tau.
        min_temperature, max_temperature: tau is clamped into this range in every forward, so a
            collapsing temperature cannot blow the logits up.
    """

    def __init__(self, in_channels: int, num_experts: int, top_k: int = 2,
                 normalize_gates: bool = False, routing_dim: int = 8,
                 init_temperature: float = 0.3, min_temperature: float = 0.01,
                 max_temperature: float = 1.0) -> None:
        super().__init__(in_channels, num_experts, top_k, normalize_gates)
        if not 0 < min_temperature <= init_temperature <= max_temperature:
            raise ValueError('need 0 < min_temperature <= init_temperature <= max_temperature, '
                             f'got {min_temperature}, {init_temperature}, {max_temperature}')
        self.projection = nn.Linear(in_channels, routing_dim, bias=False)
        self.expert_embeddings = nn.Parameter(torch.randn(num_experts, routing_dim))
        self.log_temperature = nn.Parameter(torch.tensor(math.log(init_temperature)))
        self.min_temperature = min_temperature
        self.max_temperature = max_temperature

    @property
    def temperature(self) -> Tensor:
        """The clamped temperature tau (scalar tensor, gradient flows inside the range)."""
        return self.log_temperature.exp().clamp(self.min_temperature, self.max_temperature)

    def compute_logits(self, x_TD: Tensor) -> Tensor:
        z_TR = F.normalize(self.projection(x_TD), dim=-1)
        m_ER = F.normalize(self.expert_embeddings, dim=-1)
        return (z_TR @ m_ER.t()) / self.temperature
