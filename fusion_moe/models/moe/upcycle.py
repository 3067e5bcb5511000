"""Sparse upcycling (Komatsuzaki et al. 2023; Mixpert's recipe): clone a trained dense FFN into
every routed expert, plus a little noise so the experts can diverge.

For token-wise experts the copy is exact. For 'local' (3x3 neighbourhood, 9D inputs) and
'global' ([x, block mean, sample mean], 3D inputs) experts the dense first layer goes to the rows
that read the token itself (``KIND_CENTRE_OFFSET``) and the other rows start at zero, so every
freshly upcycled expert computes the dense FFN (up to the noise). With normalised top-k gates
(gates summing to 1) the upcycled layer then equals the dense one at the switch.
"""
from typing import Optional

import torch

from .experts import DenseFFN, GroupedFFNExperts
from .spatial_features import KIND_CENTRE_OFFSET


@torch.no_grad()
def upcycle_experts(dense: DenseFFN, experts: GroupedFFNExperts, kind: str = 'ffn',
                    noise_std: float = 0.01, generator: Optional[torch.Generator] = None) -> None:
    """Copy ``dense`` into each expert of ``experts`` in place.

    Args:
        dense: the trained FFN, ``fc1`` (F, D) and ``fc2`` (D_out, F) in ``nn.Linear`` layout.
        experts: grouped experts with the same F and D_out; D_in = multiple of D by ``kind``.
        kind: expert kind ('ffn', 'local', 'global').
        noise_std: Gaussian noise relative to each copied tensor's std (0 = exact copies).
        generator: seeds the noise.
    """
    d_in = dense.fc1.in_features
    hidden = dense.fc1.out_features
    if hidden != experts.hidden_channels or dense.fc2.out_features != experts.out_channels:
        raise ValueError(f'dense FFN ({d_in}->{hidden}->{dense.fc2.out_features}) does not '
                         f'match experts ({experts.in_channels}->{experts.hidden_channels}->'
                         f'{experts.out_channels})')
    offset = KIND_CENTRE_OFFSET[kind] * d_in
    if offset + d_in > experts.in_channels:
        raise ValueError(f'{kind!r} experts with {experts.in_channels} inputs cannot hold a '
                         f'{d_in}-input dense FFN at row {offset}')

    def noisy(t: torch.Tensor) -> torch.Tensor:
        if noise_std == 0:
            return t.clone()
        scale = noise_std * float(t.std()) if t.numel() > 1 else noise_std
        return t + scale * torch.randn(t.shape, generator=generator, dtype=t.dtype)

    w1_DF = dense.fc1.weight.t()
    for e in range(experts.num_experts):
        experts.w1_EDF[e].zero_()
        experts.w1_EDF[e, offset:offset + d_in].copy_(noisy(w1_DF))
        experts.b1_EF[e].copy_(noisy(dense.fc1.bias))
        experts.w2_EFD[e].copy_(noisy(dense.fc2.weight.t()))
        experts.b2_ED[e].copy_(noisy(dense.fc2.bias))


def upcycle_layer(layer, noise_std: float = 0.01, seed: int = 0) -> None:
    """Upcycle every expert kind of an ``MoELayer`` from its generalist and switch it to the
    'moe' stage. The generalist is kept unchanged as the fallback expert."""
    if layer.generalist is None:
        raise ValueError('upcycling needs the layer\'s generalist (generalist_hidden_channels)')
    generator = torch.Generator().manual_seed(seed)
    for kind, experts, _ in layer.expert_modules():
        upcycle_experts(layer.generalist, experts, kind, noise_std, generator)
    layer.set_stage('moe')
